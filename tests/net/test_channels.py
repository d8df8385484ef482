"""Channel models against closed forms: Shannon with interference, TR 38.901 UMi, rate models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgesplit.errors import InvalidParameterError
from edgesplit.net import (
    ReplayRates,
    UmiRates,
    UniformRates,
    path_gain,
    sample_umi_pathloss_db,
    shadowing_gain,
    uplink_rates_bps,
)
from edgesplit.net.umi import (
    thermal_noise_w,
    umi_breakpoint_m,
    umi_los_pathloss_db,
    umi_los_probability,
    umi_nlos_pathloss_db,
)


def test_shannon_with_co_channel_interference():
    # Three transmitters: 0 and 2 share channel 0, 1 is alone on channel 1.
    power, gain = np.array([1.0, 0.5, 0.2]), np.array([1e-6, 4e-6, 2e-6])
    bandwidth, noise = np.array([1e6, 2e6]), np.array([1e-9, 3e-9])
    rates = uplink_rates_bps([0, 1, 0], power, gain, np.array([True, True, True]), bandwidth, noise)
    expected = [
        1e6 * math.log2(1 + 1e-6 / (1e-9 + 0.2 * 2e-6)),
        2e6 * math.log2(1 + 0.5 * 4e-6 / 3e-9),
        1e6 * math.log2(1 + 0.2 * 2e-6 / (1e-9 + 1e-6)),
    ]
    np.testing.assert_allclose(rates, expected)
    # An inactive transmitter neither transmits nor interferes; other groups do not interfere.
    quiet = uplink_rates_bps(
        [0, 1, 0], power, gain, np.array([True, True, False]), bandwidth, noise
    )
    assert quiet[2] == 0 and quiet[0] == pytest.approx(1e6 * math.log2(1 + 1e-6 / 1e-9))
    apart = uplink_rates_bps(
        [0, 1, 0], power, gain, np.ones(3, bool), bandwidth, noise, groups=[0, 0, 1]
    )
    assert apart[0] == pytest.approx(1e6 * math.log2(1 + 1e-6 / 1e-9))


def test_path_gain_and_shadowing():
    assert path_gain(np.array([10.0]), 1.0, 3.0)[0] == pytest.approx(1e-3)
    draws = 10 * np.log10(shadowing_gain(np.random.default_rng(0), 8.0, 200_000))
    assert abs(draws.mean()) < 0.1 and draws.std() == pytest.approx(8.0, rel=0.01)


def test_umi_reference_points():
    """Hand-evaluated TR 38.901 Table 7.4.1-1 at 3.5 GHz, h_BS 10 m, h_UT 1.5 m."""
    fc_ghz, d2d = 3.5, 50.0
    d3d = math.hypot(d2d, 8.5)
    los = 32.4 + 21 * math.log10(d3d) + 20 * math.log10(fc_ghz)
    nlos = max(los, 35.3 * math.log10(d3d) + 22.4 + 21.3 * math.log10(fc_ghz))
    assert umi_los_pathloss_db(d2d, 3.5e9) == pytest.approx(los)
    assert umi_nlos_pathloss_db(d2d, 3.5e9) == pytest.approx(nlos)
    assert umi_breakpoint_m(3.5e9, 10.0, 1.5) == pytest.approx(4 * 9.0 * 0.5 * 3.5e9 / 3e8)
    far = 500.0
    d3d_far = math.hypot(far, 8.5)
    breakpoint_term = 9.5 * math.log10(210.0**2 + 8.5**2)
    expected_far = 32.4 + 40 * math.log10(d3d_far) + 20 * math.log10(fc_ghz) - breakpoint_term
    assert umi_los_pathloss_db(far, 3.5e9) == pytest.approx(expected_far)
    assert umi_los_probability(np.array([10.0]))[0] == 1.0
    assert umi_los_probability(np.array([36.0]))[0] == pytest.approx(0.5 + math.exp(-1) * 0.5)


def test_umi_is_nearly_continuous_at_the_breakpoint_and_nlos_is_worse():
    bp = umi_breakpoint_m(3.5e9, 10.0, 1.5)
    assert (
        abs(umi_los_pathloss_db(bp * 0.9999, 3.5e9) - umi_los_pathloss_db(bp * 1.0001, 3.5e9)) < 0.1
    )
    d = np.linspace(10, 1000, 200)
    assert np.all(umi_nlos_pathloss_db(d, 3.5e9) >= umi_los_pathloss_db(d, 3.5e9))


def test_sampled_umi_losses_follow_the_los_share_and_shadowing():
    rng = np.random.default_rng(1)
    d = np.full(100_000, 60.0)
    loss, los = sample_umi_pathloss_db(rng, d, 3.5e9)
    assert los.mean() == pytest.approx(umi_los_probability(np.array([60.0]))[0], abs=0.01)
    assert (loss[los] - umi_los_pathloss_db(60.0, 3.5e9)).std() == pytest.approx(4.0, rel=0.02)
    assert (loss[~los] - umi_nlos_pathloss_db(60.0, 3.5e9)).std() == pytest.approx(7.82, rel=0.02)


def test_thermal_noise():
    assert thermal_noise_w(1.0, 0.0) == pytest.approx(10 ** (-174 / 10) / 1000)


def test_uniform_and_replayed_rates(tmp_path):
    """A shared link: every device gets the slot's one rate, in both directions; uniform draws
    fill the range (their mean is its midpoint), a trace replays its rows cyclically."""
    uniform = UniformRates(10e6, 20e6)
    rng = np.random.default_rng(0)
    draws = []
    for slot in range(4000):
        up, down = uniform.draw(rng, slot, 3)
        assert (up == up[0]).all() and np.array_equal(up, down)
        draws.append(up[0])
    assert min(draws) >= 10e6 and max(draws) <= 20e6 and uniform.max_bps == 20e6
    assert np.mean(draws) == pytest.approx(15e6, rel=0.01)
    path = tmp_path / "trace.csv"
    path.write_text("rate_bps\n1e6\n2e6\n")
    trace = ReplayRates.from_csv(path)
    assert [trace.draw(rng, s, 2)[0].tolist() for s in range(3)] == [
        [1e6] * 2,
        [2e6] * 2,
        [1e6] * 2,
    ]
    with pytest.raises(InvalidParameterError, match="high_bps"):
        UniformRates(20e6, 10e6)
    with pytest.raises(InvalidParameterError, match="trace column"):
        ReplayRates.from_csv(path, "bps")
    path.write_text("rate_bps\n0\n")
    with pytest.raises(InvalidParameterError, match="every rate > 0"):
        ReplayRates.from_csv(path)


def test_umi_rates_share_one_path_in_both_directions():
    """Uplink and downlink see the same path gain g: from the uplink's Shannon rate,
    g = (2^(R/B) - 1) N / P_device, and the downlink must be B log2(1 + P_server g / N)."""
    model = UmiRates(3.5e9, 100e6, 10.0, 23.0, 12.0, 7.0, (10.0, 100.0))
    up, down = model.draw(np.random.default_rng(3), 0, 500)
    noise = thermal_noise_w(100e6, 7.0)
    gain = (2 ** (up / 100e6) - 1) * noise / (10 ** ((10.0 - 30) / 10))
    expected = 100e6 * np.log2(1 + 10 ** ((23.0 - 30) / 10) * gain / noise)
    np.testing.assert_allclose(down, expected, rtol=1e-6)
    assert (down > up).all() and up.max() < model.max_bps
