"""Cross-check of DDP (shi2025 Alg. 2, our DDPG) with stable-baselines3's DDPG and TD3 on the
same env (SlotMEC-v0 with TA applied to the cuts, Eq. 19 on the actor's output), same steps, same
seeds.

    python -m edgesplit.experiments.sb3 --scenario shi2025-5g --steps 30000

Prints each agent's utility per slot (mean ± 95 % CI over evaluation episodes) next to DADS+TA
and the exact per-slot optimum, with the training wall time. DDP's policy file comes from
``edgesplit train ddp+ta`` (``--ddp runs/ddp/policy.pt``); without it DDP is left out.
stable-baselines3 is a dev dependency, imported only here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from edgesplit.contract import SlotState
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.ddpg import Eq19Actions, action_to_cuts
from edgesplit.policies.evaluate import evaluate
from edgesplit.policies.registry import make_policy
from edgesplit.policies.slot import SlotPolicy
from edgesplit.sim import ThreadAllocation, make_env
from edgesplit.sim.scenario import Scenario, load_scenario

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
        action, _ = self.model.predict(state.encode(), deterministic=True)
        return action_to_cuts(self.system, np.asarray(action, dtype=np.float64))


def train_sb3(
    algorithm: str, scenario: Scenario, steps: int, seed: int, out: str | Path | None = None
) -> SB3Policy:
    """Train SB3's DDPG or TD3 (Gaussian action noise 0.2, gamma 0.9 as DDP) on the env DDP
    trains in (``DDPPolicy.training_env``: Eq. 19 actions, TA threads)."""
    if algorithm not in ALGORITHMS:
        raise InvalidParameterError("algorithm", algorithm, f"one of {', '.join(ALGORITHMS)}")
    import stable_baselines3
    from stable_baselines3.common.noise import NormalActionNoise

    from edgesplit.policies.threads import TA

    env = Eq19Actions(ThreadAllocation(make_env(scenario), TA()))
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


def _scale(env: gym.Env) -> np.ndarray:
    return np.maximum(env.observation_space.high.astype(np.float64), 1e-9)


def _scaled(env: gym.Env) -> gym.Env:
    """The env with observations scaled to [0, 1] by its bounds (as DDP sees them)."""
    scale = _scale(env)
    space = gym.spaces.Box(0.0, 1.0, env.observation_space.shape, dtype=np.float32)
    return gym.wrappers.TransformObservation(
        env, lambda obs: (obs / scale).astype(np.float32), space
    )


class _ScaledModel:
    """A trained model that takes the env's raw observations."""

    def __init__(self, model: Any, env: gym.Env) -> None:
        self.model, self.scale = model, _scale(env)

    def predict(self, observation: np.ndarray, deterministic: bool = True):
        return self.model.predict((observation / self.scale).astype(np.float32), deterministic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="shi2025-5g")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--ddp", default=None, help="a trained ddp+ta policy.pt")
    parser.add_argument("--algorithms", default="ddpg,td3", help="SB3 agents, comma-separated")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    built, wall_s = {}, {}
    for algorithm in args.algorithms.split(","):
        started = time.perf_counter()
        trained = train_sb3(algorithm, scenario, args.steps, args.seed)
        wall_s[f"sb3-{algorithm}"] = time.perf_counter() - started
        built[f"sb3-{algorithm}"] = lambda trained=trained: trained
    if args.ddp:
        built["ddp+ta"] = lambda: make_policy("ddp+ta", scenario, checkpoint=args.ddp)
    for name in ("dads+ta", "optimum"):
        built[name] = lambda name=name: make_policy(name, scenario)
    print(f"{args.scenario}: {args.steps} training steps, {args.episodes} evaluation episodes")
    for summary in evaluate(built, scenario, args.episodes, 1_000_000 + args.seed):
        train = f"  trained in {wall_s[summary.policy]:.0f} s" if summary.policy in wall_s else ""
        print(
            f"{summary.policy:>10}: utility {summary.mean['utility']:.3f} "
            f"± {summary.half_width['utility']:.3f}{train}"
        )


if __name__ == "__main__":
    main()
