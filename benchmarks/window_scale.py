"""zhang2026's deciders at 2, 3, 100 and 1,000 devices: time per decision, an episode's reward, the
simulator's steps per second, and the PPO learners' training time.

    python benchmarks/window_scale.py [--presets zhang2026-small,zhang2026,zhang2026-100,...]
        [--planner-budget 0.25,1.0] [--learner-steps 1024] [--learners h-ppo,mahppo]
    (``--learners ""`` skips the learners)

Per preset, seed 0, one episode per decider: ``local``, ``random``, ``agilenn``,
``repeated-optimum`` (which refuses instances past its limit, and says so), and ``planner``: on
up to 8 devices as shipped (deterministic rounds; its time per decision also as a ratio to
repeated-optimum's in the same run), on larger presets with ``budget_s`` seconds per decision
(``--set budget_s``), one row per budget (the anytime search returns its best plan when the
time is up: its moves read the clock between candidates); each row also gives the longest
decision.
The learners train ``--learner-steps`` steps into a temporary folder (one rollout is 512
steps): the seconds per 10,000 steps are extrapolated from that, and their decision time is
the untrained network's.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.evaluate import run_episode
from edgesplit.policies.planner import WindowPlanner
from edgesplit.policies.registry import make_policy
from edgesplit.policies.training import train_policy
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario


def timed_episode(policy, env, seed: int = 0) -> tuple[dict[str, float], float, int, float]:
    """An episode's metrics, the mean seconds per decision, the number of windows and the
    longest decision's seconds."""
    times = []
    decide = policy.decide

    def timed(observation):
        start = time.perf_counter()
        decision = decide(observation)
        times.append(time.perf_counter() - start)
        return decision

    policy.decide = timed
    metrics = run_episode(policy, env, seed)
    return metrics, float(np.mean(times)), len(times), float(np.max(times))


def env_steps_per_s(scenario, seconds: float = 2.0) -> float:
    """Window steps per second of the env with local-only decisions (the decider costs ~0)."""
    env = decision_env(scenario)
    decision = make_policy("local", scenario).decide(env.reset(seed=0)[0])
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, terminated, _, _ = env.step(decision)
        steps += 1
        if terminated:
            env.reset(seed=steps)
    return steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", default="zhang2026,zhang2026-100,zhang2026-1000")
    parser.add_argument("--planner-budget", default="1.0", help="seconds, comma-separated")
    parser.add_argument("--learner-steps", type=int, default=1024)
    parser.add_argument("--learners", default="h-ppo,mahppo")
    args = parser.parse_args()
    for name in args.presets.split(","):
        scenario = load_scenario(name)
        n = scenario.device_count
        print(f"\n{name}: {n} devices, {scenario.server_count} servers, "
              f"{scenario.radio.channels} channels")  # fmt: skip
        print(f"  env: {env_steps_per_s(scenario):,.0f} window steps/s (local decisions)")
        env = decision_env(scenario)
        budgets = [float(b) for b in args.planner_budget.split(",")]
        deciders = ["local", "random", "agilenn", "repeated-optimum"]
        deciders += (
            [f"planner@{b:g}" for b in budgets] if n > WindowPlanner.small_devices else ["planner"]
        )
        per_decision_s = {}
        for policy_name in deciders:
            start = time.perf_counter()
            try:
                if policy_name.startswith("planner@"):
                    budget = policy_name.split("@")[1]
                    policy = make_policy("planner", scenario, settings={"budget_s": budget})
                    policy_name = f"planner ({budget} s budget)"
                else:
                    policy = make_policy(policy_name, scenario)
            except InvalidParameterError as error:
                print(f"  {policy_name:28s} refuses: {error}")
                continue
            setup = time.perf_counter() - start
            metrics, per_decision, windows, longest = timed_episode(policy, env)
            per_decision_s[policy_name] = per_decision
            print(f"  {policy_name:28s} reward {metrics['reward']:12.4g}  "
                  f"energy/task {metrics['energy_per_task_j']:9.4g} J  "
                  f"{per_decision * 1e3:9.2f} ms/decision (longest {longest * 1e3:.1f})  "
                  f"({windows} windows, set-up {setup:.1f} s)")  # fmt: skip
        if {"planner", "repeated-optimum"} <= per_decision_s.keys():
            ratio = per_decision_s["planner"] / per_decision_s["repeated-optimum"]
            print(f"  planner / repeated-optimum, time per decision: {ratio:.2f}")
        for learner in filter(None, args.learners.split(",")):
            with tempfile.TemporaryDirectory() as folder:
                start = time.perf_counter()
                train_policy(
                    learner, name, args.learner_steps, 0, folder,
                    eval_every=args.learner_steps * 10, show_progress=False,
                )  # fmt: skip
                per_10k = (time.perf_counter() - start) / args.learner_steps * 10_000
            policy = make_policy(learner, scenario)
            _, per_decision, _, _ = timed_episode(policy, env)
            print(f"  {learner:28s} training {per_10k:8.0f} s per 10k steps  "
                  f"{per_decision * 1e3:9.2f} ms/decision (untrained network)")  # fmt: skip


if __name__ == "__main__":
    main()
