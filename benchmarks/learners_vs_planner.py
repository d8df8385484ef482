"""Trained learners and the planner side by side on the same seeds: reward, energy per task, the
share of the reference decider's reward, and milliseconds per decision.

    python benchmarks/learners_vs_planner.py --scenario zhang2026 --episodes 5 \\
        --policies planner,emh-ppo=runs/guided/policy.pt,repeated-optimum
    python benchmarks/learners_vs_planner.py --scenario zhang2026-100 --episodes 10 \\
        --policies planner,slot-ppo=runs/slot/policy.pt,greedy,local --set budget_s=0.25

The first policy is the reference (its share is 100 %); with negative rewards (zhang2026's
Eq. 8) the share is reference / learner, so 69 % means 1.45 times the reference's cost.
Decision time is the mean wall time of ``decide`` over the episodes' windows and the longest
one, measured in this run for every policy (so the ratios hold on any machine). ``--set``
applies to the listed deciders that have the setting (``edgesplit evaluate``'s rule).
"""

from __future__ import annotations

import argparse

import numpy as np

from edgesplit.cli.app import settings_from
from edgesplit.policies.evaluate import summarize
from edgesplit.policies.registry import policy_from_spec, takes_settings
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario
from window_scale import timed_episode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="zhang2026")
    parser.add_argument("--policies", required=True, help="comma-separated; the first is 100 %%")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", dest="settings", help="FIELD=VALUE")
    args = parser.parse_args()
    scenario = load_scenario(args.scenario)
    specs = [s for s in args.policies.split(",") if s.strip()]
    pairs = settings_from(args.settings)
    built = [
        policy_from_spec(spec, scenario, args.seed, settings=pairs if pairs and takes_settings(
            spec.partition("=")[0].strip(), [*pairs]) else None)
        for spec in specs
    ]  # fmt: skip  # errors first
    env = decision_env(scenario)
    rows = []
    for label, policy in built:
        runs, times, longest = [], [], 0.0
        for episode in range(args.episodes):
            metrics, mean_s, windows, most_s = timed_episode(policy, env, args.seed + episode)
            runs.append(metrics)
            times += [mean_s] * windows
            longest = max(longest, most_s)
        rows.append((label, summarize(label, runs), [r["reward"] for r in runs], np.mean(times),
                     longest))  # fmt: skip
    reference = rows[0][1].mean["reward"]
    print(f"{args.scenario}, seeds {args.seed}-{args.seed + args.episodes - 1}")
    print(f"{'policy':<44} {'reward':>16} {'share':>7} {'J/task':>8} {'ms/decision':>12} "
          f"{'longest ms':>11}")  # fmt: skip
    for label, summary, rewards, decision_s, longest_s in rows:
        reward, half = summary.mean["reward"], summary.half_width["reward"]
        share = reference / reward if reward < 0 else reward / reference
        print(f"{label:<44} {reward:>9.2f} ± {half:<4.2f} {share:>6.1%} "
              f"{summary.mean['energy_per_task_j']:>8.4f} {decision_s * 1e3:>12.2f} "
              f"{longest_s * 1e3:>11.2f}")  # fmt: skip
        print(f"{'':<44} seeds: {' '.join(f'{r:.2f}' for r in rewards)}")


if __name__ == "__main__":
    main()
