"""Wall time of a full profile, and per-node profiling against whole-model profiling.

    python benchmarks/profile_speed.py [model] [--threads 1,2] [--repeats 10] [--cuts 16]

Prints the seconds spent timing the whole model, every node (one interpreter pass per repeat),
and the heads and tails of the cuts, and the ratio per-node / whole (the issue's bound: 10x).
"""

from __future__ import annotations

import argparse
import time

from edgesplit.graph import ModelGraph
from edgesplit.graph.zoo import build_model, example_input
from edgesplit.profile.measure import available_cores, measure_profile, select_cuts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="resnet50")
    parser.add_argument(
        "--threads", default=",".join(str(k) for k in range(1, available_cores() + 1))
    )
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cuts", type=int, default=16)
    args = parser.parse_args()
    model, x = build_model(args.model), example_input(args.model)
    start = time.perf_counter()
    graph = ModelGraph.from_module(model, x, model_name=args.model)
    trace_s = time.perf_counter() - start
    threads = [int(k) for k in args.threads.split(",")]
    start = time.perf_counter()
    _, wall = measure_profile(
        model, graph, x, threads, repeats=args.repeats, warmup=3, cuts=select_cuts(graph, args.cuts)
    )
    total_s = time.perf_counter() - start
    cores = available_cores()
    print(
        f"{args.model}, threads {threads}, {args.repeats} repeats, {args.cuts} cuts, {cores} cores"
    )
    print(
        f"trace {trace_s:.1f} s; profile {total_s:.1f} s: whole {wall['whole']:.1f} s, "
        f"every node {wall['per_node']:.1f} s, heads and tails {wall['cuts']:.1f} s"
    )
    print(f"per-node / whole = {wall['per_node'] / wall['whole']:.2f} (bound: 10)")


if __name__ == "__main__":
    main()
