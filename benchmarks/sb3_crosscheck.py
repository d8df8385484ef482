"""Cross-check of DDP (shi2025 Alg. 2, our DDPG) with stable-baselines3's DDPG and TD3 on the
same SlotMEC-v0 env (TA in its step, Eq. 19 on the actor's output), same steps, same seeds.

    python benchmarks/sb3_crosscheck.py --scenario shi2025-5g --steps 30000

Prints each agent's utility per slot (mean ± 95 % CI over evaluation episodes) next to DADS+TA
and the exact per-slot optimum, with the training wall time. DDP's policy file comes from
``edgesplit train ddp+ta`` (``--ddp runs/ddp/policy.pt``); without it DDP is left out.
"""

from __future__ import annotations

import argparse
import time

from edgesplit.policies.evaluate import evaluate
from edgesplit.policies.registry import make_policy
from edgesplit.policies.sb3 import train_sb3
from edgesplit.sim.scenario import load_scenario


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
