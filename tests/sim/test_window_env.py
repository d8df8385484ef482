"""TaskWindowMEC and TimeSlotMEC (zhang2026): reference equality, env contract, determinism."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import edgesplit.sim  # noqa: F401
from edgesplit.contract import Decision
from edgesplit.errors import InvalidParameterError
from edgesplit.sim.reference import window_step_reference
from edgesplit.sim.window import window_step
from edgesplit.sim.window_env import TaskWindowMECEnv, TimeSlotMECEnv


@pytest.mark.parametrize("env_id", ["edgesplit/TaskWindowMEC-v0", "edgesplit/TimeSlotMEC-v0"])
def test_env_checker(env_id):
    check_env(gym.make(env_id).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("runtime", [False, True])
def test_vectorized_window_equals_the_reference(runtime):
    env = gym.make("edgesplit/TaskWindowMEC-v0").unwrapped
    if runtime:  # the runtime's measured overheads, every codec allowed
        from .test_slot_env import with_runtime

        env = TaskWindowMECEnv(with_runtime("zhang2026"))
    env.reset(seed=2)
    env.action_space.seed(2)
    rng = np.random.default_rng(3)
    for _ in range(40):
        a = env.action_space.sample()
        remaining = rng.integers(0, 7, env.system.n_devices)
        fast = window_step(env.system, remaining, Decision.from_action(a), env.gain)
        slow = window_step_reference(
            env.system, remaining, a["window"], a["cut"], a["channel"], a["server"],
            a["power_w"].astype(float), env.gain,
        )  # fmt: skip
        np.testing.assert_allclose(fast.device_latency_s, slow["device_latency_s"])
        assert fast.energy_j == pytest.approx(slow["energy_j"])
        assert fast.reward == pytest.approx(slow["reward"])
        assert list(fast.window) == slow["window"]


def test_local_only_matches_the_papers_table_iv():
    """All local, one task per window: every task takes L_local = 43.0 ms and costs
    zeta x 4,089 MMACs = 0.0409 J (zhang2026 Table IV's local-only row, per task)."""
    env = gym.make("edgesplit/TaskWindowMEC-v0").unwrapped
    env.reset(seed=0)
    n = env.system.n_devices
    local = env.system.n_cuts - 1
    action = {
        "window": np.ones(n, dtype=np.int64),
        "cut": np.tile(local[:, None], (1, 5)),
        "channel": np.zeros((n, 5), dtype=np.int64),
        "server": np.zeros((n, 5), dtype=np.int64),
        "power_w": np.zeros((n, 5), dtype=np.float32),
    }
    _, reward, _, _, info = env.step(action)
    np.testing.assert_allclose(info["device_latency_s"], 2150.75 / 50 / 1e3, rtol=1e-6)
    assert info["energy_j"] / n == pytest.approx(0.0409, abs=5e-5)
    assert info["waiting_s"] == pytest.approx(0.0, abs=1e-12)
    assert reward == pytest.approx(-(0.043015 + 50 / n * info["energy_j"]))


def test_episodes_end_when_all_tasks_are_done_and_repeat_under_a_seed():
    def run(seed):
        env = gym.make("edgesplit/TaskWindowMEC-v0")
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        rewards, total = [], int(obs[:3].sum())
        while True:
            obs, reward, terminated, _truncated, info = env.step(env.action_space.sample())
            rewards.append(reward)
            if terminated:
                break
        assert info["completed"] == total and (obs[:3] == 0).all()
        return rewards

    assert run(4) == run(4)


def test_interference_and_sharing_raise_latency():
    env = gym.make("edgesplit/TaskWindowMEC-v0").unwrapped
    env.reset(seed=0)
    n = env.system.n_devices
    gain = np.full(n, 1e-5)

    def latency(channels, servers):
        decision = Decision(
            cut=np.zeros((n, 5), dtype=np.int64), window=np.ones(n, dtype=np.int64),
            channel=channels, server=servers, power_w=np.ones((n, 5)),
        )  # fmt: skip
        return window_step(env.system, np.full(n, 5), decision, gain)

    apart = latency(np.array([[0] * 5, [1] * 5, [0] * 5]), np.array([[0] * 5, [1] * 5, [1] * 5]))
    together = latency(np.zeros((n, 5), dtype=np.int64), np.zeros((n, 5), dtype=np.int64))
    assert together.costs.rate_bps[1, 0] < apart.costs.rate_bps[1, 0]  # device 1 gains interferers
    assert together.costs.server_s[1, 0] == pytest.approx(3 * apart.costs.server_s[1, 0] / 2)


def test_time_slot_variant_carries_work_over():
    env = gym.make("edgesplit/TimeSlotMEC-v0").unwrapped
    env.reset(seed=0)
    n = env.system.n_devices
    local = {
        "cut": env.system.n_cuts - 1,
        "channel": np.zeros(n, dtype=np.int64),
        "server": np.zeros(n, dtype=np.int64),
        "power_w": np.zeros(n, dtype=np.float32),
    }
    _, reward, _, _, info = env.step(local)  # 43 ms tasks in 50 ms slots: two start
    assert info["started"].tolist() == [2, 2, 2]
    np.testing.assert_allclose(info["busy_s"], 2 * 0.043015 - 0.05, rtol=1e-6)
    _, _, _, _, info = env.step(local)
    assert info["started"].tolist() == [1, 1, 1]
    assert reward < 0


def test_style_checks():
    with pytest.raises(InvalidParameterError, match="task_window for TaskWindowMECEnv"):
        TaskWindowMECEnv("shi2025-wifi")
    with pytest.raises(InvalidParameterError, match="task_window or time_slot"):
        TimeSlotMECEnv("shi2025-wifi")


def test_difference_rewards_are_aligned_with_the_joint_reward() -> None:
    """Changing one device's action moves its difference reward exactly as much as Eq. 8's
    joint reward (the counterfactual without that device does not depend on its action), and a
    device alone in the window is credited with the whole reward."""
    env = TaskWindowMECEnv("zhang2026-small", difference_rewards=True)
    rng = np.random.default_rng(3)
    for trial in range(20):
        env.reset(seed=trial)
        state = env.np_random.bit_generator.state
        first = {k: np.asarray(v) for k, v in env.action_space.sample().items()}
        changed = {k: v.copy() for k, v in first.items()}
        device = int(rng.integers(env.system.n_devices))
        other = {k: np.asarray(v) for k, v in env.action_space.sample().items()}
        for key in changed:
            changed[key][device] = other[key][device]
        outcomes = []
        for action in (first, changed):
            env.reset(seed=trial)
            env.np_random.bit_generator.state = state
            _, reward, *_, info = env.step(action)
            outcomes.append((reward, info["difference_reward"]))
        (r1, d1), (r2, d2) = outcomes
        assert d2[device] - d1[device] == pytest.approx(r2 - r1, rel=1e-9, abs=1e-9)
    alone = TaskWindowMECEnv("zhang2026-small", difference_rewards=True)
    alone.reset(seed=0)
    alone.remaining[1:] = 0
    _, reward, *_, info = alone.step(
        {k: np.asarray(v) for k, v in alone.action_space.sample().items()}
    )
    assert info["difference_reward"][0] == pytest.approx(reward)
    assert np.allclose(info["difference_reward"][1:], 0.0)


@pytest.mark.parametrize("env_class", [TaskWindowMECEnv, TimeSlotMECEnv])
def test_the_explicit_state_continues_an_episode_exactly(env_class):
    env = env_class("zhang2026-small")
    env.reset(seed=5)
    env.action_space.seed(0)
    for _ in range(2):
        env.step(env.action_space.sample())
    fresh = env_class("zhang2026-small")
    fresh.set_state(env.get_state())
    np.testing.assert_array_equal(fresh.observation(), env.observation())
    for _ in range(3):
        action = env.action_space.sample()
        a, b = env.step(action), fresh.step(action)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1] == b[1]


