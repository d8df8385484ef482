"""Every valid cut: counts, validity, order, transfer sizes, errors."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.fx.passes.shape_prop import ShapeProp

from edgesplit.errors import CutIndexError, CutLimitExceededError, InvalidCutError
from edgesplit.graph.cuts import enumerate_down_sets

from ..conftest import TEST_MODELS

# The reference: plain torch.fx granularity, torchvision, weights=None.
REFERENCE_FX_CUT_COUNTS = {
    "resnet50": 240,
    "googlenet": 8_838,
    "inception_v3": 35_684,
    "densenet121": 432,
}


@pytest.mark.parametrize(("name", "count"), REFERENCE_FX_CUT_COUNTS.items())
def test_reference_cut_counts_at_plain_fx_granularity(zoo, name, count):
    size = 96 if name == "inception_v3" else 64  # inception_v3 needs at least 75 pixels
    _, _, graph = zoo(name, "fx", size)
    assert graph.cut_table().size == count


@pytest.mark.parametrize("name", TEST_MODELS)
def test_cut_count_equals_networkx_antichain_count(zoo, name):
    """Down-sets and antichains of a DAG are in bijection; networkx counts the latter."""
    _, _, graph = zoo(name)
    assert graph.cut_table().size == sum(1 for _ in nx.antichains(graph.to_networkx()))


def _random_dag(draw, max_nodes: int) -> list[list[int]]:
    n = draw(st.integers(1, max_nodes))
    return [
        draw(st.lists(st.integers(0, max(i - 1, 0)), max_size=3, unique=True)) if i else []
        for i in range(n)
    ]


@st.composite
def dags(draw, max_nodes: int = 11) -> list[list[int]]:
    return _random_dag(draw, max_nodes)


@settings(max_examples=200, deadline=None)
@given(dags())
def test_enumerator_equals_brute_force_over_all_subsets(preds):
    n = len(preds)
    succs = [[j for j in range(n) if i in preds[j]] for i in range(n)]
    descendants = [0] * n
    for i in reversed(range(n)):
        descendants[i] = 1 << i
        for j in succs[i]:
            descendants[i] |= descendants[j]
    brute = {
        sum(1 << i for i in subset)
        for k in range(n + 1)
        for subset in itertools.combinations(range(n), k)
        if all(p in subset for i in subset for p in preds[i] if p != i)
    }
    found = enumerate_down_sets(descendants, limit=10**6)
    assert len(found) == len(set(found))
    assert set(found) == brute


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "mobilenet_v2"])
def test_every_cut_is_a_distinct_down_set_in_index_order(zoo, name):
    _, _, graph = zoo(name)
    cuts = graph.cuts()
    assert [c.index for c in cuts] == list(range(len(cuts)))
    assert len({c.device_mask for c in cuts}) == len(cuts)
    assert cuts[0].sends_input and cuts[0].device_nodes == ()
    assert cuts[-1].is_all_local and cuts[-1].server_nodes == ()
    g = graph.to_networkx()
    keys = []
    for cut in cuts:
        device = set(cut.device_nodes)
        assert all(set(g.predecessors(node)) <= device for node in device)
        highest = max((graph.index_of(n) for n in device), default=-1)
        keys.append((highest, len(device)))
    assert keys == sorted(keys)


def test_chain_cut_k_plus_one_keeps_the_first_k_nodes(zoo):
    _, _, graph = zoo("vgg16_bn")
    names = [n.name for n in graph.nodes]
    assert nx.is_directed_acyclic_graph(graph.to_networkx())
    assert graph.cut_table().size == len(names) + 1  # vgg16_bn is a chain
    for k, cut in enumerate(graph.cuts()):
        assert cut.device_nodes == tuple(names[:k])


def _fx_transfer_bits(graph, device_fx: set[str], sizes: dict[str, int]) -> int:
    """Bits crossing, computed on the raw fx graph: distinct tensors made on the device (or the
    input) that a server-side compute node reads."""
    server = {f for node in graph.nodes for f in node.fx_nodes} - device_fx
    crossing = set()
    for n in graph.module.graph.nodes:
        if n.name in server:
            crossing |= {
                a.name for a in n.all_input_nodes if a.name in device_fx or a.op == "placeholder"
            }
    return sum(sizes[name] for name in crossing)


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "densenet121"])
def test_transfer_bits_and_macs_match_an_independent_fx_computation(zoo, name):
    _, x, graph = zoo(name)
    ShapeProp(graph.module).propagate(x)
    sizes = {}
    for n in graph.module.graph.nodes:
        meta = n.meta.get("tensor_meta")
        if meta is not None and hasattr(meta, "shape"):
            sizes[n.name] = (
                math.prod(meta.shape) * torch.empty((), dtype=meta.dtype).element_size() * 8
            )
    cuts = graph.cuts()
    for cut in cuts[:: max(1, len(cuts) // 300)]:
        device = set(cut.device_nodes)
        device_fx = {f for node in graph.nodes if node.name in device for f in node.fx_nodes}
        assert cut.transfer_bits == _fx_transfer_bits(graph, device_fx, sizes)
        device_macs = sum(n.macs for n in graph.nodes if n.name in device)
        assert (cut.device_macs, cut.server_macs) == (device_macs, graph.total_macs - device_macs)
        assert len(cut.crossing) == len(set(cut.crossing))


def test_a_tensor_read_by_several_server_nodes_counts_once(zoo):
    """googlenet: an inception module's input feeds four branches."""
    _, _, graph = zoo("googlenet")
    inception_input = next(v for v in graph.values if len(v.consumers) == 4)
    cut = graph.cut_from_device_nodes(
        [n.name for i, n in enumerate(graph.nodes) if i <= inception_input.producer]
    )
    assert cut.crossing == (inception_input.name,)
    assert cut.transfer_bits == inception_input.size_bits


