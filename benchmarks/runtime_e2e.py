"""Measured end-to-end latency of split inference through a real edge server on 127.0.0.1,
against the cost model's prediction, per cut and shaped uplink rate.

    python benchmarks/runtime_e2e.py [--tasks 9] [--rates 20,200]

Three models with profiles of this machine (epyc2), three offloading cuts each at block
granularity (send the input, the middle block, the last block), two uplink rates (token bucket).
The device runs the head at 1 thread, the server the tail at 2 threads (one task at a time: no
queue). The prediction is the simulator's (``sim.slot.fixed_latency_s`` and the server column
of the cost table) with the shipped link profile (``data/links/epyc2.json``: request, codec,
transport), i.e. exactly what ``plan``, the policies and ``edgesplit live`` use. Prints the
median of ``--tasks`` tasks per row and the error of the total.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch

from edgesplit.runtime import DeviceClient, EdgeServer, ServerConfig
from edgesplit.runtime.client import TokenBucket
from edgesplit.sim.scenario import parse_scenario
from edgesplit.sim.slot import build_slot_system, fixed_latency_s

MODELS = ("mobilenet_v2", "resnet34", "alexnet")
SERVER_THREADS = 2


def world():
    device = {"hardware": "epyc2", "threads": 1, "battery_capacity_j": 13320.0}
    scenario = {
        "name": "runtime-e2e", "style": "slot", "granularity": "block",
        "devices": [{"model": m, **device} for m in MODELS],
        "servers": [{"hardware": "epyc2", "threads": [2, 2], "min_threads_per_task": 0}],
        "runtime": {"link": "epyc2", "codecs": ["fp32"]},
    }  # fmt: skip
    return build_slot_system(parse_scenario(scenario, "runtime-e2e"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=9)
    parser.add_argument("--rates", default="20,200", help="Mbit/s, comma-separated")
    args = parser.parse_args()
    torch.set_num_threads(1)
    system = world()
    rates = [float(r) * 1e6 for r in args.rates.split(",")]
    config = ServerConfig(
        models=MODELS, port=0, granularities=("block",), cores=SERVER_THREADS, lanes=1
    )
    server = EdgeServer(config)
    port = server.start()
    errors = []
    print(f"{'model':13} {'cut':>5} {'Mbit/s':>6} {'MB sent':>7}   measured / predicted ms: "
          f"{'head':>13} {'link':>15} {'tail':>13} {'total':>15} {'error':>6}")  # fmt: skip
    try:
        for n, model in enumerate(MODELS):
            last = int(system.n_cuts[n]) - 1
            client = DeviceClient(
                model, f"127.0.0.1:{port}", granularity="block", uplink=TokenBucket(rates[0])
            )
            assert client.cut_count == system.n_cuts[n], "the table and the device disagree"
            for cut in (0, last // 2, last - 1):
                for rate in rates:
                    client.uplink.set_rate(rate)
                    records = [
                        client.run(client.example, cut, SERVER_THREADS)[1]
                        for _ in range(args.tasks + 1)
                    ][1:]  # the first builds the tail on the server
                    assert all(r.offloaded for r in records), records[0].fallback
                    cuts = system.n_cuts - 1  # the others stay local
                    cuts[n] = cut
                    local, link, _ = fixed_latency_s(
                        system, cuts, np.full(len(MODELS), rate), np.full(len(MODELS), rate)
                    )
                    row = system.row_offset[n] + cut
                    predicted = {
                        "head": local[n], "link": link.latency_s[n],
                        "tail": system.tail_s[row, SERVER_THREADS],
                    }  # fmt: skip
                    predicted["total"] = sum(predicted.values())
                    measured = {
                        "head": statistics.median(r.head_s for r in records),
                        "link": statistics.median(r.codec_s + r.transfer_s for r in records),
                        "tail": statistics.median(r.queue_s + r.tail_s for r in records),
                        "total": statistics.median(r.latency_s for r in records),
                    }
                    error = measured["total"] / predicted["total"] - 1
                    errors.append(abs(error))
                    cells = " ".join(
                        f"{measured[k] * 1e3:7.1f}/{predicted[k] * 1e3:<7.1f}"
                        for k in ("head", "link", "tail", "total")
                    )
                    sent = records[0].sent_bytes / 1e6
                    print(f"{model:13} {cut + 1:5d} {rate / 1e6:6.0f} {sent:7.3f}   {cells} "
                          f"{error * 100:+5.1f}%")  # fmt: skip
            client.close()
    finally:
        server.stop()
    within = sum(e <= 0.15 for e in errors)
    print(
        f"|error| of the total: median {statistics.median(errors) * 100:.1f}%, max "
        f"{max(errors) * 100:.1f}%; {within} of {len(errors)} within 15%"
    )


if __name__ == "__main__":
    main()
