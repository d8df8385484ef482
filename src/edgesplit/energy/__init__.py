"""Device energy: the harvesting battery and solar irradiance (a task's energy is composed by
``edgesplit.costs.task_energy_j``)."""

from edgesplit.energy.battery import battery_step
from edgesplit.energy.solar import (
    CloudProcess,
    IrradianceSeries,
    clearsky_series,
    harvested_energy_j,
    read_midc,
    sample_day,
    tmy3_clear_sky,
    tmy3_day,
)

__all__ = [
    "CloudProcess",
    "IrradianceSeries",
    "battery_step",
    "clearsky_series",
    "harvested_energy_j",
    "read_midc",
    "sample_day",
    "tmy3_clear_sky",
    "tmy3_day",
]
