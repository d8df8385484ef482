"""The models edgesplit knows by name: torchvision's classification models, built with random
weights (``weights=None``, seeded), never downloaded."""

from __future__ import annotations

import difflib
import warnings

import torch
import torchvision
from torch import nn

from edgesplit.errors import InvalidParameterError, UnknownModelError

DEFAULT_INPUT_SIZE = 224
# Below this, some torchvision classifiers pool a feature map down to nothing.
MIN_INPUT_SIZE = 32
_MIN_SIZE_BY_MODEL = {"inception_v3": 75}


def list_models() -> list[str]:
    """Names of torchvision's classification models, sorted."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


def check_model_name(name: str) -> None:
    """Raise UnknownModelError (with close matches) unless ``name`` is a known model."""
    known = list_models()
    if name not in known:
        raise UnknownModelError(name, difflib.get_close_matches(name, known, n=3))


def build_model(name: str, seed: int = 0) -> nn.Module:
    """A torchvision classification model with seeded random weights, in eval mode."""
    check_model_name(name)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        torch.manual_seed(seed)
        # GoogLeNet and Inception v3 warn that their default init will change; it is irrelevant
        # for random weights.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        model = torchvision.models.get_model(name, weights=None)
    return model.eval()


def example_input(name: str, input_size: int = DEFAULT_INPUT_SIZE, seed: int = 0) -> torch.Tensor:
    """A seeded random image batch of one, shaped for ``name`` (1 x 3 x size x size)."""
    minimum = _MIN_SIZE_BY_MODEL.get(name, MIN_INPUT_SIZE)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < minimum:
        raise InvalidParameterError(
            "input_size", input_size, f"an integer number of pixels >= {minimum} for {name}"
        )
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, 3, input_size, input_size, generator=generator)