def test_limit_raises_but_best_cut_still_works(zoo):
    from edgesplit.graph.mincut import AdditiveCost

    _, _, graph = zoo("googlenet", "layer")
    with pytest.raises(CutLimitExceededError, match="more than 100 cuts"):
        graph.cuts(limit=100)
    cost = AdditiveCost.zeros(graph)
    cost = AdditiveCost(cost.device + 1.0, cost.server + 0.5, cost.transfer + 1e-3)
    assert graph.best_cut(cost).sends_input  # server cheaper everywhere: offload everything


@pytest.mark.parametrize("index", [-1, 239, 240, "3", 2.0, True])
def test_cut_index_out_of_range(zoo, index):
    _, _, graph = zoo("resnet50")
    with pytest.raises(CutIndexError, match=r"cuts 0\.\.238"):
        graph.cut(index)


def test_device_nodes_must_be_closed_under_predecessors(zoo):
    _, _, graph = zoo("resnet50")
    second = graph.nodes[1].name
    with pytest.raises(InvalidCutError, match=f"'{second}' needs '{graph.nodes[0].name}'"):
        graph.cut_from_device_nodes([second])
    with pytest.raises(InvalidCutError, match="no node named 'nope'"):
        graph.cut_from_device_nodes(["nope"])
    graph.cut_table()  # a cut carries its index once the graph's cuts are enumerated
    assert graph.cut_from_device_nodes([graph.nodes[0].name]).index == 1


@pytest.mark.parametrize("granularity", ["operator", "block"])
def test_the_portable_cut_key_is_the_union_of_device_fx_nodes(zoo, granularity):
    """``fx_key`` marks exactly the fx nodes of the cut's device nodes, in ``fx_node_order``,
    so that the same cut has the same key at every granularity."""
    _, _, graph = zoo("resnet18", granularity)
    order = graph.fx_node_order
    for cut in graph.cuts()[::7]:
        device_fx = {
            f for node in graph.nodes if node.name in set(cut.device_nodes) for f in node.fx_nodes
        }
        key = int(graph.fx_key(cut), 16)
        assert {order[i] for i in range(len(order)) if key >> i & 1} == device_fx
