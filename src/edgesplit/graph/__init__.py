"""Operator DAGs of PyTorch models, their cuts, the exact optimum and split execution.

Names load on first use, so that importing the package (for its constants) does not import
torch.
"""

from importlib import import_module

from edgesplit.graph.constants import DEFAULT_CUT_LIMIT
from edgesplit.vocabulary import GRANULARITIES

_EXPORTS = {
    "Cut": "edgesplit.graph.cuts",
    "CutTable": "edgesplit.graph.cuts",
    "GraphNode": "edgesplit.graph.model_graph",
    "ModelGraph": "edgesplit.graph.model_graph",
    "Value": "edgesplit.graph.model_graph",
}

__all__ = ["DEFAULT_CUT_LIMIT", "GRANULARITIES", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgesplit.graph' has no attribute {name!r}")
