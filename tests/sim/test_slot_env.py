"""SlotMEC (shi2025): vectorized step = per-device reference, env contract, determinism, Eq. 19."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import edgesplit.sim  # noqa: F401  (registers the environments)
from edgesplit.errors import InvalidParameterError
from edgesplit.sim.reference import slot_step_reference
from edgesplit.sim.slot import action_to_cuts, latency_by_threads, slot_step
from edgesplit.sim.slot_env import SlotMECEnv


@pytest.fixture(scope="module")
def env() -> SlotMECEnv:
    return gym.make("edgesplit/SlotMEC-v0").unwrapped


@pytest.mark.parametrize("scenario", ["shi2025-wifi", "shi2025-5g", "chukhno2023"])
def test_env_checker(scenario):
    check_env(gym.make("edgesplit/SlotMEC-v0", scenario=scenario).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("scenario", ["shi2025-wifi", "chukhno2023"])
def test_vectorized_step_equals_the_reference(scenario):
    env = gym.make("edgesplit/SlotMEC-v0", scenario=scenario).unwrapped
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


def test_eq19_maps_actions_to_every_cut(env):
    system = env.system
    layers = system.n_cuts - 1
    assert np.array_equal(action_to_cuts(system, -np.ones(3)), np.zeros(3))
    assert np.array_equal(action_to_cuts(system, np.ones(3)), layers)
    grid = np.linspace(-1, 1, 20_001)
    for n in range(3):
        reached = {int(action_to_cuts(system, np.full(3, a))[n]) for a in grid}
        assert reached == set(range(layers[n] + 1))


def test_same_seed_same_episode():
    def run(seed):
        env = gym.make("edgesplit/SlotMEC-v0", scenario="shi2025-5g")
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        trace = [obs]
        for _ in range(6):
            obs, reward, *_ = env.step(env.action_space.sample())
            trace += [obs, np.array([reward])]
        return np.concatenate(trace)

    assert np.array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))


def test_episode_bookkeeping(env):
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3 * 3 + 1,) and obs[3:6].tolist() == env.system.capacity_j.tolist()
    total_threads = int(obs[-1])
    for _ in range(env.scenario.episode_slots):
        obs, _reward, terminated, truncated, info = env.step(np.zeros(3, dtype=np.float32))
        assert info["threads"].sum() == total_threads and (info["threads"] >= 2).all()
        assert np.all(info["battery_j"] >= 0) and np.all(info["battery_j"] <= env.system.capacity_j)
        np.testing.assert_allclose(
            info["latency_s"],
            info["local_s"]
            + info["transmit_s"]
            + info["queue_s"]
            + info["server_s"]
            + info["downlink_s"],
        )
        assert info["utility"].sum() == pytest.approx(_reward)  # DDP's per-device critic targets
        assert not terminated
        total_threads = int(obs[-1])
    assert truncated


def test_ta_lowers_the_summed_latency_against_an_equal_split(env):
    env.reset(seed=1)
    for _ in range(5):
        cuts = np.array([3, 2, 1])
        latency = latency_by_threads(
            env.system, cuts, env.arrivals, env.uplink_bps, env.downlink_bps
        )
        rows = np.arange(3)
        ta = env.allocate_threads(cuts)
        equal = np.array([env.threads_total // 3 + (i < env.threads_total % 3) for i in range(3)])
        assert latency[rows, ta].sum() <= latency[rows, equal].sum() + 1e-12
        env.step(np.zeros(3, dtype=np.float32))


def test_energy_violations_are_counted_not_negative():
    env = gym.make("edgesplit/SlotMEC-v0").unwrapped
    env.reset(seed=0)
    # VGG-16 locally: about 25 tasks x 8.6 W x 0.24 s = 52 J, more than 0.5 J stored plus the
    # 23 J the panel harvests in a 10:00 slot; the other two have full batteries.
    env.battery_j = np.array([0.5, 13320.0, 13320.0])
    _, _, *_, info = env.step(np.ones(3, dtype=np.float32))  # everything local
    assert 0 < info["served"][0] < 1 and (info["served"][1:] == 1).all()
    assert info["violations"]["energy"] == 1
    assert info["battery_j"][0] == 0


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
