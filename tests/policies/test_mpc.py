"""shi2025's battery-aware MPC against independent computations: its dynamic program against a
direct enumeration of two slots, with no future it is the per-slot optimum with the forecast
harvest, and on the cloudy-winter preset it keeps the batteries from running out."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edgesplit.contract import SlotState
from edgesplit.policies.evaluate import run_episode
from edgesplit.policies.registry import make_policy
from edgesplit.policies.slot import BatteryMPC, SlotOptimum, _candidate_cuts
from edgesplit.sim import decision_env
from edgesplit.sim.slot import slot_step


def _state(policy: BatteryMPC, seed: int = 0) -> SlotState:
    env = decision_env(policy.scenario)
    obs, _ = env.reset(seed=seed)
    return SlotState.decode(obs, policy.system.n_devices)


def _future_slot(policy, state, battery, cuts, t):
    system = policy.system
    arrivals = (system.arrivals_low + system.arrivals_high) / 2
    threads = max(system.k_min, (system.threads_low + system.threads_high) // 2 // system.n_devices)
    return slot_step(
        system, battery, cuts, np.full(cuts.shape, threads), arrivals, state.uplink_bps,
        state.uplink_bps, float(policy.forecast_w_m2[t]),
    )  # fmt: skip


def test_the_program_equals_two_slots_enumerated():
    """Two slots ahead: the value at each grid level is the best over both slots' cuts, the
    second slot's value read off the first by ``np.interp`` (an independent interpolation)."""
    policy = make_policy("mpc", "shi2025-winter")
    policy.horizon_slots = 2
    policy.slot = 40
    state = _state(policy)
    values = policy.future_values(state)
    levels = policy.levels()
    candidates = _candidate_cuts(policy.system)
    n = policy.system.n_devices
    # the last slot (t = 42): its value is its best utility at each level
    last = np.full((policy.grid, n), -np.inf)
    for c in range(len(candidates)):
        cuts = np.broadcast_to(candidates[c], levels.shape)
        last = np.maximum(last, _future_slot(policy, state, levels, cuts, 42).utility)
    expected = np.full((policy.grid, n), -np.inf)
    for c in range(len(candidates)):
        cuts = np.broadcast_to(candidates[c], levels.shape)
        outcome = _future_slot(policy, state, levels, cuts, 41)
        after = np.column_stack(
            [np.interp(outcome.battery_j[:, d], levels[:, d], last[:, d]) for d in range(n)]
        )
        expected = np.maximum(expected, outcome.utility + after)
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-12)


def test_without_a_future_it_is_the_optimum_with_the_forecast_harvest():
    policy = make_policy("mpc", "shi2025-winter")
    policy.horizon_slots = 0
    optimum = make_policy("optimum", "shi2025-winter")
    optimum.irradiance_now = policy.irradiance_now  # the same harvest assumption
    env = decision_env(policy.scenario)
    obs, _ = env.reset(seed=2)
    for _ in range(5):
        a, b = policy.decide(obs), optimum.decide(obs)
        np.testing.assert_array_equal(a.cut, b.cut)
        np.testing.assert_array_equal(a.threads, b.threads)
        obs, *_ = env.step(a)


@pytest.mark.slow  # a day of slots planned ahead: seconds
def test_on_a_cloudy_winter_day_the_mpc_keeps_the_batteries_up():
    """shi2025-winter (TMY3 December 30, 400 J batteries): the per-slot optimum drains the
    batteries and leaves tasks unserved (Eq. 12 violations); the MPC leaves none and earns more
    utility."""
    mpc, optimum = make_policy("mpc", "shi2025-winter"), make_policy("optimum", "shi2025-winter")
    env = decision_env(mpc.scenario)
    ours, theirs = run_episode(mpc, env, 1), run_episode(optimum, env, 1)
    assert theirs["violations"] > 0
    assert ours["violations"] == 0
    assert ours["utility"] > theirs["utility"]


def test_the_interpolation_is_linear_between_levels():
    policy = BatteryMPC("shi2025-winter")
    rng = np.random.default_rng(0)
    values = rng.normal(size=(policy.grid, policy.system.n_devices))
    battery = rng.uniform(0, 1, (7, policy.system.n_devices)) * policy.system.capacity_j
    got = policy.battery_value(values, battery)
    levels = policy.levels()
    for d, row in itertools.product(range(policy.system.n_devices), range(7)):
        assert got[row, d] == pytest.approx(np.interp(battery[row, d], levels[:, d], values[:, d]))
    assert isinstance(policy, SlotOptimum)
