"""The graph layer's limits and sizes, importable without torch (the CLI's help reads them)."""

DEFAULT_CUT_LIMIT = 100_000  # enumerate at most this many cuts unless asked for more
DEFAULT_INPUT_SIZE = 224
# Below this, some torchvision classifiers pool a feature map down to nothing.
MIN_INPUT_SIZE = 32


def known_models() -> list[str]:
    """The zoo's model names as shipped (``data/models.json``: torchvision's classification
    models), read without importing torchvision; ``graph.zoo.list_models`` asks torchvision."""
    import json
    from importlib import resources

    text = resources.files("edgesplit.data").joinpath("models.json").read_text()
    return list(json.loads(text)["models"])
