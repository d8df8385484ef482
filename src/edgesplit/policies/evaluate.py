"""Running policies in the simulator: one episode's metrics, and a table over seeds with
confidence intervals (Student t over episodes)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from scipy import stats

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.base import Policy
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.window_bound import episode_bound, unbounded

SLOT_PARTS = ("local_s", "transmit_s", "queue_s", "server_s", "downlink_s")
SCORE_OF_STYLE = {"slot": "utility", "task_window": "reward", "time_slot": "reward"}


def episode_steps(policy: Policy, env: gym.Env, seed: int) -> list[tuple[float, dict]]:
    """One episode of ``policy`` in ``env`` (stepped with Decisions: ``sim.decision_env``): its
    (reward, info) steps."""
    obs, _ = env.reset(seed=seed)
    policy.reset(seed)
    steps = []
    while True:
        obs, reward, terminated, truncated, info = env.step(policy.decide(obs))
        steps.append((reward, info))
        if terminated or truncated:
            return steps


def run_episode(policy: Policy, env: gym.Env, seed: int) -> dict[str, float]:
    """One episode of ``policy`` in ``env``: the metrics of its style (``episode_metrics``)."""
    return episode_metrics(episode_steps(policy, env, seed))


def episode_metrics(steps: list[tuple[float, dict]]) -> dict[str, float]:
    """An episode's metrics by its style (``SCORE_OF_STYLE`` names the one training
    maximises)."""
    if "violations" in steps[-1][1]:
        return _slot_metrics(steps)
    if "started" in steps[-1][1]:
        return _time_slot_metrics(steps)
    return _window_metrics(steps)


def _slot_metrics(steps: list[tuple[float, dict]]) -> dict[str, float]:
    """shi2025: utility per slot, mean latency and its parts, energy per device and slot,
    violations."""
    parts = (*SLOT_PARTS, "latency_s")
    violations = steps[-1][1]["violations"]
    learned = (  # with learned options: the share of device-slots that ran one
        {"learned_share": float(np.mean([info["learned"].mean() for _, info in steps]))}
        if "learned" in steps[-1][1]
        else {}
    )
    return {
        "utility": float(np.mean([reward for reward, _ in steps])),
        **{key: float(np.mean([np.mean(info[key]) for _, info in steps])) for key in parts},
        "energy_j": float(np.mean([info["energy_j"].mean() for _, info in steps])),
        "violations": float(violations["energy"] + violations["queue"]),
        **learned,
    }


def _window_metrics(steps: list[tuple[float, dict]]) -> dict[str, float]:
    """zhang2026 Sec. V-A: the episode's reward (Eq. 8 summed), total inference latency (until
    every device has finished its tasks), energy per task and waiting time per task."""
    tasks = steps[-1][1]["completed"]
    return {
        "reward": float(sum(reward for reward, _ in steps)),
        "total_latency_s": float(sum(info["duration_s"] for _, info in steps)),
        "energy_per_task_j": float(sum(info["energy_j"] for _, info in steps) / tasks),
        "waiting_per_task_s": float(
            sum(info["waiting_s"] * (info["window"] > 0).sum() for _, info in steps) / tasks
        ),
    }


def _time_slot_metrics(steps: list[tuple[float, dict]]) -> dict[str, float]:
    """zhang2026's time-based MDP: the rewards summed, the total inference latency (full slots
    until the last, then the longest work of a device in it; an episode the env truncated
    counts its slots and its carried work), the energy per task started and the tasks never
    started (``unfinished``: nonzero only in a truncated episode)."""
    busy_before = steps[-2][1]["busy_s"] if len(steps) > 1 else 0.0
    last = steps[-1][1]
    in_last = busy_before + last["started"] * last["task_latency_s"]
    tasks = sum(int(info["started"].sum()) for _, info in steps)
    return {
        "reward": float(sum(reward for reward, _ in steps)),
        "total_latency_s": float((len(steps) - 1) * last["slot_s"] + np.max(in_last)),
        "energy_per_task_j": float(sum(info["energy_j"] for _, info in steps) / max(tasks, 1)),
        "unfinished": float(last["unfinished"]),
    }


@dataclass(frozen=True)
class Summary:
    """Mean and 95 % confidence half-width of each metric over episodes."""

    policy: str
    episodes: int
    mean: dict[str, float]
    half_width: dict[str, float]

    def record(self) -> dict[str, object]:
        return {"policy": self.policy, "episodes": self.episodes, "mean": self.mean,
                "ci95": self.half_width}  # fmt: skip


def summarize(policy: str, runs: Sequence[dict[str, float]]) -> Summary:
    mean, half = {}, {}
    for key in runs[0]:
        values = np.array([r[key] for r in runs])
        mean[key] = float(values.mean())
        if len(values) > 1 and values.std(ddof=1) > 0:
            sem = values.std(ddof=1) / np.sqrt(len(values))
            half[key] = float(stats.t.ppf(0.975, len(values) - 1) * sem)
        else:
            half[key] = 0.0
    return Summary(policy, len(runs), mean, half)


def evaluate(
    policies: dict[str, Callable[[], Policy]],
    scenario: Scenario,
    episodes: int,
    seed: int,
    progress: Callable[[str, int], None] | None = None,
    bounds: Sequence[float] | None = None,
) -> list[Summary]:
    """Every policy on the same ``episodes`` seeds (seed, seed + 1, ...). With ``bounds`` (one
    per seed, e.g. ``episode_bounds``), each episode's ``gap_to_bound`` is its bound minus its
    reward."""
    if episodes < 1:
        raise InvalidParameterError("episodes", episodes, ">= 1")
    if not policies:
        raise InvalidParameterError("policies", "", "at least one policy name")
    summaries = []
    for name, build in policies.items():
        policy = build()
        env = decision_env(scenario)
        runs = []
        for episode in range(episodes):
            runs.append(run_episode(policy, env, seed + episode))
            if bounds is not None:
                runs[-1]["gap_to_bound"] = bounds[episode] - runs[-1]["reward"]
            if progress:
                progress(name, episode + 1)
        summaries.append(summarize(name, runs))
    return summaries


def episode_bounds(
    scenario: Scenario,
    episodes: int,
    seed: int,
    progress: Callable[[str, int], None] | None = None,
) -> list[float] | None:
    """The certified bound on the return of each seed's episode (``sim.window_bound``), or None
    where the scenario has none (another style, more devices than it covers)."""
    if unbounded(scenario) is not None:
        return None
    out = []
    for episode in range(episodes):
        out.append(episode_bound(scenario, seed + episode).reward)
        if progress:
            progress("the bound", episode + 1)
    return out
