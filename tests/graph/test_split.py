"""split(): the head and tail of every cut reproduce the unsplit model."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from edgesplit.errors import CutIndexError, ModelMismatchError
from edgesplit.graph import ModelGraph
from edgesplit.graph.split import check_split, split

from ..conftest import TEST_MODELS
from .test_granularity import _ParameterOnlyBranch
from .test_trace import _InPlace, _ShapeBranch

# The exhaustive check (``make test-all``) runs every cut of every test model and a seeded
# sample of each large one; ``make test`` every cut of the small ones and ResNet-50's sample.
SMALL_MODELS = ("alexnet", "vgg16_bn", "resnet34", "mobilenet_v2")
LARGE_MODELS = tuple(name for name in TEST_MODELS if name not in SMALL_MODELS)
SAMPLE_SIZE = 80  # beyond one cut per distinct crossing-shape sequence (always all of them)
GOOGLENET_CHUNKS = 8  # googlenet has 8,836 cuts: spread them over pytest-xdist workers


def _assert_reproduces(model: nn.Module, graph: ModelGraph, inputs: tuple, cuts) -> None:
    with torch.no_grad():
        expected = model(*inputs)
        for cut in cuts:
            head, tail = split(model, graph, cut)
            handed_over = head(*inputs)
            assert isinstance(handed_over, tuple)
            assert len(handed_over) == len(cut.crossing) + len(cut.device_outputs)
            torch.testing.assert_close(tail(*handed_over), expected, rtol=1e-5, atol=1e-6)


def sampled_cuts(graph: ModelGraph, size: int = SAMPLE_SIZE, seed: int = 0) -> list:
    """One cut for every distinct sequence of crossing-tensor shapes, then seeded random cuts up
    to ``size`` (the sending-the-input and all-local cuts always in), in index order."""
    cuts = graph.cuts()
    shapes = {v.name: v.shape for v in graph.values}
    order = np.random.default_rng(seed).permutation(len(cuts))
    chosen, signatures = {0, len(cuts) - 1}, set()
    for k in order:
        signature = tuple(shapes[name] for name in cuts[k].crossing)
        if signature not in signatures:
            signatures.add(signature)
            chosen.add(int(k))
    for k in order:
        if len(chosen) >= size:
            break
        chosen.add(int(k))
    return [cuts[k] for k in sorted(chosen)]


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_every_cut_of_the_small_models_reproduces_the_model(zoo, name):
    model, x, graph = zoo(name)
    _assert_reproduces(model, graph, (x,), graph.cuts())


@pytest.mark.parametrize(
    "name",
    [
        name if name == "resnet50" else pytest.param(name, marks=pytest.mark.slow)
        for name in LARGE_MODELS
    ],
)  # make test samples one large model's cuts; make test-all each one's, and then every cut
def test_sampled_cuts_of_the_large_models_reproduce_the_model(zoo, name):
    model, x, graph = zoo(name)
    cuts = sampled_cuts(graph)
    assert len(cuts) >= min(SAMPLE_SIZE, len(graph.cuts()))
    shapes = {v.name: v.shape for v in graph.values}
    every_shape = {tuple(shapes[n] for n in c.crossing) for c in graph.cuts()}
    assert {tuple(shapes[n] for n in c.crossing) for c in cuts} == every_shape
    _assert_reproduces(model, graph, (x,), cuts)


def _exhaustive_cases():
    for name in LARGE_MODELS:
        chunks = GOOGLENET_CHUNKS if name == "googlenet" else 1
        for chunk in range(chunks):
            yield pytest.param(name, chunk, chunks, marks=pytest.mark.slow)


@pytest.mark.parametrize(("name", "chunk", "chunks"), list(_exhaustive_cases()))
def test_every_cut_of_every_large_model_reproduces_the_model(zoo, name, chunk, chunks):
    model, x, graph = zoo(name)
    _assert_reproduces(model, graph, (x,), graph.cuts()[chunk::chunks])


def test_head_returns_exactly_the_crossing_tensors(zoo):
    model, x, graph = zoo("googlenet")
    shapes = {v.name: v.shape for v in graph.values}
    for cut in graph.cuts()[::97]:
        head, _ = split(model, graph, cut)
        with torch.no_grad():
            sent = head(x)[: len(cut.crossing)]
        assert [tuple(t.shape) for t in sent] == [shapes[name] for name in cut.crossing]
        assert sum(t.numel() * t.element_size() * 8 for t in sent) == cut.transfer_bits


def _compute_nodes(module: torch.fx.GraphModule) -> list[str]:
    return [
        n.name
        for n in module.graph.nodes
        if n.op in ("call_module", "call_function", "call_method")
    ]


def test_raw_input_and_all_local_cuts(zoo):
    model, x, graph = zoo("resnet50")
    head, tail = split(model, graph, 0)
    assert _compute_nodes(head) == []
    (sent,) = head(x)
    assert sent is x
    head, tail = split(model, graph, len(graph.cuts()) - 1)
    assert _compute_nodes(tail) == []
    with torch.no_grad():
        (result,) = head(x)
        assert tail(result) is result
        torch.testing.assert_close(result, model(x), rtol=0, atol=0)


def test_split_by_index_and_out_of_range(zoo):
    model, x, graph = zoo("resnet34")
    assert check_split(model, graph, 40, x).matches
    with pytest.raises(CutIndexError):
        split(model, graph, len(graph.cuts()))


def test_a_graph_splits_other_weights_of_the_same_architecture(zoo):
    model, x, graph = zoo("resnet34")
    other = copy.deepcopy(model)
    with torch.no_grad():
        for p in other.parameters():
            p.mul_(-0.5)
    _assert_reproduces(other, graph, (x,), graph.cuts()[::10])
    with torch.no_grad():
        assert not torch.allclose(other(x), model(x))


def test_a_model_of_another_architecture_is_refused(zoo):
    _, _, graph = zoo("resnet34")
    model, _, _ = zoo("mobilenet_v2")
    with pytest.raises(ModelMismatchError, match="has no 'conv1'"):
        split(model, graph, 3)


def test_a_cut_of_another_graph_is_refused(zoo):
    model, _, graph = zoo("resnet34")
    _, _, other = zoo("resnet34", "fx")
    with pytest.raises(ModelMismatchError, match="another graph"):
        split(model, graph, other.cut(3))


class _ReadThenOverwrite(nn.Module):
    """``a`` is read by ``mul`` and then overwritten by ``relu_``: a split that ran relu_ on the
    device and mul on the server would feed mul the overwritten tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.fc(x)
        b = a * 2
        c = torch.relu_(a)
        return b + c


