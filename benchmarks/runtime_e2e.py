"""Measured end-to-end latency of split inference through a real edge server, against the cost
model's prediction, per cut and uplink rate: on 127.0.0.1 (the uplink shaped by the device's token
bucket) or across the testbed's emulated hosts (the device and the server in network namespaces
of their own, the uplink shaped by the kernel's tbf).

    python benchmarks/runtime_e2e.py [--tasks 9] [--rates 20,200] [--server-threads 2]
    python benchmarks/runtime_e2e.py --testbed --server-threads 1     # root

Three models with profiles of this machine (epyc2), three offloading cuts each at block
granularity (send the input, the middle block, the last block), the given uplink rates. The
device runs the head at 1 thread, the server the tail at ``--server-threads`` (one task at a
time: no queue). The prediction is the simulator's (``sim.slot.fixed_latency_s`` and the server
column of the cost table) with the shipped link profile (``data/links/epyc2.json``: request,
codec, transport), i.e. exactly what ``plan``, the policies and ``edgesplit live`` use. Prints the
median of ``--tasks`` tasks per row and the error of the total.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from edgesplit.runtime import DeviceClient, EdgeServer, ServerConfig
from edgesplit.runtime.client import TokenBucket
from edgesplit.sim.scenario import parse_scenario
from edgesplit.sim.slot import build_slot_system, fixed_latency_s

MODELS = ("mobilenet_v2", "resnet34", "alexnet")
PARTS = ("head", "link", "tail", "total")


def world(server_threads: int):
    device = {"hardware": "epyc2", "threads": 1, "battery_capacity_j": 13320.0}
    scenario = {
        "name": "runtime-e2e", "style": "slot", "granularity": "block",
        "devices": [{"model": m, **device} for m in MODELS],
        "servers": [{"hardware": "epyc2", "threads": [server_threads, server_threads],
                     "min_threads_per_task": 0}],
        "runtime": {"link": "epyc2", "codecs": ["fp32"]},
    }  # fmt: skip
    return build_slot_system(parse_scenario(scenario, "runtime-e2e"))


def measure_rows(
    address: str,
    rates: list[float],
    tasks: int,
    server_threads: int,
    shape: Callable[[DeviceClient, float], None],
) -> list[dict]:
    """Every (model, cut, rate) row: measured medians and predictions of each part (seconds)."""
    torch.set_num_threads(1)
    system = world(server_threads)
    rows = []
    for n, model in enumerate(MODELS):
        last = int(system.n_cuts[n]) - 1
        client = DeviceClient(
            model, address, granularity="block", uplink=TokenBucket(1e12), timeout_s=60.0
        )
        assert client.cut_count == system.n_cuts[n], "the table and the device disagree"
        for cut in (0, last // 2, last - 1):
            for rate in rates:
                shape(client, rate)
                records = [
                    client.run(client.example, cut, server_threads)[1] for _ in range(tasks + 1)
                ][1:]  # the first builds the tail on the server
                assert all(r.offloaded for r in records), records[0].fallback
                cuts = system.n_cuts - 1  # the others stay local
                cuts[n] = cut
                local, link, _ = fixed_latency_s(
                    system, cuts, np.full(len(MODELS), rate), np.full(len(MODELS), rate)
                )
                predicted = {
                    "head": float(local[n]), "link": float(link.latency_s[n]),
                    "tail": float(system.tail_s[system.row_offset[n] + cut, server_threads]),
                }  # fmt: skip
                predicted["total"] = sum(predicted.values())
                measured = {
                    "head": statistics.median(r.head_s for r in records),
                    "link": statistics.median(r.codec_s + r.transfer_s for r in records),
                    "tail": statistics.median(r.queue_s + r.tail_s for r in records),
                    "total": statistics.median(r.latency_s for r in records),
                }
                rows.append(
                    {"model": model, "cut": cut, "rate_bps": rate,
                     "sent_bytes": records[0].sent_bytes, "measured": measured,
                     "predicted": predicted}
                )  # fmt: skip
        client.close()
    return rows


def loopback_rows(args: argparse.Namespace, rates: list[float]) -> list[dict]:
    config = ServerConfig(
        models=MODELS, port=0, granularities=("block",), cores=args.server_threads, lanes=1
    )
    server = EdgeServer(config)
    port = server.start()
    try:
        return measure_rows(
            f"127.0.0.1:{port}", rates, args.tasks, args.server_threads,
            lambda client, rate: client.uplink.set_rate(rate),
        )  # fmt: skip
    finally:
        server.stop()


def testbed_rows(args: argparse.Namespace, rates: list[float]) -> list[dict]:
    """The server and the device on hosts of a testbed; the device side is this script again,
    run in the device's namespace, which shapes its own uplink with tc."""
    from edgesplit.runtime.launcher import edgesplit_command
    from edgesplit.runtime.testbed import Testbed

    with Testbed(1, 1) as bed:
        server, device = bed.host("server-0"), bed.host("device-0")
        ready = Path(f"/tmp/edgesplit-e2e-{bed.run}.json")
        serve = subprocess.Popen(
            [*bed.command("server-0"), *edgesplit_command(
                "serve", "--models", ",".join(MODELS), "--host", server.address, "--port",
                "50051", "--granularity", "block", "--cores", str(args.server_threads),
                "--lanes", "1", "--ready-file", str(ready),
            )],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while not ready.exists():
                if serve.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.1)
            done = subprocess.run(
                [*bed.command("device-0"), sys.executable, __file__, "--device-side",
                 f"{server.address}:50051", device.interface, "--tasks", str(args.tasks),
                 "--rates", args.rates, "--server-threads", str(args.server_threads)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
        finally:
            serve.terminate()
            serve.wait(30)
            ready.unlink(missing_ok=True)
    return json.loads(done.stdout.splitlines()[-1])


def tc_shape(interface: str) -> Callable[[DeviceClient, float], None]:
    """Shape this namespace's uplink (the device side of the testbed) with the kernel's tbf."""
    from edgesplit.runtime.testbed import tbf_arguments

    def shape(client: DeviceClient, rate: float) -> None:
        subprocess.run(
            ["tc", "qdisc", "replace", "dev", interface, "root", *tbf_arguments(rate)], check=True
        )

    return shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=9)
    parser.add_argument("--rates", default="20,200", help="Mbit/s, comma-separated")
    parser.add_argument("--server-threads", type=int, default=2)
    parser.add_argument("--testbed", action="store_true", help="across emulated hosts (root)")
    parser.add_argument("--device-side", nargs=2, metavar=("SERVER", "INTERFACE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    rates = [float(r) * 1e6 for r in args.rates.split(",")]
    if args.device_side:
        address, interface = args.device_side
        rows = measure_rows(address, rates, args.tasks, args.server_threads, tc_shape(interface))
        print(json.dumps(rows))
        return
    rows = testbed_rows(args, rates) if args.testbed else loopback_rows(args, rates)
    where = "testbed (tc tbf)" if args.testbed else "127.0.0.1 (token bucket)"
    print(f"{where}, tails at {args.server_threads} server thread(s), {args.tasks} tasks a row")
    print(f"{'model':13} {'cut':>5} {'Mbit/s':>6} {'MB sent':>7}   measured / predicted ms: "
          f"{'head':>13} {'link':>15} {'tail':>13} {'total':>15} {'error':>6}")  # fmt: skip
    errors = []
    for row in rows:
        measured, predicted = row["measured"], row["predicted"]
        error = measured["total"] / predicted["total"] - 1
        errors.append(abs(error))
        cells = " ".join(f"{measured[k] * 1e3:7.1f}/{predicted[k] * 1e3:<7.1f}" for k in PARTS)
        print(f"{row['model']:13} {row['cut']:5d} {row['rate_bps'] / 1e6:6.0f} "
              f"{row['sent_bytes'] / 1e6:7.3f}   {cells} {error * 100:+5.1f}%")  # fmt: skip
    within = sum(e <= 0.15 for e in errors)
    print(
        f"|error| of the total: median {statistics.median(errors) * 100:.1f}%, max "
        f"{max(errors) * 100:.1f}%; {within} of {len(errors)} within 15%"
    )


if __name__ == "__main__":
    main()
