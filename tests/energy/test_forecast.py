"""The harvest forecast (``energy.forecast``) against closed forms, and the clear sky of a TMY3
station against its solar noon; the MPC's forecast setting."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.energy import IrradianceSeries, tmy3_clear_sky
from edgesplit.energy.forecast import clear_sky_index_forecast
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.registry import make_policy

DAY = 24 * 60


def _series(values) -> IrradianceSeries:
    return IrradianceSeries(np.asarray(values, dtype=float), "00:00", "test")


def _sky() -> IrradianceSeries:
    minutes = np.arange(DAY)
    return _series(np.clip(900 * np.sin(np.pi * (minutes - 360) / 720), 0, None))


def test_the_forecast_reads_only_the_past():
    """Changing every minute from now on changes no forecast made now."""
    rng = np.random.default_rng(0)
    measured = rng.uniform(0, 500, DAY)
    now_s, times = 11 * 3600.0, 11 * 3600.0 + 60.0 * np.arange(0, 120, 7)
    before = clear_sky_index_forecast(_series(measured), _sky(), now_s, times)
    changed = measured.copy()
    changed[11 * 60 :] = rng.uniform(0, 500, DAY - 11 * 60)
    assert np.array_equal(clear_sky_index_forecast(_series(changed), _sky(), now_s, times), before)
    changed[11 * 60 - 1] += 100.0  # the last minute before now does count
    assert not np.array_equal(
        clear_sky_index_forecast(_series(changed), _sky(), now_s, times), before
    )


def test_a_steady_clear_sky_index_is_forecast_exactly():
    """A panel that has measured 40 % of the clear sky for the last hour is forecast 40 % of the
    clear sky at every later time."""
    sky = _sky()
    times = 10 * 3600.0 + 60.0 * np.arange(0, 240, 11)
    forecast = clear_sky_index_forecast(_series(0.4 * sky.values_w_m2), sky, 10 * 3600.0, times)
    assert forecast == pytest.approx(0.4 * sky.values_w_m2[(times // 60).astype(int)], rel=1e-12)


def test_without_a_site_the_last_hour_persists_and_at_night_clear_sky_is_expected():
    measured = np.arange(DAY, dtype=float)
    flat = clear_sky_index_forecast(_series(measured), None, 600 * 60.0, np.array([0.0, 1e4]))
    assert flat == pytest.approx([measured[540:600].mean()] * 2)
    sky = _sky()  # night until 06:00: no index to measure, the clear sky is expected
    dawn = clear_sky_index_forecast(_series(measured), sky, 5 * 3600.0, np.array([8 * 3600.0]))
    assert dawn == pytest.approx([sky.values_w_m2[8 * 60]])


def test_the_tmy3_stations_clear_sky_peaks_at_its_solar_noon():
    """Greensboro (79.95 W) on December 30, local standard time (UTC-5): solar noon is 12:20
    less the equation of time (about -2.5 min then: the sun is late), and the clear sky is zero
    at midnight."""
    sky = tmy3_clear_sky("12-30").values_w_m2
    assert 12 * 60 + 19 <= int(sky.argmax()) <= 12 * 60 + 26
    assert sky[0] == 0 and sky[DAY - 1] == 0 and 400 < sky.max() < 700
    with pytest.raises(InvalidParameterError, match=r"irradiance\.date"):
        tmy3_clear_sky("December")


def test_the_mpc_forecasts_from_the_past_by_default_and_perfectly_when_set():
    """On the winter day (one measured hour, 91 W/m^2 throughout) the default forecast at the
    first slot follows the clear sky from the 09:00-10:00 index (over 91 and rising); with
    ``forecast=perfect`` it is the measured series."""
    mpc = make_policy("mpc", "shi2025-winter")
    forecast = mpc.harvest_forecast()
    assert np.all(mpc.expected_w_m2 == 91.0)
    assert forecast[0] > 91.0 and np.all(np.diff(forecast) >= -1e-9)
    perfect = make_policy("mpc", "shi2025-winter", settings={"forecast": "perfect"})
    assert np.array_equal(perfect.harvest_forecast(), mpc.expected_w_m2)
    with pytest.raises(InvalidParameterError, match="--set forecast"):
        make_policy("mpc", "shi2025-winter", settings={"forecast": "tomorrow"})
