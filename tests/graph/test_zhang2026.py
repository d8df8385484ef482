"""zhang2026 Alg. 1 against the exact enumerator: where it agrees and precisely what it misses."""

from __future__ import annotations

import math

import networkx as nx
import pytest

from edgesplit.errors import CutLimitExceededError
from edgesplit.graph.zhang2026 import partition_points

from ..conftest import TEST_MODELS


@pytest.mark.parametrize("name", TEST_MODELS)
def test_every_point_is_a_valid_cut(zoo, name):
    _, _, graph = zoo(name)
    points = partition_points(graph)
    assert len(points) == len(set(points))
    assert set(points) <= set(graph.cut_table().masks)
    assert points[0] == 0 and points[-1] == graph.full_mask  # s = 1 and s = S


def _is_total_order(graph) -> bool:
    closure = nx.transitive_closure_dag(graph.to_networkx())
    n = closure.number_of_nodes()
    return closure.number_of_edges() == n * (n - 1) // 2


@pytest.mark.parametrize("name", TEST_MODELS)
def test_alg1_is_exact_when_no_operators_run_in_parallel(zoo, name):
    _, _, graph = zoo(name)
    exact = set(graph.cut_table().masks)
    if _is_total_order(graph):
        assert set(partition_points(graph)) == exact
    else:
        assert set(partition_points(graph)) < exact


def _missed_when_branches_start_together(branch_lengths: list[int]) -> int:
    """Down-sets of parallel chains (lengths b_k) in which some branch has started and another
    has not: all prod(b_k + 1) combinations minus those with every branch started
    (prod b_k) and the one with none started."""
    return math.prod(b + 1 for b in branch_lengths) - math.prod(branch_lengths) - 1


def test_alg1_misses_cuts_with_partly_started_parallel_branches(zoo):
    """Counts derived from the architectures: ResNet-50 has 4 blocks with a downsample shortcut
    (main path: conv, bn, relu, conv, bn, relu, conv, bn; shortcut: conv, bn); GoogLeNet has 9
    inception modules with branches of 3 (1x1 conv, bn, relu), 6, 6 and 4 (pool + conv, bn,
    relu) operators."""
    _, _, resnet = zoo("resnet50")
    missed = len(resnet.cut_table().masks) - len(partition_points(resnet))
    assert missed == 4 * _missed_when_branches_start_together([8, 2]) == 40
    _, _, googlenet = zoo("googlenet")
    missed = len(googlenet.cut_table().masks) - len(partition_points(googlenet))
    assert missed == 9 * _missed_when_branches_start_together([3, 6, 6, 4]) == 4923


def test_alg1_transfer_size_misses_skip_connections(zoo):
    """Alg. 1 makes a residual block's first conv a single-operator point, and the paper's I_n
    is that operator's output; the block input also crosses, to the shortcut add."""
    _, _, graph = zoo("resnet50")
    conv = graph.index_of("layer1_1_conv1")
    ancestors = nx.ancestors(graph.to_networkx(), "layer1_1_conv1")
    mask = sum(1 << graph.index_of(n) for n in ancestors) | 1 << conv
    assert mask in set(partition_points(graph))
    cut = graph.cut_table().cut(graph.cut_table().index_of(mask))
    assert cut.crossing == ("layer1_0_relu_2", "layer1_1_conv1")
    paper_bits = graph.nodes[conv].output_bits
    block_input_bits = graph.nodes[graph.index_of("layer1_0_relu_2")].output_bits
    assert cut.transfer_bits == paper_bits + block_input_bits


def test_alg1_combinations_are_capped(zoo):
    _, _, graph = zoo("inception_v3", "operator", 96)
    with pytest.raises(CutLimitExceededError, match="examined more than 1,000"):
        partition_points(graph, limit=1_000)
