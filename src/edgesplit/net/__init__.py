"""Uplink rate models: Shannon with co-channel interference, 3GPP TR 38.901 UMi, and the rate
models a slot-style environment draws from (uniform, trace replay, UMi)."""

from edgesplit.net.rates import DeviceRates, RateModel, ReplayRates, UmiRates, UniformRates
from edgesplit.net.shannon import path_gain, shadowing_gain, shannon_rate_bps, uplink_rates_bps
from edgesplit.net.umi import (
    dbm_to_w,
    sample_umi_pathloss_db,
    thermal_noise_w,
    umi_los_pathloss_db,
    umi_los_probability,
    umi_nlos_pathloss_db,
)

__all__ = [
    "DeviceRates",
    "RateModel",
    "ReplayRates",
    "UmiRates",
    "UniformRates",
    "dbm_to_w",
    "path_gain",
    "sample_umi_pathloss_db",
    "shadowing_gain",
    "shannon_rate_bps",
    "thermal_noise_w",
    "umi_los_pathloss_db",
    "umi_los_probability",
    "umi_nlos_pathloss_db",
    "uplink_rates_bps",
]
