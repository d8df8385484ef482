"""Device energy: consumption per task, the harvesting battery, solar irradiance."""

from edgesplit.energy.battery import battery_step
from edgesplit.energy.device import task_energy_j
from edgesplit.energy.solar import (
    CloudProcess,
    IrradianceSeries,
    clearsky_series,
    harvested_energy_j,
    read_midc,
    sample_day,
)

__all__ = [
    "CloudProcess",
    "IrradianceSeries",
    "battery_step",
    "clearsky_series",
    "harvested_energy_j",
    "read_midc",
    "sample_day",
    "task_energy_j",
]
