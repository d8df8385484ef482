"""PPO keeps an episode's end apart from a time limit: a truncated episode bootstraps from its
own last observation, never from the next episode's first."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.wrappers import TimeLimit

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.ppo import EMHPPO, PPOConfig, gae
from edgesplit.policies.training import Trainer
from edgesplit.sim.scenario import load_scenario


def _by_definition(reward, value, done, bootstrap, last_value, gamma, lam):
    """A_t = sum over l of (gamma lam)^l delta_(t+l) up to the end of t's episode, each delta
    with the value after its step: the next step's, the bootstrap at an episode's end, or
    ``last_value`` after the rollout."""
    steps = len(reward)
    after = [
        bootstrap[t] if done[t] else (value[t + 1] if t + 1 < steps else last_value)
        for t in range(steps)
    ]
    delta = [reward[t] + gamma * after[t] - value[t] for t in range(steps)]
    advantages = np.zeros_like(value)
    for t in range(steps):
        total, weight = np.zeros_like(value[0]), 1.0
        for u in range(t, steps):
            total = total + weight * delta[u]
            if done[u]:
                break
            weight *= gamma * lam
        advantages[t] = total
    return advantages


def test_gae_equals_its_definition_with_ends_and_time_limits():
    rng = np.random.default_rng(3)
    steps, values = 40, 2
    reward = rng.normal(size=(steps, values))
    value = rng.normal(size=(steps, values))
    done = (rng.random(steps) < 0.15).astype(np.float32)
    truncated = done.astype(bool) & (rng.random(steps) < 0.5)
    bootstrap = np.where(truncated[:, None], rng.normal(size=(steps, values)), 0.0)
    last = rng.normal(size=values)
    np.testing.assert_allclose(
        gae(reward, value, done, bootstrap, last, 0.95, 0.9),
        _by_definition(reward, value, done, bootstrap, last, 0.95, 0.9),
        rtol=1e-12,
    )


@pytest.mark.slow  # a PPO rollout and update (gae's own test runs in make test)
def test_a_truncated_episode_is_stored_as_ended_with_its_own_bootstrap(tmp_path):
    """Episodes cut by a time limit every 5 steps: each 5th step of a rollout is stored as an
    end (the next step belongs to another episode) with the critic's value of that episode's
    own last observation; the steps between are not ends."""
    scenario = load_scenario("zhang2026-small")
    policy = EMHPPO(scenario, seed=0, config=PPOConfig(rollout_steps=20, minibatch=10, epochs=1))
    env = TimeLimit(policy.training_env(), max_episode_steps=5)
    seen = []
    update = policy._update

    def recording(rollout, last_value, optimizer, rng):
        data = {key: value.copy() for key, value in rollout.arrays.items()}
        with torch.no_grad():  # the critic as it was during the rollout (it changes next)
            data["own"] = np.stack([
                policy.net.value(policy._scaled(obs)[None])[0].numpy() for obs in observations
            ])  # fmt: skip
        seen.append(data)
        update(rollout, last_value, optimizer, rng)

    policy._update = recording
    observations = []
    step = env.step

    def remembering(action):
        result = step(action)
        observations.append(result[0])
        return result

    env.step = remembering
    Trainer(
        env, 20, 0, tmp_path, eval_every=20, eval_episodes=1, evaluate=lambda p, s: 0.0,
        show_progress=False,
    ).run(policy)  # fmt: skip
    (data,) = seen
    ends = np.flatnonzero(data["done"])
    assert list(ends) == [4, 9, 14, 19]
    np.testing.assert_allclose(data["bootstrap"][ends], data["own"][ends], rtol=1e-6)
    assert np.all(data["bootstrap"][ends] != 0)  # not the terminal 0
    assert not np.any(data["bootstrap"][np.flatnonzero(data["done"] == 0)])


def test_a_checkpoint_whose_rollout_lacks_a_field_is_refused_in_one_line():
    """A rollout saved before ``bootstrap`` existed (or by another config) is named, not a
    KeyError in the middle of training."""
    saved = EMHPPO("zhang2026-small")._rollout(4).state_dict()["arrays"]
    old = {key: value for key, value in saved.items() if key != "bootstrap"}
    with pytest.raises(InvalidParameterError, match="differ in bootstrap"):
        EMHPPO("zhang2026-small")._rollout(4).load_state_dict({"arrays": old, "added": 2})
