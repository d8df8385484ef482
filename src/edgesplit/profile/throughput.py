"""The placeholder latency model: a node takes its MACs divided by a fixed MAC rate.

It ignores memory-bound operators (their MACs are zero), threads and caches; measured profiles
replace it through the same ``NodeLatencyModel`` interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edgesplit.checks import positive

if TYPE_CHECKING:
    from edgesplit.graph import ModelGraph


class NodeLatencyModel(Protocol):
    """Anything that predicts the latency of each node of a graph on one piece of hardware."""

    def node_latency_s(self, graph: ModelGraph) -> np.ndarray:
        """Seconds per node, one entry per ``graph.nodes`` entry."""
        ...


@dataclass(frozen=True)
class ThroughputModel:
    """Node latency = MACs / ``macs_per_s``."""

    macs_per_s: float

    def __post_init__(self) -> None:
        positive("macs_per_s", self.macs_per_s)

    def node_latency_s(self, graph: ModelGraph) -> np.ndarray:
        return graph.arrays.macs / self.macs_per_s


def whole_model_rate(latency: NodeLatencyModel, graph: ModelGraph) -> ThroughputModel:
    """The MAC rate ``latency`` reaches on ``graph`` as a whole (its MACs over its predicted
    seconds): how layers a measured profile never saw are priced (a MAC-rate model gives its
    own rate back)."""
    seconds = float(np.sum(latency.node_latency_s(graph)))
    return ThroughputModel(float(np.sum(graph.arrays.macs)) / seconds)
