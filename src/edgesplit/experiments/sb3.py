"""Cross-check of DDP (shi2025 Alg. 2, our DDPG) with stable-baselines3's DDPG and TD3 on the
same env (SlotMEC-v0 with TA applied to the cuts, Eq. 19 on the actor's output), same steps, same
seeds: ``edgesplit reproduce shi2025-sb3``.

Each agent's utility per slot (mean and 95 % CI over held-out evaluation episodes) next to
DADS + TA and the exact per-slot optimum, with the training wall time. stable-baselines3 is a
dev dependency (``pip install 'edgesplit[dev]'``), imported only here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from edgesplit.contract import SlotState
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.experiments.harness import Experiment, Row, page, pyplot, save_png, task_policy
from edgesplit.experiments.sweep import Task
from edgesplit.policies.slot import SlotPolicy
from edgesplit.policies.threads import TA
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
        from edgesplit.policies.ddpg import action_to_cuts

        action, _ = self.model.predict(state.encode(), deterministic=True)
        return action_to_cuts(self.system, np.asarray(action, dtype=np.float64))


def train_sb3(
    algorithm: str, scenario: Scenario, steps: int, seed: int, out: str | Path | None = None
) -> SB3Policy:
    """Train SB3's DDPG or TD3 (Gaussian action noise 0.2, gamma 0.9 as DDP) on the env DDP
    trains in (``DDPPolicy.training_env``: Eq. 19 actions, TA threads)."""
    if algorithm not in ALGORITHMS:
        raise InvalidParameterError("algorithm", algorithm, f"one of {', '.join(ALGORITHMS)}")
    try:
        import stable_baselines3
        from stable_baselines3.common.noise import NormalActionNoise
    except ImportError:
        raise EdgesplitError(
            "the stable-baselines3 cross-check needs stable-baselines3: "
            "pip install 'edgesplit[dev]'"
        ) from None

    from edgesplit.policies.ddpg import Eq19Actions

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


def _tasks(quick: bool, seeds: int | None) -> list[Task]:
    agents = ("sb3-td3", "dads+ta") if quick else ("sb3-ddpg", "sb3-td3", "ddp+ta", "dads+ta",
                                                   "optimum")  # fmt: skip
    return [{"scenario": "shi2025-5g", "policy": a, "steps": 200 if quick else 30_000, "seed": s}
            for a in agents for s in range(seeds or 1)]  # fmt: skip


def cross_check(task: Task) -> Row:
    """Train the task's agent (an SB3 one, or a learner of ours) for ``task["steps"]`` steps,
    then its utility, latency and energy over 5 held-out evaluation episodes (the trainer's
    evaluation seeds from the task's seed on), as ``edgesplit evaluate``."""
    from edgesplit.policies.evaluate import evaluate
    from edgesplit.policies.training import EVAL_SEED_BASE

    started = time.perf_counter()
    if task["policy"].startswith("sb3-"):
        scenario = load_scenario(task["scenario"])
        agent = train_sb3(task["policy"].removeprefix("sb3-"), scenario, task["steps"],
                          task["seed"])  # fmt: skip
        [summary] = evaluate({task["policy"]: lambda: agent}, scenario, 5,
                             EVAL_SEED_BASE + task["seed"])  # fmt: skip
    else:
        with task_policy(task) as (scenario, policy):
            [summary] = evaluate({task["policy"]: lambda: policy}, scenario, 5,
                                 EVAL_SEED_BASE + task["seed"])  # fmt: skip
    return {"utility": summary.mean["utility"], "utility_ci95": summary.half_width["utility"],
            "latency_s": summary.mean["latency_s"], "energy_j": summary.mean["energy_j"],
            "wall_s": time.perf_counter() - started}  # fmt: skip


def _report(tasks: list[Task], results: list[Row], out: Path) -> str:
    plt = pyplot()
    lines = ["| agent | training steps | utility per slot | E2E latency (ms) | energy per device "
             "and slot (J) | wall time (s) |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    figure, axis = plt.subplots(figsize=(6.4, 3.4))
    for i, (task, r) in enumerate(zip(tasks, results, strict=True)):
        trained = task["steps"] if task["policy"].startswith(("sb3-", "ddp")) else "-"
        lines.append(
            f"| {task['policy']} | {trained} | {r['utility']:.3f} ± {r['utility_ci95']:.3f} | "
            f"{1e3 * r['latency_s']:.1f} | {r['energy_j']:.2f} | {r['wall_s']:.0f} |"
        )
        axis.bar(i, r["utility"], yerr=r["utility_ci95"], color=f"C{i}")
    axis.set_xticks(range(len(tasks)), [t["policy"] for t in tasks], fontsize=8)
    axis.set_ylabel("utility per slot (Eq. 10)")
    axis.set_xlabel("policy")
    image = save_png(figure, out, "shi2025-sb3")
    claim = (
        "shi2025 trains DDP (its DDPG, Alg. 2); a second, independent implementation of the "
        "same algorithm family should land in the same place. Here: stable-baselines3's DDPG "
        "and TD3 trained on the env DDP trains in (Eq. 19 actions, TA threads), the same steps "
        "and seed, beside DDP, DADS + TA and the per-slot optimum; 5 held-out episodes each."
    )
    return page(claim, lines, image)


EXPERIMENTS = [
    Experiment(
        "shi2025-sb3",
        "shi2025 Alg. 2 (DDP) cross-checked with stable-baselines3",
        "SB3's DDPG and TD3 against DDP on shi2025-5g, same env, steps and seed (needs "
        "stable-baselines3: the dev extra).",
        _tasks,
        cross_check,
        _report,
    ),
]
