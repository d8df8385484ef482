"""Harvest forecasts a device could really make (for the battery-aware MPC, ``policies.slot``).

A device knows its site's clear sky (pvlib's Ineichen model: a formula of the place and the
day) and what its own panel measured so far. The forecast of the irradiance at a later time is
the clear sky then times the clear-sky index of the last ``window_s`` (the measured energy over
the clear sky's energy, over the minutes of daylight): cloudiness persists, the sun's path does
not. This is the simplest forecast that follows the sun: persistence of the clear-sky index, a
standard baseline of solar forecasting. Without a clear-sky model (no site known) it persists
the last window's mean irradiance; with no daylight in the window it expects clear sky.

The forecast reads the measured series only before ``now_s``: the world's future stays the
world's (tests perturb the series after ``now_s`` and find the same forecast).
"""

from __future__ import annotations

import numpy as np

from edgesplit.energy.solar import SECONDS_PER_MINUTE, IrradianceSeries

DAYLIGHT_W_M2 = 20.0  # clear-sky minutes below this count as night for the index


def clear_sky_index_forecast(
    measured: IrradianceSeries,
    clear_sky: IrradianceSeries | None,
    now_s: float,
    times_s: np.ndarray,
    window_s: float = 3600.0,
) -> np.ndarray:
    """The irradiance (W/m^2) forecast at ``times_s`` from the ``measured`` minutes of the last
    ``window_s`` before ``now_s`` (seconds from the series' start; see the module docstring)."""
    minutes = max(1, round(window_s / SECONDS_PER_MINUTE))
    past = now_s - SECONDS_PER_MINUTE * np.arange(1, minutes + 1)
    seen = np.array([measured.at(s) for s in past])
    if clear_sky is None:
        return np.full(len(times_s), seen.mean())
    sky_then = np.array([clear_sky.at(s) for s in past])
    day = sky_then > DAYLIGHT_W_M2
    index = seen[day].sum() / sky_then[day].sum() if day.any() else 1.0
    return index * np.array([clear_sky.at(s) for s in np.asarray(times_s)])
