"""The battery (shi2025 Eq. 4, 12) and irradiance."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.energy import (
    CloudProcess,
    battery_step,
    clearsky_series,
    read_midc,
    sample_day,
    tmy3_day,
)
from edgesplit.energy.solar import pvlib_tmy3_path
from edgesplit.errors import InvalidParameterError

finite = st.floats(0.0, 1e4, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(finite, finite, finite, st.floats(1.0, 1e4)), min_size=1, max_size=8))
def test_battery_stays_in_bounds_and_conserves_energy(rows):
    level, demand, harvest, capacity = (np.array(col) for col in zip(*rows, strict=True))
    level = np.minimum(level, capacity)
    new, served = battery_step(level, demand, harvest, capacity)
    assert np.all((new >= 0) & (new <= capacity))
    assert np.all((served >= 0) & (served <= 1))
    spent = served * demand
    overflow = np.maximum(level + harvest - spent - capacity, 0.0)
    np.testing.assert_allclose(new + spent + overflow, level + harvest, rtol=1e-9, atol=1e-9)
    enough = demand <= level + harvest
    assert np.all(served[enough] == 1.0)
    assert np.all(new[~enough] == 0.0)


def test_sample_day_is_the_tmy3_day():
    day = sample_day()
    assert len(day.values_w_m2) == 24 * 60
    assert day.values_w_m2[:360].max() == 0  # night until 06:00
    assert day.at(12 * 3600 + 10) == day.values_w_m2[12 * 60]
    assert day.at(36 * 3600) == day.at(12 * 3600)  # the day repeats


def test_clear_sky_with_seeded_clouds():
    a = clearsky_series(36.1, -79.95, "2026-06-21", "Etc/GMT+5", clouds=CloudProcess(), seed=4)
    b = clearsky_series(36.1, -79.95, "2026-06-21", "Etc/GMT+5", clouds=CloudProcess(), seed=4)
    clear = clearsky_series(36.1, -79.95, "2026-06-21", "Etc/GMT+5")
    np.testing.assert_array_equal(a.values_w_m2, b.values_w_m2)
    assert not np.array_equal(a.values_w_m2, clear.values_w_m2)
    noon = clear.values_w_m2[12 * 60]
    assert 700 < noon < 1100  # a clear June noon at 36 N
    assert a.values_w_m2.mean() < clear.values_w_m2.mean()
    with pytest.raises(InvalidParameterError, match="latitude=95"):
        clearsky_series(95, 0, "2026-06-21")


def test_midc_reader(tmp_path):
    """The MIDC layout (date and time columns, the time zone as the second header), written here
    from the shipped TMY3 day: a format check of the reader, not measured MIDC data."""
    day = sample_day()
    lines = ["DATE (MM/DD/YYYY),MST,Global Horizontal [W/m^2]"]
    lines += [f"06/21/2026,{h:02d}:00,{day.values_w_m2[h * 60]:g}" for h in range(24)]
    path = tmp_path / "layout.txt"
    path.write_text("\n".join(lines) + "\n")
    series = read_midc(path)
    assert len(series.values_w_m2) == 23 * 60 + 1
    assert series.values_w_m2[12 * 60] == day.values_w_m2[12 * 60]
    with pytest.raises(InvalidParameterError, match="irradiance column"):
        read_midc(path, column="Direct Normal [W/m^2]")
    with pytest.raises(InvalidParameterError, match="an existing NREL MIDC file"):
        read_midc(tmp_path / "none.txt")


def test_tmy3_day_reads_the_files_hours():
    """Against the file read with the csv module: the GHI stamped HH:00 (hour ending) is the
    irradiance of the hour before, held for each of its minutes."""
    lines = pvlib_tmy3_path().read_text().splitlines()[1:]
    rows = [r for r in csv.DictReader(lines) if r["Date (MM/DD/YYYY)"].startswith("12/30/")]
    day = tmy3_day("12-30")
    assert len(rows) == 24
    for row in rows:
        hour = int(row["Time (HH:MM)"][:2]) - 1
        for minute in (0, 59):
            assert day.at(hour * 3600 + minute * 60) == float(row["GHI (W/m^2)"])
    assert "723170" in day.source and "12-30" in day.source
    with pytest.raises(InvalidParameterError, match=r"irradiance\.date='13-45'"):
        tmy3_day("13-45")
    with pytest.raises(InvalidParameterError, match="MM-DD"):
        tmy3_day("December 30")
    with pytest.raises(InvalidParameterError, match="an existing TMY3 file"):
        tmy3_day("12-30", "/nonexistent/tmy3.csv")


def test_the_cloud_process_mean_index_is_its_long_run_mean():
    clouds = CloudProcess()
    sample = clouds.sample(np.random.default_rng(0), 400_000)
    assert sample.mean() == pytest.approx(clouds.mean_index, abs=0.01)
