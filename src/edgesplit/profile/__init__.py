"""Latency of graph nodes on a piece of hardware: measured profiles, the hardware catalogue, and
predictors (shi2025 Eq. 7-9, Neurosurgeon, and per-node thread scaling).

Names load on first use, so that the simulator can read profiles and the catalogue without
importing torch.
"""

from importlib import import_module

_EXPORTS = {
    "PREDICTORS": "edgesplit.profile.predictors",
    "ProfileLatencyModel": "edgesplit.profile.predictors",
    "Hardware": "edgesplit.profile.catalogue",
    "catalogue": "edgesplit.profile.catalogue",
    "hardware_profile": "edgesplit.profile.catalogue",
    "latency_model": "edgesplit.profile.catalogue",
    "Measurements": "edgesplit.profile.data",
    "Profile": "edgesplit.profile.data",
    "Stats": "edgesplit.profile.data",
    "load_profile_file": "edgesplit.profile.data",
    "package_profile": "edgesplit.profile.data",
    "save_profile": "edgesplit.profile.data",
    "measure_profile": "edgesplit.profile.measure",
    "select_cuts": "edgesplit.profile.measure",
    "NodeLatencyModel": "edgesplit.profile.throughput",
    "ThroughputModel": "edgesplit.profile.throughput",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'edgesplit.profile' has no attribute {name!r}")
