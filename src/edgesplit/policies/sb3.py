"""stable-baselines3 agents as edgesplit policies: the cross-check of DDP (shi2025 Alg. 2) with a
second, independent DDPG/TD3 implementation on the same ``SlotMEC-v0`` env (TA in its step).

stable-baselines3 is a dev dependency; this module imports it only when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.slot import SlotPolicy
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.slot import SlotState, action_to_cuts

ALGORITHMS = ("ddpg", "td3")


class SB3Policy(SlotPolicy):
    """Cuts from an SB3 actor's deterministic action (Eq. 19), threads from the allocator."""

    name = "sb3"

    def __init__(
        self, scenario: str | Scenario, model: Any, seed: int = 0, allocator: str | None = None
    ) -> None:
        super().__init__(scenario, seed, allocator)
        self.model = model

    def cuts(self, state: SlotState) -> np.ndarray:
        action, _ = self.model.predict(state.observation(), deterministic=True)
        return action_to_cuts(self.system, np.asarray(action, dtype=np.float64))


def train_sb3(
    algorithm: str, scenario: Scenario, steps: int, seed: int, out: str | Path | None = None
) -> SB3Policy:
    """Train SB3's DDPG or TD3 (Gaussian action noise 0.2, gamma 0.9 as DDP) on SlotMEC-v0."""
    if algorithm not in ALGORITHMS:
        raise InvalidParameterError("algorithm", algorithm, f"one of {', '.join(ALGORITHMS)}")
    import stable_baselines3
    from stable_baselines3.common.noise import NormalActionNoise

    from edgesplit.policies.evaluate import make_env

    env = make_env(scenario, allocator="ta")
    n = env.action_space.shape[0]
    cls = {"ddpg": stable_baselines3.DDPG, "td3": stable_baselines3.TD3}[algorithm]
    model = cls(
        "MlpPolicy", _scaled(env), gamma=0.9, learning_starts=min(1_000, steps // 2),
        action_noise=NormalActionNoise(np.zeros(n), np.full(n, 0.2)), seed=seed, verbose=0,
        device="cpu",
    )  # fmt: skip
    model.learn(total_timesteps=steps)
    if out is not None:
        model.save(out)
    return SB3Policy(scenario, _ScaledModel(model, env), seed, allocator="ta")


def _scale(env) -> np.ndarray:
    return np.maximum(env.observation_space.high.astype(np.float64), 1e-9)


def _scaled(env):
    """The env with observations scaled to [0, 1] by its bounds (as DDP sees them)."""
    import gymnasium as gym

    scale = _scale(env)
    space = gym.spaces.Box(0.0, 1.0, env.observation_space.shape, dtype=np.float32)
    return gym.wrappers.TransformObservation(
        env, lambda obs: (obs / scale).astype(np.float32), space
    )


class _ScaledModel:
    """A trained model that takes the env's raw observations."""

    def __init__(self, model: Any, env) -> None:
        self.model, self.scale = model, _scale(env)

    def predict(self, observation: np.ndarray, deterministic: bool = True):
        return self.model.predict((observation / self.scale).astype(np.float32), deterministic)