def test_actions_the_env_refuses_name_the_field():
    env = TaskWindowMECEnv("zhang2026-small")
    env.reset(seed=0)
    action = {k: np.asarray(v) for k, v in env.action_space.sample().items()}
    with pytest.raises(InvalidParameterError, match=r"action\.window=\[0, 1\]"):
        env.step({**action, "window": np.array([0, 1])})
    with pytest.raises(InvalidParameterError, match=r"action\.power_w"):
        env.step({**action, "power_w": np.full((2, 5), 2.0, np.float32)})
    with pytest.raises(InvalidParameterError, match="a dict with window, cut"):
        env.step({k: v for k, v in action.items() if k != "server"})


def test_a_time_slot_episode_that_outlasts_its_horizon_is_truncated():
    """Slots that start nothing do not end an episode: past the horizon it is truncated, and the
    metrics count the tasks never started."""
    from edgesplit.contract import Decision
    from edgesplit.policies.evaluate import episode_metrics

    env = TimeSlotMECEnv("zhang2026-small")
    system = env.system
    local_s = system.head_s[system.row_offset[:, 0] + system.n_cuts - 1].max()
    assert env.max_slots == int(np.ceil(10 * env.task_cap * local_s / env.slot_s))
    env.max_slots = 3
    env.reset(seed=0)
    n = system.n_devices
    local = Decision(cut=system.n_cuts - 1, channel=np.zeros(n, dtype=np.int64),
                     server=np.zeros(n, dtype=np.int64), power_w=np.zeros(n))  # fmt: skip
    steps = []
    for k in range(3):
        _, reward, terminated, truncated, info = env.step(local.as_action(env.action_fields))
        steps.append((reward, info))
        assert not terminated and truncated == (k == 2)
    assert info["unfinished"] == env.remaining.sum() > 0
    assert episode_metrics(steps)["unfinished"] == info["unfinished"]
