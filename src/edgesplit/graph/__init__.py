"""Operator DAGs of PyTorch models, their cuts, the exact optimum and split execution."""

from edgesplit.graph.cuts import Cut, CutTable
from edgesplit.graph.granularity import GRANULARITIES
from edgesplit.graph.model_graph import DEFAULT_CUT_LIMIT, GraphNode, ModelGraph, Value

__all__ = [
    "DEFAULT_CUT_LIMIT",
    "GRANULARITIES",
    "Cut",
    "CutTable",
    "GraphNode",
    "ModelGraph",
    "Value",
]
