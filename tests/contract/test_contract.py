"""The contract between deciders and worlds: a Decision and a Gymnasium action are one thing
(round trips both ways), states encode and decode their observations, and stepping an env with
a Decision is stepping it with its action."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edgesplit.contract import (
    SLOT_FIELDS,
    TIME_SLOT_FIELDS,
    WINDOW_FIELDS,
    Decision,
    SlotState,
    WindowState,
)
from edgesplit.errors import InvalidParameterError
from edgesplit.sim import decision_env, load_scenario, make_env

PRESETS = {SLOT_FIELDS: "shi2025-wifi", WINDOW_FIELDS: "zhang2026", TIME_SLOT_FIELDS: "zhang2026"}


def _env(fields):
    scenario = load_scenario(PRESETS[fields])
    if fields == TIME_SLOT_FIELDS:
        scenario = scenario.model_copy(update={"style": "time_slot"})
    return scenario, make_env(scenario)


@pytest.mark.parametrize("fields", [SLOT_FIELDS, WINDOW_FIELDS, TIME_SLOT_FIELDS])
def test_an_action_and_its_decision_round_trip(fields):
    """Every sampled action of an env's space comes back unchanged through a Decision (values
    and dtypes of the space), and a Decision through its action."""
    _, env = _env(fields)
    env.action_space.seed(4)
    for _ in range(20):
        action = env.action_space.sample()
        again = Decision.from_action(action).as_action(fields)
        assert set(again) == set(fields)
        for key in fields:
            np.testing.assert_array_equal(again[key], action[key].astype(again[key].dtype))
            assert env.action_space[key].contains(again[key].astype(env.action_space[key].dtype))
        decision = Decision.from_action(again)
        for key in fields:
            np.testing.assert_array_equal(getattr(decision, key), again[key])


def test_missing_and_unknown_fields_are_named():
    with pytest.raises(InvalidParameterError, match=r"decision='no threads'.*cut, threads"):
        Decision(cut=np.zeros(3, np.int64)).as_action(SLOT_FIELDS)
    with pytest.raises(InvalidParameterError, match=r"action=\['cut', 'speed'\]"):
        Decision.from_action({"cut": np.zeros(3), "speed": np.ones(3)})
    with pytest.raises(InvalidParameterError, match="cut included"):
        Decision.from_action({"threads": np.ones(3)})


@pytest.mark.parametrize("fields", [SLOT_FIELDS, WINDOW_FIELDS, TIME_SLOT_FIELDS])
def test_stepping_with_a_decision_is_stepping_with_its_action(fields):
    """Two envs from one seed, one stepped with sampled actions and one with their Decisions
    (``DecisionEnv``): the same observations, rewards and ends."""
    scenario, plain = _env(fields)
    typed = decision_env(scenario)
    first, _ = plain.reset(seed=5)
    second, _ = typed.reset(seed=5)
    np.testing.assert_array_equal(first, second)
    plain.action_space.seed(5)
    for _ in range(10):
        decision = Decision.from_action(plain.action_space.sample())
        if decision.power_w is not None:  # a decider's float64 powers: taken as float32 both ways
            decision = replace(decision, power_w=decision.power_w * (1 + 1e-9))
        a = plain.step(decision.as_action(fields))
        b = typed.step(decision)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:4] == b[1:4]
        if a[2] or a[3]:
            break


def test_states_encode_and_decode_their_observations():
    rng = np.random.default_rng(0)
    slot = SlotState(rng.uniform(0, 5, 3), rng.uniform(0, 90, 3), rng.uniform(1e6, 4e7, 3), 14)
    back = SlotState.decode(slot.encode(), 3)
    for key in ("arrivals", "battery_j", "uplink_bps"):
        np.testing.assert_allclose(getattr(back, key), getattr(slot, key), rtol=1e-6)
    assert back.threads_total == 14 and len(slot.encode()) == SlotState.size(3)
    for busy in (None, rng.uniform(0, 2, 4)):
        window = WindowState(rng.integers(0, 60, 4), rng.uniform(1, 100, 4), busy)
        again = WindowState.decode(window.encode(), 4)
        np.testing.assert_array_equal(again.remaining, window.remaining)
        np.testing.assert_allclose(again.distance_m, window.distance_m, rtol=1e-6)
        assert (again.busy_s is None) == (busy is None)
