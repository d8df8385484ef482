"""Is a per-seed loss of the planner skill or the draw of the shadowing nobody observes?

    python benchmarks/shadowing_luck.py [--presets zhang2026-small,zhang2026] [--seeds 20]
        [--streams 10] [--policies repeated-optimum,planner,local] [--planner-budget S]

A learner is given with its policy file: ``--policies planner,slot-ppo=path/to/policy.pt``.

zhang2026's env draws, per window, the devices' distances (observed) and their log-normal
shadowing (not observed) from one stream. Here an episode's seed draws the task counts and the
distances as the env does, and the shadowing comes from ``--streams`` other seeded streams:
per seed, each decider's return is averaged over the same shadowing streams (common random
numbers), which is its expected return given what it can observe. A decider that wins that
comparison on every seed but loses some real episodes loses them to the draw alone.

Prints, per preset and seed, each decider's mean return over the streams and how many streams
it wins against the planner (in parentheses), then, per decider, on how many seeds the planner
wins, ties (its expected lead within two standard errors of the paired difference over the
streams) or loses in expectation, and the share of single episodes it wins.
"""

from __future__ import annotations

import argparse

import numpy as np

from edgesplit.policies.evaluate import run_episode
from edgesplit.policies.registry import policy_from_spec
from edgesplit.sim import DecisionEnv
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.window import channel_gains
from edgesplit.sim.window_env import TaskWindowMECEnv


class ShadowingStreamEnv(TaskWindowMECEnv):
    """The task-window env with the shadowing drawn from its own stream ``(seed, stream)``."""

    def __init__(self, scenario, stream: int) -> None:
        super().__init__(scenario)
        self.stream = stream

    def reset(self, *, seed=None, options=None):
        self.shadow_rng = np.random.default_rng([seed, self.stream])
        return super().reset(seed=seed, options=options)

    def _draw_distances(self) -> None:
        system = self.system
        self.distance_m = self.np_random.uniform(system.distance_low, system.distance_high)
        self.gain = channel_gains(system, self.shadow_rng, self.distance_m)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presets", default="zhang2026-small,zhang2026")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--policies", default="repeated-optimum,planner,local")
    parser.add_argument(
        "--planner-budget", type=float, default=None,
        help="seconds per planner decision (100 devices: the deterministic rounds take minutes)",
    )  # fmt: skip
    args = parser.parse_args()
    specs = args.policies.split(",")
    names = [spec.partition("=")[0].strip() for spec in specs]
    budget = None if args.planner_budget is None else {"budget_s": str(args.planner_budget)}
    for preset in args.presets.split(","):
        scenario = load_scenario(preset)
        built = [
            policy_from_spec(spec, scenario, settings=budget if name == "planner" else None)[1]
            for name, spec in zip(names, specs, strict=True)
        ]
        policies = dict(zip(names, built, strict=True))
        # returns[name][seed, stream]
        returns = {name: np.zeros((args.seeds, args.streams)) for name in names}
        for stream in range(args.streams):
            env = DecisionEnv(ShadowingStreamEnv(scenario, stream))
            for seed in range(args.seeds):
                for name, policy in policies.items():
                    returns[name][seed, stream] = run_episode(policy, env, seed)["reward"]
        print(f"\n{preset}: {args.seeds} seeds x {args.streams} shadowing streams")
        print("seed  " + "  ".join(f"{name:>22s}" for name in names))
        planner = returns["planner"]
        for seed in range(args.seeds):
            cells = []
            for name in names:
                mean = returns[name][seed].mean()
                wins = int((returns[name][seed] > planner[seed]).sum())
                cells.append(f"{mean:9.3f}" + ("" if name == "planner" else f" ({wins:2d} won)"))
            print(f"{seed:4d}  " + "  ".join(cells))
        for name in names:
            if name == "planner":
                continue
            # per seed, the planner's expected lead over the streams and its standard error
            # (paired: the same streams), a lead within two standard errors a tie
            lead = planner - returns[name]
            mean = lead.mean(axis=1)
            error = lead.std(axis=1, ddof=1) / np.sqrt(args.streams)
            won = int((mean > 2 * error).sum())
            lost = int((mean < -2 * error).sum())
            single = float((planner >= returns[name]).mean())
            lost_seeds = ", ".join(str(s) for s in np.flatnonzero(mean < -2 * error))
            print(f"planner vs {name}: in expectation over the shadowing, {won} seeds won, "
                  f"{args.seeds - won - lost} tied (within 2 standard errors), {lost} lost "
                  f"{f'(seeds {lost_seeds}) ' if lost else ''}"
                  f"(smallest lead {mean.min():+.3f} +- {error[mean.argmin()]:.3f}); "
                  f"{single:.0%} of single (seed, stream) episodes")  # fmt: skip


if __name__ == "__main__":
    main()
