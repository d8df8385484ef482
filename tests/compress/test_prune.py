"""Pruning: structured pruning really shrinks the model and what crosses its cuts; unstructured
pruning zeroes exactly the smallest weights; bad input is refused in one line."""

import copy

import pytest
import torch
from torch import nn

from edgesplit.compress.prune import (
    Variant,
    check_pf,
    count_parameters,
    prune_structured,
    prune_unstructured,
    split_spec,
)
from edgesplit.errors import CompressionError, InvalidParameterError
from edgesplit.graph.zoo import build_model, example_input, load_traced


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]


@pytest.mark.parametrize(
    "name",
    ["mobilenet_v2", "resnet18", pytest.param("densenet121", marks=pytest.mark.slow)],  # 9 s
)
def test_structured_shrinks_params_macs_and_crossings(name):
    _, _, full = load_traced(name, "block")
    pruned_model, x, pruned = load_traced(f"{name}@structured-0.5", "block")
    assert pruned.model_name == f"{name}@structured-0.5"
    assert [n.name for n in pruned.nodes] == [n.name for n in full.nodes]
    full_macs = sum(n.macs for n in full.nodes)
    pruned_macs = sum(n.macs for n in pruned.nodes)
    assert pruned_macs < 0.5 * full_macs
    assert pruned.param_bytes < 0.5 * full.param_bytes
    # the input crosses unchanged; every later cut sends no more, and some send less
    full_bits, pruned_bits = full.cut_table().transfer_bits, pruned.cut_table().transfer_bits
    assert full_bits[0] == pruned_bits[0]
    assert (pruned_bits <= full_bits).all() and (pruned_bits < full_bits).sum() > len(
        full_bits
    ) // 2
    with torch.no_grad():
        assert pruned_model(x).shape == (1, 1000)


def test_structured_keeps_the_classifier_and_is_deterministic():
    x = example_input("resnet18")
    first = prune_structured(build_model("resnet18"), x, 0.3)
    second = prune_structured(build_model("resnet18"), x, 0.3)
    assert first.fc.out_features == 1000
    with torch.no_grad():
        assert torch.equal(first(x), second(x))


def test_pf_zero_changes_nothing():
    x = example_input("mobilenet_v2")
    model = build_model("mobilenet_v2")
    reference = copy.deepcopy(model)
    prune_structured(model, x, 0.0)
    prune_unstructured(model, 0.0)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))


def test_unstructured_global_zeroes_the_smallest_weights():
    model = build_model("resnet18")
    before = torch.cat([w.detach().abs().flatten() for w in _weights(model)])
    prune_unstructured(model, 0.6, "global")
    after = torch.cat([w.detach().abs().flatten() for w in _weights(model)])
    removed = after == 0
    assert int(removed.sum()) == round(0.6 * before.numel())  # torch rounds amount x count
    assert before[removed].max() <= before[~removed].min()  # magnitude order, independently


@pytest.mark.slow  # prunes every layer of a model: seconds
def test_unstructured_per_layer_prunes_every_layer_alike():
    model = build_model("alexnet")
    prune_unstructured(model, 0.5, "layer")
    for weight in _weights(model):
        assert int((weight == 0).sum()) == round(0.5 * weight.numel())
    total, nonzero = count_parameters(model)
    assert nonzero < 0.55 * total


@pytest.mark.parametrize("pf", [1.0, -0.1, 1.5, True, "0.5"])
def test_bad_pf_is_refused(pf):
    with pytest.raises(InvalidParameterError, match="pf"):
        check_pf(pf)


def test_variant_specs():
    assert split_spec("resnet34@structured-0.5") == ("resnet34", Variant("structured", 0.5))
    assert split_spec("resnet34") == ("resnet34", None)
    assert str(Variant("unstructured", 0.7)) == "unstructured-0.7"
    for bad in ["resnet34@structured", "resnet34@magic-0.5", "resnet34@structured-1.0"]:
        with pytest.raises(InvalidParameterError):
            split_spec(bad)


class _FixedChannels(nn.Module):
    """A forward that hard-codes a channel count: structured pruning must say where it breaks."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3)
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        y = self.conv(x).mean(dim=(2, 3))
        return self.head(y.view(-1, 16))


class _OnlyClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(12, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_unprunable_models_name_the_layer():
    with pytest.raises(CompressionError, match=r"right after layer 'conv'.*unstructured"):
        prune_structured(_FixedChannels(), torch.randn(1, 3, 8, 8), 0.5)
    with pytest.raises(CompressionError, match="no convolution or linear layer"):
        prune_structured(_OnlyClassifier(), torch.randn(1, 12), 0.5)


def test_variants_flow_into_cost_tables():
    """A variant's table is built from its own graph and its base's profile scaled by MACs."""
    from edgesplit.costs.tables import TableSpec, build_table
    from edgesplit.profile.catalogue import latency_model

    def spec(model):
        return TableSpec(model, "epyc2", 1, "epyc2", "block", "nodes", 224)

    full, pruned = build_table(spec("resnet34")), build_table(spec("resnet34@structured-0.5"))
    assert pruned.n_cuts == full.n_cuts
    assert pruned.local_s < 0.5 * full.local_s
    assert (pruned.transfer_bits <= full.transfer_bits).all()
    assert (pruned.device_macs <= full.device_macs).all()
    # node by node: the base's prediction times the ratio of MACs, computed here independently
    _, _, base_graph = load_traced("resnet34", "block")
    _, _, graph = load_traced("resnet34@structured-0.5", "block")
    base = latency_model("epyc2", "resnet34", threads=1).node_latency_s(base_graph)
    scaled = latency_model("epyc2", "resnet34@structured-0.5", threads=1).node_latency_s(graph)
    for i, (a, b) in enumerate(zip(base_graph.nodes, graph.nodes, strict=True)):
        if a.macs:
            assert scaled[i] == pytest.approx(base[i] * b.macs / a.macs, rel=1e-12)


@pytest.mark.slow  # builds a pruned variant's tables: seconds
def test_a_scenario_may_run_a_pruned_model(tmp_path, monkeypatch):
    """A device type may name a variant: the scenario validates against its base model's
    profiles, and its slot step runs on the variant's own table (faster than the base's)."""
    from importlib import resources

    import numpy as np

    from edgesplit.costs.tables import load_table
    from edgesplit.sim.scenario import load_scenario, table_spec

    monkeypatch.setenv("EDGESPLIT_CACHE", str(tmp_path / "cache"))
    text = resources.files("edgesplit.data").joinpath("scenarios", "shi2025-5g.yaml").read_text()
    path = tmp_path / "pruned.yaml"
    path.write_text(text.replace("model: resnet34,", "model: resnet34@structured-0.5,"))
    pruned = load_scenario(path)
    base = load_scenario("shi2025-5g")
    (device,) = [d for d in pruned.devices if "@" in d.model]
    (original,) = [d for d in base.devices if d.model == "resnet34"]
    pruned_table = load_table(table_spec(pruned, device, pruned.servers[0]))
    base_table = load_table(table_spec(base, original, base.servers[0]))
    assert pruned_table.local_s < 0.5 * base_table.local_s
    assert np.all(pruned_table.transfer_bits <= base_table.transfer_bits)
