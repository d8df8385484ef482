"""How far is the certified bound above the best a clairvoyant decider can do?

    python benchmarks/bound_tightness.py [--presets zhang2026-small,zhang2026] [--seeds 3]

``sim.window_bound`` bounds every decider's return on a seed from above, seeing the shadowing
and the coming windows. From below, a clairvoyant decider that sees the same reaches: per
window and per vector of window sizes, the planner's anytime plan at the true gains (its
objective there is the env's Eq. 8 reward: tests/policies/test_planner.py), and the best
sequence of sizes over the episode by the bound's own programme over the tasks left
(``cheapest_sizes``). The optimum of a clairvoyant decider lies between the two, so their
ratio is a certificate of how loose the bound is; the rest of a real decider's gap is what it
cannot observe (the shadowing, the coming distances) and its own search.

Prints per preset and seed: the bound, the clairvoyant return, the slack (bound above the
clairvoyant return, as a share of it) and seconds. Minutes per zhang2026 seed (one anytime plan
per window and size vector).
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from edgesplit.policies.planner import WindowPlanner, anytime_plan
from edgesplit.sim.window_bound import WindowBound, cheapest_sizes
from edgesplit.sim.window_env import TaskWindowMECEnv


def bracket(preset: str, seed: int) -> tuple[float, float]:
    """(the bound, a clairvoyant decider's return) on one seed."""
    env = TaskWindowMECEnv(preset)
    env.reset(seed=seed)
    system, tasks = env.system, env.remaining.copy()
    n, width = system.n_devices, system.scenario.window_reward.window_max
    planner = WindowPlanner(preset)
    local = np.zeros((n, width), dtype=np.int64)
    bounds, reached = [], []
    for gain in env.upcoming_gains(int(tasks.max())):
        bounds.append(WindowBound(system, gain).costs())
        cost = np.zeros_like(bounds[-1])
        for w in itertools.product(range(width + 1), repeat=n):
            if any(w):
                sized = planner.known_problem(gain, np.array(w))
                cost[w] = -anytime_plan(sized, [local], None, True, False, 8, None).value
        reached.append(cost)
    return -cheapest_sizes(bounds, tasks), -cheapest_sizes(reached, tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="zhang2026-small,zhang2026")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    print("preset           seed    bound  clairvoyant  slack   seconds")
    for preset in args.presets.split(","):
        slack = []
        for seed in range(args.seeds):
            start = time.perf_counter()
            bound, reached = bracket(preset, seed)
            slack.append((bound - reached) / -reached)
            print(
                f"{preset:16s} {seed:4d} {bound:8.3f} {reached:12.3f} {slack[-1]:6.1%} "
                f"{time.perf_counter() - start:8.0f}",
                flush=True,
            )
        print(f"{preset}: mean slack {np.mean(slack):.1%}, largest {np.max(slack):.1%}")


if __name__ == "__main__":
    main()
