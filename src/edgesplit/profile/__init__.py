"""Latency of graph nodes on a piece of hardware: measured profiles and predictors."""

from edgesplit.profile.throughput import NodeLatencyModel, ThroughputModel

__all__ = ["NodeLatencyModel", "ThroughputModel"]
