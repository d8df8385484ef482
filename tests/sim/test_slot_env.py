"""SlotMEC (shi2025): vectorized step = per-device reference, env contract, determinism, the
explicit state, harvesting and the checks on actions."""

from __future__ import annotations

import csv
from importlib import resources

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.threads import TA
from edgesplit.sim import ThreadAllocation, make_env
from edgesplit.sim.reference import slot_step_reference
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.slot import slot_step
from edgesplit.sim.slot_env import SlotMECEnv


def _cuts_env(scenario: str) -> gym.Env:
    """The env whose actions are cuts (threads by TA): every sampled action is valid."""
    return ThreadAllocation(make_env(load_scenario(scenario)), TA())


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
@pytest.mark.parametrize("scenario", ["shi2025-wifi", "shi2025-5g", "chukhno2023"])
def test_env_checker(scenario):
    check_env(_cuts_env(scenario), skip_render_check=True)


def with_runtime(name: str):
    """A preset with the runtime's measured overheads and every codec allowed."""
    from edgesplit.sim.scenario import Runtime

    codecs = ("fp32", "fp16", "int8", "int8-channel", "fp32+zstd", "int8+zstd")
    runtime = Runtime(link="epyc2", codecs=codecs)
    return load_scenario(name).model_copy(update={"runtime": runtime})


@pytest.mark.parametrize("scenario", ["shi2025-wifi", "chukhno2023", "shi2025-wifi+runtime"])
def test_vectorized_step_equals_the_reference(scenario):
    if scenario.endswith("+runtime"):
        scenario = with_runtime(scenario.removesuffix("+runtime"))
    env = SlotMECEnv(scenario)
    system, rng = env.system, np.random.default_rng(5)
    for _ in range(30):
        cuts = rng.integers(0, system.n_cuts)
        threads = rng.integers(0, system.max_threads + 1, system.n_devices)
        battery = rng.uniform(0, system.capacity_j)
        arrivals = rng.uniform(0, 40, system.n_devices)
        up, down = rng.uniform(1e5, 5e7, (2, system.n_devices))
        irradiance = float(rng.uniform(0, 1000))
        fast = slot_step(system, battery, cuts, threads, arrivals, up, down, irradiance)
        slow = slot_step_reference(system, battery, cuts, threads, arrivals, up, down, irradiance)
        np.testing.assert_allclose(fast.latency_s, slow["latency_s"])
        np.testing.assert_allclose(fast.queue_s, slow["queue_s"])
        np.testing.assert_allclose(fast.battery_j, slow["battery_j"], atol=1e-9)
        np.testing.assert_allclose(fast.served, slow["served"])
        np.testing.assert_allclose(fast.utility, slow["utility"])
        assert fast.reward == pytest.approx(slow["reward"])


def _trajectory(env: gym.Env, steps: int) -> np.ndarray:
    trace = []
    for _ in range(steps):
        obs, reward, *_ = env.step(env.action_space.sample())
        trace += [obs, np.array([reward])]
    return np.concatenate(trace)


def test_same_seed_same_episode():
    def run(seed):
        env = _cuts_env("shi2025-5g")
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        return np.concatenate([obs, _trajectory(env, 6)])

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


@pytest.mark.parametrize("scenario", ["shi2025-5g", "chukhno2023"])
def test_the_explicit_state_continues_an_episode_exactly(scenario):
    """``get_state`` mid-episode into a fresh env (never reset) continues exactly as the first
    env does: batteries, slot, irradiance, the state drawn and the generator are all in it."""
    env = _cuts_env(scenario)
    env.reset(seed=0)
    env.action_space.seed(1)
    _trajectory(env, 5)
    state = env.unwrapped.get_state()
    fresh = _cuts_env(scenario)
    fresh.unwrapped.set_state(state)
    np.testing.assert_array_equal(fresh.unwrapped.observation(), env.unwrapped.observation())
    env.action_space.seed(2)
    fresh.action_space.seed(2)
    np.testing.assert_array_equal(_trajectory(fresh, 8), _trajectory(env, 8))


def test_harvest_follows_the_shipped_irradiance_day():
    """shi2025 Eq. 6 in the env: slot t harvests R(start + t tau) alpha tau, R read here
    straight from the shipped CSV (hourly values)."""
    text = (
        resources.files("edgesplit.data")
        .joinpath("irradiance", "greensboro_tmy3_0621.csv")
        .read_text()
    )
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    hourly = [float(row["ghi_w_m2"]) for row in rows]
    env = SlotMECEnv("shi2025-wifi")
    env.reset(seed=0)
    scenario, alpha = env.scenario, env.system.area_efficiency_m2
    n = env.system.n_devices
    for slot in range(3):
        seconds = scenario.start_s + slot * scenario.slot_s
        local = {"cut": env.system.n_cuts - 1, "threads": _equal(env.threads_total, n)}
        info = env.step(local)[4]
        expected = hourly[int(seconds // 3600)] * alpha * scenario.slot_s
        np.testing.assert_allclose(info["harvested_j"], expected)


def _equal(total: int, n: int) -> np.ndarray:
    return np.array([total // n + (i < total % n) for i in range(n)])


def test_energy_violations_are_counted_not_negative():
    env = SlotMECEnv("shi2025-wifi")
    env.reset(seed=0)
    # VGG-16 locally: about 25 tasks x 8.6 W x 0.24 s = 52 J, more than 0.5 J stored plus the
    # 23 J the panel harvests in a 10:00 slot; the other two have full batteries.
    env.battery_j = np.array([0.5, 13320.0, 13320.0])
    local = {"cut": env.system.n_cuts - 1, "threads": _equal(env.threads_total, 3)}
    _, _, *_, info = env.step(local)
    assert 0 < info["served"][0] < 1 and (info["served"][1:] == 1).all()
    assert info["violations"]["energy"] == 1
    assert info["battery_j"][0] == 0


def test_actions_the_env_refuses_name_the_field():
    env = SlotMECEnv("shi2025-wifi")
    env.reset(seed=0)
    k = env.threads_total
    with pytest.raises(InvalidParameterError, match=r"action\.cut=\[-1, 0, 0\]"):
        env.step({"cut": np.array([-1, 0, 0]), "threads": _equal(k, 3)})
    top = env.system.max_threads + 1  # outside the space: refused (inside it: fitted to K(t))
    with pytest.raises(InvalidParameterError, match=rf"action\.threads=\[{top}, 2, 2\].*0\.\."):
        env.step({"cut": np.zeros(3, int), "threads": np.array([top, 2, 2])})
    *_, info = env.step({"cut": np.zeros(3, int), "threads": np.array([k - 2, 1, 1])})
    assert info["threads"].sum() == k and (info["threads"] >= 2).all()
    with pytest.raises(InvalidParameterError, match="a dict with cut and threads"):
        env.step(np.zeros(3))


def test_wrong_style_and_too_many_threads(tmp_path):
    with pytest.raises(InvalidParameterError, match="slot for SlotMEC"):
        SlotMECEnv("zhang2026")
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\nstyle: slot\n"
        "devices: [{model: resnet34, hardware: jetson-orin-nx, battery_capacity_j: 9}]\n"
        "servers: [{hardware: xeon16, threads: [4, 20]}]\n"
    )
    with pytest.raises(
        InvalidParameterError, match=r"servers.0.threads=\[4, 20\] is invalid: at most 16"
    ):
        SlotMECEnv(str(path))
