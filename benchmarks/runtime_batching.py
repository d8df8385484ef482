"""Dynamic batching of tails on one edge server: tasks per second and p50/p99 latency with 1, 4
and 16 devices, batching off and on, measured in one run; and the batch service time t(b).

    python benchmarks/runtime_batching.py [--model mobilenet_v2] [--cut 9] [--seconds 8]
        [--device cuda] [--json OUT]

``--device cuda`` runs the lane's tails on the GPU (the run issue 31 asks for where a GPU is
lent: batching is for accelerators, where t(b) grows far slower than b).

Each device is a thread that sends the same request (the head's output for one image, packed
once) in a closed loop for ``--seconds`` (at most 2,000 requests), over 127.0.0.1 to a server
(in a process of its own) with one lane and all cores; latency is the round trip. Batching on:
at most 16 rows, 2 ms. t(b): the tail on b rows, timed alone (median of 7).

The model (``costs.closed_loop_throughput_per_s``): t(b) = t(1) + (b - 1) dt with dt from t(1)
and t(16); a request's server time besides the tail (c) and its time outside the server (r)
from the two runs without batching at 16 devices (saturated: 1 / (t(1) + c)) and at 1 device
(1 / (r + t(1) + c)); the four other runs are predicted and printed beside the measurement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import torch

from edgesplit.costs import closed_loop_throughput_per_s
from edgesplit.graph.split import split
from edgesplit.graph.zoo import load_traced
from edgesplit.profile.measure import available_cores, machine_description
from edgesplit.runtime import ServerConfig
from edgesplit.runtime.server import RUN, serving_process
from edgesplit.runtime.wire import REQUEST, pack, wire_id

MAX_REQUESTS = 2000
DELAY_S = 0.002  # a batch that is not full waits this long for more requests


def closed_loop(port: int, request: bytes, devices: int, seconds: float) -> list[float]:
    """Round trips of ``devices`` threads sending ``request`` back to back for ``seconds``."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def device() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = channel.unary_unary(RUN)
            while time.monotonic() < stop_at:
                with lock:
                    if len(latencies) >= MAX_REQUESTS:
                        return
                start = time.perf_counter()
                call(request, timeout=30)
                with lock:
                    latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=device) for _ in range(devices)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def batch_service_s(tail, crossing: tuple, rows: int, threads: int, device: str) -> float:
    batch = tuple(torch.cat([t] * rows).to(device) for t in crossing)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    tail.to(device)
    try:
        with torch.no_grad():
            tail(*batch)
            sync()
            times = []
            for _ in range(7):
                start = time.perf_counter()
                tail(*batch)
                sync()
                times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
        tail.to("cpu")
    return statistics.median(times)


def predicted(rows: list[dict], service: dict[int, float], batch_max: int, delay_s: float) -> None:
    """The model's tasks per second and latency beside each run's. Fitted: dt on t(1) and
    t(batch_max); the server's time per request c on each saturated run (16 devices: batching
    off, 1 / (t(1) + c); on, 16 / (t(16) + 16 c)); the time outside r on one device without
    batching. Predicted: the three other runs."""
    single_s = service[1]
    per_row_s = (service[batch_max] - single_s) / (batch_max - 1)
    measured = {(r["batching"], r["devices"]): r["tasks_per_s"] for r in rows}
    request_s = {
        False: max(1.0 / measured[(False, 16)] - single_s, 0.0),
        True: max((16 / measured[(True, 16)] - service[16]) / 16, 0.0),
    }
    away_s = max(1.0 / measured[(False, 1)] - single_s - request_s[False], 0.0)
    print(
        f"model: t(b) = {1e3 * single_s:.1f} + (b - 1) {1e3 * per_row_s:.1f} ms; server time "
        f"per request c = {1e3 * request_s[False]:.2f} ms unbatched, "
        f"{1e3 * request_s[True]:.2f} ms batched; time outside r = {1e3 * away_s:.2f} ms"
    )
    for row in rows:
        batching, devices = row["batching"], row["devices"]
        rate = float(
            closed_loop_throughput_per_s(
                devices, batch_max if batching else 1, single_s, per_row_s,
                request_s[batching], away_s, delay_s if batching else 0.0,
            )
        )  # fmt: skip
        row["predicted_tasks_per_s"] = rate
        row["predicted_latency_ms"] = 1e3 * (devices / rate - away_s)
        row["fitted"] = devices == 16 or (devices == 1 and not batching)
        print(
            f"batching {'on ' if batching else 'off'} {devices:2d} devices: "
            f"{'fitted   ' if row['fitted'] else 'predicted'} {rate:6.1f} tasks/s "
            f"({rate / row['tasks_per_s'] - 1:+.0%} of measured), latency "
            f"{row['predicted_latency_ms']:6.1f} ms (measured p50 {row['p50_ms']:.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--cut", type=int, default=9)
    parser.add_argument("--granularity", default="block")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    model, x, graph = load_traced(args.model, args.granularity)
    cut = graph.cut(args.cut)
    head, tail = split(model, graph, cut)
    with torch.no_grad():
        crossing = head(x)
    request = pack(REQUEST, wire_id(args.model), wire_id(graph.fx_key(cut)), 1, crossing)
    cores = available_cores()
    service = {b: batch_service_s(tail, crossing, b, cores, args.device) for b in (1, 2, 4, 8, 16)}
    print("t(b), ms: " + ", ".join(f"{b}: {1e3 * s:.1f}" for b, s in service.items()))
    rows = []
    for batching in (False, True):
        config = ServerConfig(
            models=(args.model,), port=0, lanes=1, granularities=(args.granularity,),
            batch_max=16 if batching else 1, batch_delay_s=DELAY_S, queue_limit=64,
            device=args.device,
        )  # fmt: skip
        with serving_process(config) as (_, port):
            closed_loop(port, request, 1, 1.0)  # warm the lane
            for devices in (1, 4, 16):
                latencies = closed_loop(port, request, devices, args.seconds)
                span = args.seconds
                row = {
                    "batching": batching, "devices": devices, "requests": len(latencies),
                    "tasks_per_s": len(latencies) / span,
                    "p50_ms": 1e3 * float(np.percentile(latencies, 50)),
                    "p99_ms": 1e3 * float(np.percentile(latencies, 99)),
                }  # fmt: skip
                rows.append(row)
                print(
                    f"batching {'on ' if batching else 'off'} {devices:2d} devices: "
                    f"{row['tasks_per_s']:6.1f} tasks/s, p50 {row['p50_ms']:7.1f} ms, "
                    f"p99 {row['p99_ms']:7.1f} ms",
                    flush=True,
                )
    predicted(rows, service, 16, DELAY_S)
    if args.json is not None:
        data = {
            "machine": machine_description(args.device), "model": args.model, "cut": args.cut,
            "service_s": service, "rows": rows,
            "command": f"python benchmarks/runtime_batching.py --model {args.model} "
            f"--cut {args.cut} --seconds {args.seconds:g} --device {args.device}",
        }  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
