"""Thread allocators in the live system: the same policy with TA and with the equal split, on
the same seeded live-demo session (arrivals, link rates), measured.

    python benchmarks/runtime_live_policies.py [--duration 30] [--policies neurosurgeon+ta,...]

Each policy runs ``edgesplit live`` on 127.0.0.1 (one server, two device processes) for
``--duration`` seconds; prints per policy the tasks offloaded, the measured and predicted mean
latency over all tasks, and the modelled device energy.
"""

from __future__ import annotations

import argparse
import statistics

from edgesplit.runtime.launcher import LiveConfig, run_live


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--policies", default="neurosurgeon+ta,neurosurgeon+equal")
    parser.add_argument("--scenario", default="live-demo")
    args = parser.parse_args()
    print(f"{args.scenario}, {args.duration:g} s per policy, seed 0")
    print(f"{'policy':22} {'tasks':>5} {'offloaded':>9} {'measured ms':>11} {'predicted ms':>12} "
          f"{'energy J':>8}")  # fmt: skip
    for policy in args.policies.split(","):
        report = run_live(LiveConfig(args.scenario, policy, duration_s=args.duration))
        tasks = report["tasks"]
        measured = statistics.mean(t["latency_s"] for t in tasks)
        predicted = statistics.mean(t["predicted"]["latency_s"] for t in tasks)
        energy = sum(row["energy_j_modelled"] for row in report["per_device"])
        print(f"{policy:22} {len(tasks):5d} {report['totals']['offloaded']:9d} "
              f"{measured * 1e3:11.1f} {predicted * 1e3:12.1f} {energy:8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
