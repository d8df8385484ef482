"""Latency of graph nodes on a piece of hardware: measured profiles, the hardware catalogue, and
predictors (shi2025 Eq. 7-9, Neurosurgeon, and per-node thread scaling)."""

from edgesplit.profile.catalogue import Hardware, catalogue, hardware_profile, latency_model
from edgesplit.profile.data import (
    Measurements,
    Profile,
    Stats,
    load_profile_file,
    package_profile,
    save_profile,
)
from edgesplit.profile.measure import measure_profile, select_cuts
from edgesplit.profile.predictors import PREDICTORS, ProfileLatencyModel
from edgesplit.profile.throughput import NodeLatencyModel, ThroughputModel

__all__ = [
    "PREDICTORS",
    "Hardware",
    "Measurements",
    "NodeLatencyModel",
    "Profile",
    "ProfileLatencyModel",
    "Stats",
    "ThroughputModel",
    "catalogue",
    "hardware_profile",
    "latency_model",
    "load_profile_file",
    "measure_profile",
    "package_profile",
    "save_profile",
    "select_cuts",
]
