"""Speed of the graph layer: trace, enumerate every cut, exact optimum by min-cut.

For each model (torchvision, weights=None, 224 x 224, operator granularity) prints the time to
trace, to enumerate every cut, and to find the optimum of a random additive cost three ways, all
in this run: edgesplit's min-cut (scipy Dinic on the DADS network), the brute-force scan over the
enumerated cuts, and a plain networkx min-cut on the same network (float capacities, networkx's
default preflow-push). Ratios are against edgesplit's min-cut; costs are checked to agree.

    python benchmarks/graph_speed.py [--repeats 7] [models...]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import networkx as nx
import numpy as np
import torch

from edgesplit.errors import CutLimitExceededError
from edgesplit.graph import ModelGraph
from edgesplit.graph.mincut import AdditiveCost, brute_force_best_cut
from edgesplit.graph.trace import trace
from edgesplit.graph.zhang2026 import partition_points
from edgesplit.graph.zoo import build_model, example_input

T = TypeVar("T")
MODELS = ("resnet50", "resnet152", "googlenet", "inception_v3", "densenet201")


def networkx_min_cut(graph: ModelGraph, cost: AdditiveCost) -> float:
    """The optimum's cost on the DADS network in plain networkx (s = device, t = server)."""
    g = nx.DiGraph()

    def add(u, v, capacity=None):
        if capacity is None:
            g.add_edge(u, v)  # no capacity attribute: infinite in networkx
        elif g.has_edge(u, v) and "capacity" in g[u][v]:
            g[u][v]["capacity"] += capacity
        else:
            g.add_edge(u, v, capacity=capacity)

    for i, node in enumerate(graph.nodes):
        add("s", node.name, cost.server[i])
        add(node.name, "t", cost.device[i])
    for j, value in enumerate(graph.values):
        if not value.consumers:
            continue
        producer = "s" if value.producer is None else graph.nodes[value.producer].name
        readers = [graph.nodes[c].name for c in value.consumers]
        if len(readers) == 1:
            add(producer, readers[0], cost.transfer[j])
        else:
            add(producer, ("value", value.name), cost.transfer[j])
            for reader in readers:
                add(("value", value.name), reader)
    for a, b in graph.edges:
        add(b, a)  # infinite reverse edges keep the device side a down-set
    return nx.minimum_cut_value(g, "s", "t")


def timed(function: Callable[[], T], repeats: int) -> tuple[float, T]:
    """Median wall time of ``repeats`` calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(name: str, repeats: int, rng: np.random.Generator) -> str:
    model, x = build_model(name), example_input(name)
    trace_s, traced = timed(lambda: trace(model, x), 1)
    graph = ModelGraph(traced, "operator", name)
    cost = AdditiveCost(
        rng.random(len(graph.nodes)), rng.random(len(graph.nodes)), rng.random(len(graph.values))
    )
    # Cold: the first min-cut on a graph also builds its cost-independent flow network.
    cold_s, _ = timed(lambda: graph.best_cut(cost), 1)
    mincut_s, best = timed(lambda: graph.best_cut(cost), repeats)
    enum_s, table = timed(lambda: graph.cut_table(), 1)
    scan_s, brute = timed(lambda: brute_force_best_cut(graph, cost), repeats)
    nx_s, nx_value = timed(lambda: networkx_min_cut(graph, cost), 3)
    assert abs(cost.of(best) - cost.of(brute)) <= 1e-6 * cost.of(brute), name
    assert abs(cost.of(best) - nx_value) <= 1e-6 * nx_value, name
    try:
        alg1_s, _ = timed(lambda: partition_points(graph, limit=2_000_000), 1)
        alg1 = f"{alg1_s * 1e3:7.1f}ms"
    except CutLimitExceededError:
        alg1 = " >2M comb."
    return (
        f"{name:13s} {len(graph.nodes):5d} {table.size:7d} {trace_s:7.2f}s {enum_s * 1e3:6.1f}ms "
        f"{mincut_s * 1e3:6.2f}ms {cold_s * 1e3:6.2f}ms {scan_s * 1e3:6.2f}ms "
        f"{(enum_s + scan_s) * 1e3:8.1f}ms {nx_s * 1e3:7.1f}ms {scan_s / mincut_s:8.2f} "
        f"{(enum_s + scan_s) / mincut_s:7.1f} {nx_s / mincut_s:6.1f} {alg1}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}")
    print(
        f"{'model':13s} {'nodes':>5s} {'cuts':>7s} {'trace':>8s} {'enum':>8s} {'mincut':>8s} "
        f"{'cold':>8s} {'scan':>8s} {'enum+scan':>10s} {'networkx':>9s} "
        f"{'scan/mc':>8s} {'e+s/mc':>7s} {'nx/mc':>6s} {'alg1':>9s}"
    )
    rng = np.random.default_rng(0)
    for name in args.models:
        print(measure(name, args.repeats, rng), flush=True)


if __name__ == "__main__":
    main()
