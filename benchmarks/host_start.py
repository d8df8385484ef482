"""How soon a live run starts on a CPU without shipped profiles, and how wrong a derived start is.

    python benchmarks/host_start.py [--scenario shi2025-5g] [--json OUT]

For the scenario's models at this machine's thread counts (1 up to all cores, in powers of two)
it times, into a temporary folder:
- the reference: what a live run measured before (``edgesplit profile`` with 16 cuts' heads and
  tails, 5 repeats, 2 warm-ups);
- measure-first: only what the run's predictions use (every node and the whole model,
  ``hosts.measure_host_profiles``);
- derive-first: seconds of whole-model timing that scale the shipped epyc2 profiles
  (``hosts.derive_host_profiles``);
and the derived profiles' error against the measured ones: every cut's head latency on the
device (1 thread) and tail on the server (all cores), median and largest |relative error|.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgesplit.graph.zoo import load_traced
from edgesplit.profile.catalogue import latency_model
from edgesplit.profile.measure import (
    available_cores,
    machine_description,
    measure_profile,
    select_cuts,
)
from edgesplit.runtime.hosts import derive_host_profiles, host_threads, measure_host_profiles
from edgesplit.sim.scenario import load_scenario


def cut_latencies_s(folder: Path, model: str, graph, cores: int) -> np.ndarray:
    """Every cut's head at 1 thread and tail at ``cores`` threads, from ``folder``'s profile."""
    cuts = graph.cut_table()
    head = cuts.device.astype(float) @ latency_model(str(folder), model, "nodes", 1).node_latency_s(
        graph
    )
    server = latency_model(str(folder), model, "nodes", cores).node_latency_s(graph)
    tail = (~cuts.device).astype(float) @ server
    return np.concatenate([head[1:], tail[:-1]])  # no empty head or empty tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="shi2025-5g")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    preset = load_scenario(args.scenario)
    models = tuple(dict.fromkeys(d.model for d in preset.devices))
    cores = available_cores()
    threads = host_threads(cores)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for model in models:
            net, example, graph = load_traced(model, "operator", preset.input_size)
            start = time.perf_counter()
            measure_profile(net, graph, example, threads, "cpu", 5, 2, select_cuts(graph, 16))
            reference_s = time.perf_counter() - start
            start = time.perf_counter()
            measure_host_profiles((model,), preset.input_size, root / "measured", threads)
            measured_s = time.perf_counter() - start
            start = time.perf_counter()
            derive_host_profiles((model,), preset.input_size, root / "derived", threads)
            derived_s = time.perf_counter() - start
            _, _, block = load_traced(model, preset.granularity, preset.input_size)
            truth = cut_latencies_s(root / "measured", model, block, cores)
            guess = cut_latencies_s(root / "derived", model, block, cores)
            error = np.abs(guess / truth - 1.0)
            rows.append(
                {
                    "model": model,
                    "reference_s": reference_s,
                    "measure_first_s": measured_s,
                    "derive_first_s": derived_s,
                    "measure_first_speedup": reference_s / measured_s,
                    "derived_median_error": float(statistics.median(error)),
                    "derived_max_error": float(error.max()),
                }
            )
            row = rows[-1]
            print(
                f"{model}: reference {reference_s:.1f} s, measure-first {measured_s:.1f} s "
                f"({row['measure_first_speedup']:.1f}x faster), derive-first {derived_s:.1f} s; "
                f"derived cut latencies off by {100 * row['derived_median_error']:.1f} % median, "
                f"{100 * row['derived_max_error']:.1f} % at most",
                flush=True,
            )
    parts = ("reference_s", "measure_first_s", "derive_first_s")
    total = {k: sum(r[k] for r in rows) for k in parts}
    print(
        f"{args.scenario} on {machine_description('cpu')['cpu']} ({cores} cores), threads "
        f"{list(threads)}: before {total['reference_s']:.0f} s, measure-first "
        f"{total['measure_first_s']:.0f} s, derive-first {total['derive_first_s']:.0f} s"
    )
    if args.json is not None:
        machine = machine_description("cpu")
        command = f"python benchmarks/host_start.py --scenario {args.scenario}"
        data = {"scenario": args.scenario, "machine": machine, "threads": list(threads),
                "rows": rows, "total": total, "command": command}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
