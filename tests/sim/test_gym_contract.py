"""Every registered environment takes every action its space holds (Gymnasium's contract), and
the Box versions train with stable-baselines3 as they come from ``gym.make``."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import stable_baselines3  # a dev dependency: make test installs it
from gymnasium.utils.env_checker import check_env

from edgesplit.sim import ENV_OF_STYLE
from edgesplit.sim.slot import fit_threads

IDS = list(ENV_OF_STYLE.values())


@pytest.mark.parametrize("env_id", IDS)
def test_the_checker_passes_and_random_actions_of_the_space_run(env_id):
    """check_env on the raw env (as Gymnasium recommends), then an episode's worth of actions
    sampled from its own space: none is refused."""
    env = gym.make(env_id).unwrapped
    check_env(env, skip_render_check=True)  # raises on a broken contract
    env.reset(seed=3)
    env.action_space.seed(3)
    for _ in range(30):
        total = getattr(env, "threads_total", None)  # SlotMEC's K(t) for this slot
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and np.isfinite(reward)
        if total is not None:  # what ran is an allocation of Eq. 13-14
            assert info["threads"].sum() == total and (info["threads"] >= env.system.k_min).all()
        if terminated or truncated:
            env.reset()


def _allocations(total: int, n: int, k_min: int):
    for split in itertools.product(range(k_min, total + 1), repeat=n):
        if sum(split) == total:
            yield np.array(split)


@pytest.mark.parametrize(("total", "n", "k_min"), [(7, 3, 1), (12, 3, 2), (6, 2, 3), (9, 4, 0)])
def test_fitted_threads_are_an_allocation_and_keep_one(total, n, k_min):
    """An allocation comes back unchanged (every one, enumerated); any request comes back as an
    allocation whose parts above k_min are within one of the request's proportional share."""
    for allocation in _allocations(total, n, k_min):
        np.testing.assert_array_equal(fit_threads(allocation, total, k_min), allocation)
    for request in itertools.product(range(total + 2), repeat=n):
        given = fit_threads(np.array(request), total, k_min)
        assert given.sum() == total and (given >= k_min).all()
        above = np.maximum(np.array(request) - k_min, 0)
        weights = above if above.sum() else np.ones(n)
        share = (total - n * k_min) * weights / weights.sum()
        assert (np.abs(given - k_min - share) < 1).all()


@pytest.mark.filterwarnings("ignore:.*different from the unwrapped version")
@pytest.mark.parametrize("env_id", IDS)
def test_box_versions_decode_every_corner_into_the_raw_space(env_id):
    """0 and 1 everywhere give the raw space's least and greatest entries; random points give
    members of the raw space."""
    env = gym.make(env_id.replace("-v0", "Box-v0"))
    check_env(env, skip_render_check=True)
    wrapper, raw = env.env.env, env.unwrapped  # under gym.make's order and checker wrappers
    size = env.action_space.shape[0]
    low, high = wrapper.action(np.zeros(size)), wrapper.action(np.ones(size))
    for key, space in raw.action_space.spaces.items():
        if isinstance(space, gym.spaces.MultiDiscrete):
            np.testing.assert_array_equal(low[key], space.start)
            np.testing.assert_array_equal(high[key], space.start + space.nvec - 1)
        else:
            np.testing.assert_allclose(low[key], space.low)
            np.testing.assert_allclose(high[key], space.high)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert raw.action_space.contains(wrapper.action(rng.uniform(0, 1, size)))


@pytest.mark.parametrize(("env_id", "algorithm"), [
    ("edgesplit/SlotMECBox-v0", "TD3"),
    ("edgesplit/TaskWindowMECBox-v0", "PPO"),
    ("edgesplit/TimeSlotMECBox-v0", "SAC"),
])  # fmt: skip
def test_stable_baselines3_trains_on_the_registered_box_envs(env_id, algorithm):
    """stable-baselines3 takes the env id itself, trains a few steps and its action steps the
    env."""
    extra = {"n_steps": 32, "batch_size": 32} if algorithm == "PPO" else {"learning_starts": 16}
    model = getattr(stable_baselines3, algorithm)(
        "MlpPolicy", env_id, seed=0, device="cpu", **extra
    )
    model.learn(total_timesteps=48)
    env = gym.make(env_id)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(action.astype(np.float32))
    _, reward, *_ = env.step(action)
    assert np.isfinite(reward)
