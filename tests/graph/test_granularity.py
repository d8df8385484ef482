"""Grouping fx nodes into graph nodes at each granularity."""

from __future__ import annotations

import networkx as nx
import pytest
import torch
from torch import nn

from edgesplit.errors import InvalidParameterError
from edgesplit.graph import GRANULARITIES, ModelGraph
from edgesplit.graph.granularity import SHAPE_ONLY_KINDS
from edgesplit.graph.trace import COMPUTE_OPS

MODELS = ("resnet50", "googlenet", "densenet121", "mobilenet_v2", "vgg16_bn")


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("name", MODELS)
def test_nodes_partition_the_fx_graph_into_a_topologically_ordered_dag(zoo, name, granularity):
    _, _, graph = zoo(name, granularity)
    compute = [n.name for n in graph.module.graph.nodes if n.op in COMPUTE_OPS]
    members = [f for node in graph.nodes for f in node.fx_nodes] + list(graph.constants)
    assert sorted(members) == sorted(compute)  # each fx node exactly once
    position = {node.name: i for i, node in enumerate(graph.nodes)}
    assert all(position[a] < position[b] for a, b in graph.edges)
    assert nx.is_directed_acyclic_graph(graph.to_networkx())
    # Every fx data dependency between nodes is an edge of the grouped graph.
    group = {f: node.name for node in graph.nodes for f in node.fx_nodes}
    edges = set(graph.edges)
    for n in graph.module.graph.nodes:
        for a in n.all_input_nodes:
            if n.name in group and a.name in group and group[a.name] != group[n.name]:
                assert (group[a.name], group[n.name]) in edges


@pytest.mark.parametrize("name", MODELS)
def test_fx_granularity_is_one_node_per_fx_node(zoo, name):
    _, _, graph = zoo(name, "fx")
    assert all(len(n.fx_nodes) == 1 for n in graph.nodes)
    assert graph.constants == ()


@pytest.mark.parametrize("name", MODELS)
def test_operator_granularity_folds_only_shape_ops(zoo, name):
    _, _, graph = zoo(name, "operator")
    for node in graph.nodes:
        for folded in node.fx_nodes[1:]:
            assert graph.records[folded].kind in SHAPE_ONLY_KINDS, (node.name, folded)


@pytest.mark.parametrize("name", MODELS)
def test_layer_granularity_has_one_module_per_node(zoo, name):
    _, _, graph = zoo(name, "layer")
    for node in graph.nodes:
        ops = [graph.records[f].op for f in node.fx_nodes]
        assert ops.count("call_module") <= 1
        assert all(op != "call_module" for op in ops[1:])


def _blocks(module: nn.Module, prefix: str = "") -> list[str]:
    """Children of a module, descending through plain Sequential containers (independent of the
    node metadata the implementation reads)."""
    names = []
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if isinstance(child, nn.Sequential) and type(child).forward is nn.Sequential.forward:
            names += _blocks(child, path + ".")
        else:
            names.append(path)
    return names


@pytest.mark.parametrize("name", ["resnet50", "vgg16_bn", "mobilenet_v2"])
def test_block_granularity_matches_the_module_tree(zoo, name):
    model, _, graph = zoo(name, "block")
    assert [n.name for n in graph.nodes] == _blocks(model)


class _ParameterOnlyBranch(nn.Module):
    """A node computed from parameters alone (a constant), parallel to the input path."""

    def __init__(self) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.randn(3))
        self.fc = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.logits.softmax(0)
        return self.fc(x) * scale


def test_parameter_only_nodes_are_constants_except_at_fx_granularity():
    x = torch.randn(2, 3)
    fx_graph = ModelGraph.from_module(_ParameterOnlyBranch(), x, "fx")
    op_graph = ModelGraph.from_module(_ParameterOnlyBranch(), x, "operator")
    assert [n.name for n in fx_graph.nodes] == ["softmax", "fc", "mul"]
    assert [n.name for n in op_graph.nodes] == ["fc", "mul"]
    assert op_graph.constants == ("softmax",)
    # fx: down-sets of {softmax, fc} -> mul are {}, {softmax}, {fc}, {softmax, fc}, all;
    # operator: the chain fc -> mul has three.
    assert len(fx_graph.cuts()) == 5 and len(op_graph.cuts()) == 3


def test_unknown_granularity_is_rejected(zoo):
    model, x, _ = zoo("resnet34")
    with pytest.raises(InvalidParameterError, match="granularity='ops' is invalid: one of fx"):
        ModelGraph.from_module(model, x, granularity="ops")
