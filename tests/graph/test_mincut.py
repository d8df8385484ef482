"""The exact optimum of additive costs by min-cut, against brute force."""

from __future__ import annotations

import functools
import itertools
import operator

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.graph.mincut import AdditiveCost, brute_force_best_cut, min_cut_bounds

from ..conftest import TEST_MODELS


def _random_cost(graph: ModelGraph, rng: np.random.Generator) -> AdditiveCost:
    """Random costs on scales that make the optimum land anywhere, ends included."""
    scale = rng.choice([1e-3, 1.0, 1e3])
    return AdditiveCost(
        rng.random(len(graph.nodes)) * rng.choice([0.1, 1.0, 10.0]),
        rng.random(len(graph.nodes)),
        rng.random(len(graph.values)) * scale * (rng.random(len(graph.values)) < 0.8),
    )


@pytest.mark.parametrize("granularity", ["operator", "fx"])
@pytest.mark.parametrize("name", TEST_MODELS)
def test_min_cut_equals_brute_force(zoo, name, granularity):
    _, _, graph = zoo(name, granularity)
    rng = np.random.default_rng(sum(map(ord, name)))
    for _ in range(10):
        cost = _random_cost(graph, rng)
        cut, lower_bound = min_cut_bounds(graph, cost)
        brute = cost.of(brute_force_best_cut(graph, cost))
        found = cost.of(cut)
        assert lower_bound <= brute * (1 + 1e-12) + 1e-12
        assert found <= brute + 1e-9 * (1 + abs(brute))


class _DagModel(nn.Module):
    """Node i applies its own Linear layer to the sum of its inputs (-1 = the model input);
    the model returns the sum of the sinks, so every node matters."""

    def __init__(self, preds: list[list[int]]) -> None:
        super().__init__()
        self.preds = preds
        self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in preds)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for layer, preds in zip(self.layers, self.preds, strict=True):
            inputs = [x if p < 0 else outputs[p] for p in preds]
            outputs.append(layer(functools.reduce(operator.add, inputs)))
        used = {p for preds in self.preds for p in preds}
        sinks = [out for i, out in enumerate(outputs) if i not in used]
        return functools.reduce(operator.add, sinks)


@st.composite
def dag_models(draw) -> list[list[int]]:
    n = draw(st.integers(1, 6))
    return [
        draw(st.lists(st.integers(-1, i - 1), min_size=1, max_size=3, unique=True))
        for i in range(n)
    ]


def _brute_force_over_subsets(graph: ModelGraph, cost: AdditiveCost) -> float:
    """The optimum over all 2^n node subsets, with validity and cost computed from scratch."""
    preds = {n.name: set() for n in graph.nodes}
    for a, b in graph.edges:
        preds[b].add(a)
    position = {n.name: i for i, n in enumerate(graph.nodes)}
    best = np.inf
    for k in range(len(graph.nodes) + 1):
        for device in map(set, itertools.combinations(preds, k)):
            if any(not preds[n] <= device for n in device):
                continue
            total = sum(
                cost.device[position[n]] if n in device else cost.server[position[n]] for n in preds
            )
            for j, value in enumerate(graph.values):
                on_device = value.producer is None or graph.nodes[value.producer].name in device
                read_on_server = any(graph.nodes[c].name not in device for c in value.consumers)
                total += cost.transfer[j] if on_device and read_on_server else 0.0
            best = min(best, total)
    return best


@settings(max_examples=60, deadline=None)
@given(dag_models(), st.integers(0, 2**32 - 1))
def test_min_cut_on_random_dags_equals_exhaustive_search(preds, seed):
    graph = ModelGraph.from_module(_DagModel(preds), torch.randn(1, 4), "fx")
    cost = _random_cost(graph, np.random.default_rng(seed))
    cut, _ = min_cut_bounds(graph, cost)
    exhaustive = _brute_force_over_subsets(graph, cost)
    assert cost.of(cut) == pytest.approx(exhaustive, rel=1e-9, abs=1e-12)


def test_costs_combine_linearly(zoo):
    _, _, graph = zoo("googlenet")
    rng = np.random.default_rng(7)
    a, b = _random_cost(graph, rng), _random_cost(graph, rng)
    table = graph.cut_table()
    np.testing.assert_allclose((a + 2.5 * b).over(table), a.over(table) + 2.5 * b.over(table))
    cut = table.cut(4320)
    assert (a * 3).of(cut) == pytest.approx(3 * a.over(table)[4320])


@pytest.mark.parametrize(
    ("field", "values", "match"),
    [
        ("device", [-1.0], "cost.device=-1.0 is invalid: every entry finite and >= 0"),
        ("server", [float("nan")], "cost.server=nan is invalid"),
        ("transfer", [[1.0]], r"cost.transfer=\(1, 1\) is invalid: a 1-D array"),
    ],
)
def test_invalid_costs(field, values, match):
    arrays = {"device": [1.0], "server": [1.0], "transfer": [1.0]} | {field: values}
    with pytest.raises(InvalidParameterError, match=match):
        AdditiveCost(**{k: np.array(v) for k, v in arrays.items()})


def test_cost_of_the_wrong_size_is_rejected(zoo):
    _, _, graph = zoo("resnet34")
    _, _, other = zoo("resnet50")
    with pytest.raises(InvalidParameterError, match="for resnet34 at operator granularity"):
        graph.best_cut(AdditiveCost.zeros(other))
