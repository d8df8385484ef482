"""Speed of the graph layer: trace, enumerate every cut, exact optimum by min-cut, plan.

For each model (torchvision, weights=None, 224 x 224 (299 for inception_v3), operator
granularity) prints, all measured in this run:

- the time to trace with one torch thread (the default) and with two;
- the time to enumerate every cut;
- the optimum of a random additive cost four ways: edgesplit's ``best_cut`` (scipy Dinic on the
  DADS network), a straightforward complete scipy implementation on the same network written
  here (capacities, CSR with parallel edges summed, Dinic, reachability in the residual graph:
  the reference ``best_cut`` is held to, goal at most 1.5x), the brute-force scan over the
  enumerated cuts, and a plain networkx min-cut (float capacities, preflow-push); costs are
  checked to agree;
- ``plan()`` (latency, one device, one server, one link: the min-cut plus the trivial cuts and
  every term's breakdown) against ``best_cut`` of the same latency cost (goal at most 2x).

    python benchmarks/graph_speed.py [--repeats 15] [models...]
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
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from edgesplit.errors import CutLimitExceededError
from edgesplit.graph import ModelGraph
from edgesplit.graph.mincut import AdditiveCost, brute_force_best_cut
from edgesplit.graph.trace import trace
from edgesplit.graph.zhang2026 import partition_points
from edgesplit.graph.zoo import build_model, example_input
from edgesplit.plan import Setting, cost_terms, plan
from edgesplit.profile import ThroughputModel

T = TypeVar("T")
MODELS = ("resnet50", "resnet152", "googlenet", "inception_v3", "densenet201")
LEVELS = 2**30


def dads_network(graph: ModelGraph) -> dict:
    """The DADS network's edges (source 0, sink 1, node i at 2 + i, one vertex per value read
    by several nodes), each tagged with where its capacity comes from."""
    rows, cols, source = [], [], []  # source: ("server" | "device" | "transfer", index) or None
    for i in range(len(graph.nodes)):
        rows += [0, 2 + i]
        cols += [2 + i, 1]
        source += [("server", i), ("device", i)]
    vertex = 2 + len(graph.nodes)
    for j, value in enumerate(graph.values):
        if not value.consumers:
            continue
        producer = 0 if value.producer is None else 2 + value.producer
        if len(value.consumers) == 1:
            rows.append(producer)
            cols.append(2 + value.consumers[0])
            source.append(("transfer", j))
            continue
        rows.append(producer)
        cols.append(vertex)
        source.append(("transfer", j))
        for c in value.consumers:
            rows.append(vertex)
            cols.append(2 + c)
            source.append(None)
        vertex += 1
    for b, preds in enumerate(graph.preds):
        for a in preds:  # infinite reverse edges keep the device side a down-set
            rows.append(2 + b)
            cols.append(2 + a)
            source.append(None)
    return {"rows": np.array(rows), "cols": np.array(cols), "source": source, "size": vertex}


def scipy_reference_cut(graph: ModelGraph, cost: AdditiveCost, network: dict) -> np.ndarray:
    """The optimum's device side (one bool per node) by a straightforward complete scipy
    implementation: integer capacities, a CSR matrix, Dinic, reachability from the source in
    the residual graph."""
    finite = np.array([0.0 if s is None else getattr(cost, s[0])[s[1]] for s in network["source"]])
    quantum = max(finite.sum(), 1e-300) / LEVELS
    capacity = np.where(
        [s is None for s in network["source"]], LEVELS + 1, np.floor(finite / quantum)
    ).astype(np.int32)
    shape = (network["size"], network["size"])
    matrix = csr_array((capacity, (network["rows"], network["cols"])), shape=shape)
    matrix.sum_duplicates()
    flow = maximum_flow(matrix, 0, 1, method="dinic").flow
    residual = (matrix.astype(np.int64) - flow.astype(np.int64)).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, 0, directed=True, return_predecessors=False)
    device = np.zeros(network["size"], dtype=bool)
    device[reached] = True
    return device[2 : 2 + len(graph.nodes)]


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
    model, x = build_model(name), example_input(name, 299 if name == "inception_v3" else 224)
    trace_s, traced = timed(lambda: trace(model, x, threads=1), 1)
    trace2_s, _ = timed(lambda: trace(model, x, threads=2), 1)
    graph = ModelGraph(traced, "operator", name)
    cost = AdditiveCost(
        rng.random(len(graph.nodes)), rng.random(len(graph.nodes)), rng.random(len(graph.values))
    )
    # Cold: the first min-cut on a graph also builds its cost-independent flow network.
    cold_s, _ = timed(lambda: graph.best_cut(cost), 1)
    network = dads_network(graph)
    mincut_s, best, reference_s, reference = _alternating(
        lambda: graph.best_cut(cost), lambda: scipy_reference_cut(graph, cost, network), repeats
    )
    setting = Setting(ThroughputModel(5e9), ThroughputModel(2e11), 20e6, 8.6, 6.5)
    latency = cost_terms(graph, setting).latency  # the cost plan() minimises
    plan_s, _, mincut2_s, _ = _alternating(
        lambda: plan(graph, setting), lambda: graph.best_cut(latency), repeats
    )
    enum_s, table = timed(lambda: graph.cut_table(), 1)
    scan_s, brute = timed(lambda: brute_force_best_cut(graph, cost), repeats)
    nx_s, nx_value = timed(lambda: networkx_min_cut(graph, cost), 3)
    assert abs(cost.of(best) - cost.of(brute)) <= 1e-6 * cost.of(brute), name
    assert abs(cost.of(best) - nx_value) <= 1e-6 * nx_value, name
    reference_cost = float(
        reference @ cost.device + (~reference) @ cost.server
        + graph.cut_from_device_nodes(
            [n.name for n, on in zip(graph.nodes, reference, strict=True) if on]
        ).crossing_row @ cost.transfer
    )  # fmt: skip
    assert abs(cost.of(best) - reference_cost) <= 1e-6 * reference_cost, name
    try:
        alg1_s, _ = timed(lambda: partition_points(graph, limit=2_000_000), 1)
        alg1 = f"{alg1_s * 1e3:7.1f}ms"
    except CutLimitExceededError:
        alg1 = " >2M comb."
    return (
        f"{name:13s} {len(graph.nodes):5d} {table.size:7d} {trace_s:6.2f}s {trace2_s:6.2f}s "
        f"{enum_s * 1e3:6.1f}ms {mincut_s * 1e3:6.2f}ms {cold_s * 1e3:6.2f}ms "
        f"{reference_s * 1e3:6.2f}ms {mincut_s / reference_s:6.2f} {plan_s * 1e3:6.2f}ms "
        f"{plan_s / mincut2_s:6.2f} {scan_s * 1e3:6.2f}ms {nx_s * 1e3:7.1f}ms "
        f"{(enum_s + scan_s) / mincut_s:7.1f} {nx_s / mincut_s:6.1f} {alg1}"
    )


def _alternating(first: Callable, second: Callable, repeats: int):
    """Median times of two functions measured in alternation (the same load on both), and their
    last results: (first_s, first_result, second_s, second_result)."""
    times: tuple[list[float], list[float]] = ([], [])
    results = [None, None]
    for _ in range(repeats):
        for k, function in enumerate((first, second)):
            start = time.perf_counter()
            for _ in range(10):
                results[k] = function()
            times[k].append((time.perf_counter() - start) / 10)
    return statistics.median(times[0]), results[0], statistics.median(times[1]), results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, median of {args.repeats} (of 10 calls each)")
    print(
        f"{'model':13s} {'nodes':>5s} {'cuts':>7s} {'trace1':>7s} {'trace2':>7s} {'enum':>8s} "
        f"{'best_cut':>8s} {'cold':>8s} {'scipy ref':>8s} {'bc/ref':>6s} {'plan':>8s} "
        f"{'plan/bc':>6s} {'scan':>8s} {'networkx':>9s} {'e+s/bc':>7s} {'nx/bc':>6s} {'alg1':>9s}"
    )
    rng = np.random.default_rng(0)
    for name in args.models:
        print(measure(name, args.repeats, rng), flush=True)


if __name__ == "__main__":
    main()