@pytest.mark.parametrize("model_class", [_ReadThenOverwrite, _InPlace])
def test_in_place_ops_split_correctly_at_every_cut(model_class):
    model = model_class().eval()
    x = torch.randn(2, 4) if model_class is _ReadThenOverwrite else torch.randn(2, 3)
    graph = ModelGraph.from_module(model, x, "fx")
    _assert_reproduces(model, graph, (x,), graph.cuts())
    if model_class is _ReadThenOverwrite:
        assert ("mul", "relu_") in graph.edges  # the ordering constraint, not a data edge


def test_export_traced_models_split_at_every_cut():
    model = _ShapeBranch().eval()
    x = torch.randn(1, 3, 8, 8)
    graph = ModelGraph.from_module(model, x, "fx")
    assert graph.trace_method == "export"
    _assert_reproduces(model, graph, (x,), graph.cuts())


class _TwoInTwoOut(nn.Module):
    """A second input read only late, and an early output: device outputs and input crossing."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        early = self.a(x)
        return early, self.b(early) + y


def test_multiple_inputs_and_outputs():
    model = _TwoInTwoOut().eval()
    inputs = (torch.randn(2, 4), torch.randn(2, 4))
    graph = ModelGraph.from_module(model, inputs, "fx")
    cuts = graph.cuts()
    _assert_reproduces(model, graph, inputs, cuts)
    assert cuts[0].crossing == ("x", "y")
    local = cuts[-1]
    assert local.crossing == () and local.transfer_bits == 0
    assert local.device_outputs == ("a", "add")
    after_a = graph.cut_from_device_nodes(["a"])
    assert after_a.crossing == ("y", "a")  # `a` is an output and read by the server
    assert after_a.device_outputs == ()


def test_constants_are_copied_to_the_side_that_reads_them():
    model = _ParameterOnlyBranch().eval()
    x = torch.randn(2, 3)
    graph = ModelGraph.from_module(model, x, "operator")
    _assert_reproduces(model, graph, (x,), graph.cuts())
    head, tail = split(model, graph, 1)
    assert "softmax" in _compute_nodes(tail) and "softmax" not in _compute_nodes(head)


def test_check_split_reports_a_match_and_the_bytes_sent(zoo):
    model, x, graph = zoo("mobilenet_v2")
    cut = graph.cut(60)
    report = check_split(model, graph, cut, x)
    assert report.matches and report.max_abs_error <= 1e-6
    assert report.transferred_bytes * 8 == cut.transfer_bits


def test_check_split_times_are_medians_of_warm_runs(zoo, monkeypatch):
    """Head and tail are timed ``timed_runs`` times after the checked (warm-up) run; the report
    holds the medians and interquartile ranges of those runs (a clock that the test drives)."""
    import edgesplit.graph.split as split_module

    model, x, graph = zoo("mobilenet_v2")
    durations = iter([0.005, 0.001, 0.003, 0.002, 0.004, 0.010, 0.030, 0.020, 0.050, 0.040])
    clock = {"now": 0.0, "started": False}

    def perf_counter() -> float:
        if clock["started"]:
            clock["now"] += next(durations)
        clock["started"] = not clock["started"]
        return clock["now"]

    monkeypatch.setattr(split_module, "perf_counter", perf_counter)
    report = check_split(model, graph, 60, x, timed_runs=5)
    assert report.head_s == pytest.approx(0.003) and report.head_iqr_s == pytest.approx(0.002)
    assert report.tail_s == pytest.approx(0.030) and report.tail_iqr_s == pytest.approx(0.020)
    assert report.timed_runs == 5 and report.matches
