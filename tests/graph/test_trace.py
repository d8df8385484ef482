"""Tracing and per-node measurement, checked against independent computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from edgesplit.errors import InvalidInputError, UntraceableModelError
from edgesplit.graph import ModelGraph
from edgesplit.graph.trace import trace


def test_conv_and_linear_macs_match_the_textbook_formula(zoo):
    """MACs come from torch.utils.flop_counter; check them against the closed form."""
    _, _, graph = zoo("resnet34", "fx")
    checked = 0
    for node in graph.nodes:
        (fx_name,) = node.fx_nodes
        fx_node = next(n for n in graph.module.graph.nodes if n.name == fx_name)
        if fx_node.op != "call_module":
            continue
        module = graph.module.get_submodule(fx_node.target)
        out = node.output_shape
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            expected = (
                out[0] * out[1] * out[2] * out[3] * (module.in_channels // module.groups) * kh * kw
            )
        elif isinstance(module, nn.Linear):
            expected = math.prod(out) * module.in_features
        else:
            assert node.macs == 0, f"{node.name} ({node.kind}) should have no MACs"
            continue
        assert node.macs == expected, node.name
        checked += 1
    assert checked == 37  # resnet34: 36 convolutions and the classifier


def test_shapes_and_sizes_match_shape_prop(zoo):
    """torch.fx's ShapeProp is an independent shape inference: compare every value."""
    _, x, graph = zoo("googlenet", "fx")
    ShapeProp(graph.module).propagate(x)
    by_name = {n.name: n for n in graph.module.graph.nodes}
    for value in graph.values:
        meta = by_name[value.name].meta["tensor_meta"]
        assert value.shape == tuple(meta.shape)
        assert value.dtype == str(meta.dtype).removeprefix("torch.")
        element_bits = torch.empty((), dtype=meta.dtype).element_size() * 8
        assert value.size_bits == math.prod(meta.shape) * element_bits


def test_parameter_bytes_count_only_what_inference_reads(zoo):
    """googlenet's auxiliary classifiers run only in training: the graph must not count them."""
    model, _, graph = zoo("googlenet")

    def nbytes(module: nn.Module) -> int:
        tensors = [*module.parameters(), *module.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    assert graph.param_bytes == nbytes(model) - nbytes(model.aux1) - nbytes(model.aux2)
    model, _, graph = zoo("resnet50")
    assert graph.param_bytes == nbytes(model)
    assert sum(n.param_bytes for n in graph.nodes) == nbytes(model)  # no sharing in resnet50


def test_totals_and_output(zoo):
    model, x, graph = zoo("mobilenet_v2")
    assert graph.total_macs == sum(n.macs for n in graph.nodes) > 0
    assert graph.total_flops == 2 * graph.total_macs
    with torch.no_grad():
        expected = model(x)
    last = graph.nodes[-1]
    assert last.output_shape == tuple(expected.shape)
    assert graph.input_shapes == ((1, 3, 64, 64),)


class _InPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = x * 2
        b = F.relu(a, inplace=True)
        c = b.add_(1)
        d = torch.relu_(a)
        return self.relu(c) + d


def test_in_place_ops_are_recognised():
    traced = trace(_InPlace(), torch.randn(2, 3))
    mutated = {name: r.mutates for name, r in traced.records.items() if r.mutates}
    assert mutated == {"relu": "mul", "add_": "relu", "relu_": "mul", "relu_1": "add_"}


class _ShapeBranch(nn.Module):
    """Shape-dependent Python control flow: torch.fx cannot trace it, torch.export can."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 3:
            x = self.conv(x)
        return self.fc(x.mean((2, 3)))


class _ValueBranch(nn.Module):
    """Data-dependent control flow: neither tracer can handle it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return x * 2
        return x


def test_export_is_the_fallback_when_fx_fails():
    model = _ShapeBranch()
    x = torch.randn(1, 3, 8, 8)
    graph = ModelGraph.from_module(model, x)
    assert graph.trace_method == "export"
    assert [n.kind for n in graph.nodes] == ["conv2d", "mean", "linear"]
    assert graph.total_macs == 4 * 6 * 6 * 3 * 9 + 4 * 2


def test_untraceable_model_names_model_and_construct():
    with pytest.raises(UntraceableModelError) as error:
        ModelGraph.from_module(_ValueBranch(), torch.randn(1, 3))
    message = str(error.value)
    assert "_ValueBranch" in message
    assert "control flow" in message
    assert "torch.fx failed" in message and "torch.export failed" in message


def test_not_a_module_is_rejected():
    with pytest.raises(UntraceableModelError, match=r"expected a torch\.nn\.Module, got function"):
        ModelGraph.from_module(lambda x: x, torch.randn(1))


def test_wrong_input_shape_names_the_failing_node(zoo):
    model, _, _ = zoo("resnet34")
    with pytest.raises(InvalidInputError) as error:
        ModelGraph.from_module(model, torch.randn(1, 1, 64, 64))
    message = str(error.value)
    assert "(1, 1, 64, 64)" in message and "'conv1' (Conv2d)" in message


@pytest.mark.parametrize(
    ("example", "match"),
    [
        ((torch.randn(1, 3, 64, 64), torch.randn(1)), "takes 1 input"),
        ("image.png", "tensor or a tuple of tensors, got str"),
        ((), "got nothing"),
    ],
)
def test_bad_example_inputs(zoo, example, match):
    model, _, _ = zoo("resnet34")
    with pytest.raises(InvalidInputError, match=match):
        ModelGraph.from_module(model, example)
