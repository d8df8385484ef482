"""The adaptive loop across emulated hosts (``edgesplit testbed``), measured; root.

    python benchmarks/runtime_testbed.py [--duration 30] [--out docs/results/runtime-testbed.json]

1. Uplink estimates against the kernel's configured rate: three devices whose links hold 10, 50
   and 200 Mbit/s (``rate@0:D:MBPS``); per slot after the first, the estimate the controller
   decided on over the configured rate.
2. Adaptation to a rate step: live-demo's ResNet-34 device on 200 Mbit/s, stepped to 5 Mbit/s at
   10 s and back to 200 at 20 s; the slots until its cut follows each step, and its measured
   latency meanwhile against after.
3. The control plane's own cost: the controller's time per slot (the world model's step, and
   building and queueing the decisions); a task report's round trip and bytes (an in-process
   controller, 200 reports of 5 tasks on loopback); the peak resident memory of a device agent
   process and of a server with two lanes (their process trees, sampled each second).
4. Many devices on one host: 16 device agents (two processes) and 2 servers on loopback; every
   task accounted for.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from edgesplit.runtime.faults import Fault
from edgesplit.runtime.launcher import LiveConfig, run_live

MB = 1e6


def estimates(duration_s: float) -> dict:
    rates = (10, 50, 200)
    faults = tuple(Fault.parse(f"rate@0:{d}:{r}") for d, r in enumerate(rates))
    report = run_live(
        LiveConfig("live-demo", "optimum", devices=3, duration_s=duration_s, seed=5,
                   faults=faults, testbed=True)
    )  # fmt: skip
    ratios = {r: [] for r in rates}
    for decision in report["decisions"][1:]:
        for d, r in enumerate(rates):
            ratios[r].append(decision["observed_uplink_bps"][d] / (r * MB))
    errors = [abs(x - 1) for values in ratios.values() for x in values]
    print("1. uplink estimate / configured rate, per slot after the first:")
    for r, values in ratios.items():
        print(f"   {r:4d} Mbit/s: median {statistics.median(values):.3f} "
              f"(min {min(values):.3f}, max {max(values):.3f}, {len(values)} slots)")  # fmt: skip
    print(f"   median |error| {statistics.median(errors) * 100:.1f} %")
    return {"ratios": {str(r): v for r, v in ratios.items()}, "report": _brief(report)}


def adaptation(duration_s: float) -> dict:
    faults = tuple(Fault.parse(f) for f in ("rate@0:1:200", "rate@10:1:5", "rate@20:1:200"))
    report = run_live(
        LiveConfig("live-demo", "optimum", devices=2, duration_s=duration_s, seed=6,
                   faults=faults, testbed=True)
    )  # fmt: skip
    slot_s = report["slot_s"]
    cuts = [(d["step"], d["cut"][1], d["observed_uplink_bps"][1]) for d in report["decisions"]]
    tasks = [t for t in report["tasks"] if t["device"] == 1]
    print("2. adaptation of device 1 (resnet34) to 200 -> 5 Mbit/s at 10 s and back at 20 s:")
    print("   slot: cut (estimate Mbit/s) " + ", ".join(
        f"{s}: {c} ({e / MB:.0f})" for s, c, e in cuts))  # fmt: skip
    found = {}
    for at_s, label in ((10, "down"), (20, "up")):
        first = round(at_s / slot_s)
        before = next((c for s, c, _ in cuts if s == first - 1), None)
        after = next((s for s, c, _ in cuts if s >= first and c != before), None)
        waited = None if after is None else after - first
        paid = [t["latency_s"] for t in tasks if first <= t["step"] < (after or first)]
        settled = [
            t["latency_s"] for t in tasks if after is not None and after <= t["step"] < after + 3
        ]
        found[label] = {"slots": waited, "latency_meanwhile_s": paid, "latency_after_s": settled}
        meanwhile = f"{statistics.mean(paid) * 1e3:.0f} ms" if paid else "none"
        then = f"{statistics.mean(settled) * 1e3:.0f} ms" if settled else "-"
        print(f"   step {label} at slot {first}: the cut followed after {waited} slot(s); "
              f"latency meanwhile {meanwhile}, then {then}")  # fmt: skip
    return {"cuts": cuts, "steps": found, "report": _brief(report)}


def control_plane(runs: list[dict]) -> dict:
    from edgesplit.runtime.control import PROTOCOL, ControlStub
    from edgesplit.runtime.controller import Controller, ControllerConfig
    from edgesplit.runtime.proto import control_pb2 as pb
    from edgesplit.runtime.transport import Security, open_channel

    decide = [d["decide_s"] for r in runs for d in r["decisions"] if "decide_s" in d]
    push = [d["push_s"] for r in runs for d in r["decisions"] if "push_s" in d]
    controller = Controller(ControllerConfig("live-demo", "optimum", devices=2))
    port = controller.start()
    record = pb.TaskRecord(step=1, k=0, cut=3, server="10.213.1.1:50051", codec="fp16",
                           head_s=0.02, codec_s=0.001, transfer_s=0.01, tail_s=0.03,
                           sent_bytes=300000, threads=2, decided_by="controller")  # fmt: skip
    with open_channel(f"127.0.0.1:{port}", Security()) as channel:
        stub = ControlStub(channel)
        hello = pb.DeviceHello(protocol=PROTOCOL, name="bench", model="mobilenet_v2",
                               cut_count=controller.world.cut_counts[0])  # fmt: skip
        welcome = stub.call("RegisterDevice", hello, 5.0)

        def report(step: int) -> pb.StepReport:
            tasks = []
            for k in range(5):
                task = pb.TaskRecord()
                task.CopyFrom(record)
                task.step, task.k = step, k
                tasks.append(task)
            return pb.StepReport(protocol=PROTOCOL, index=welcome.index, run_id=welcome.run_id,
                                 step=step, tasks=tasks, uplink_bps=2e7)  # fmt: skip

        for step in range(20):
            stub.call("Report", report(step), 5.0)
        start = time.perf_counter()
        for step in range(20, 220):
            assert stub.call("Report", report(step), 5.0).known
        round_trip_s = (time.perf_counter() - start) / 200
    controller.close()
    rss = {
        name: max(r["peak_rss_bytes"].get(name, 0) for r in runs)
        for name in runs[0]["peak_rss_bytes"]
    }
    agent = max(v for k, v in rss.items() if k.startswith("agents-"))
    server = max(v for k, v in rss.items() if k.startswith("server-"))
    print("3. control plane:")
    print(
        f"   per slot: world model {statistics.median(decide) * 1e3:.2f} ms (median of "
        f"{len(decide)}), decisions built and queued {statistics.median(push) * 1e3:.3f} ms"
    )
    print(
        f"   per task: a report of 5 tasks takes {round_trip_s * 1e3:.2f} ms round trip on "
        f"loopback ({round_trip_s / 5 * 1e3:.3f} ms a task); a task record is "
        f"{record.ByteSize()} bytes, a decision's task "
        f"{pb.Task(cut=3, codec='fp16', threads=2, server='10.213.1.1:50051').ByteSize()} bytes"
    )
    print(
        f"   peak resident memory: a device agent process {agent / 2**20:.0f} MiB, a server "
        f"with two lanes {server / 2**20:.0f} MiB (with its lanes), the controller "
        f"{rss.get('controller', 0) / 2**20:.0f} MiB"
    )
    return {
        "decide_s": decide,
        "push_s": push,
        "report_round_trip_s": round_trip_s,
        "task_record_bytes": record.ByteSize(),
        "peak_rss_bytes": rss,
    }


def many(duration_s: float) -> dict:
    report = run_live(LiveConfig("live-demo", "optimum", devices=16, servers=2,
                                 duration_s=duration_s, seed=7))  # fmt: skip
    totals = report["totals"]
    print(
        f"4. 16 device agents and 2 servers on loopback, {duration_s:g} s: {totals['done']} tasks "
        f"done of {totals['decided']} decided ({totals['offloaded']} offloaded), not run "
        f"{totals['not_run']}, devices finished {totals['devices_finished']}/16; peak memory "
        + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in report["peak_rss_bytes"].items())
    )
    return {"totals": totals, "peak_rss_bytes": report["peak_rss_bytes"]}


def _brief(report: dict) -> dict:
    return {
        k: report[k] for k in ("decisions", "totals", "per_device", "peak_rss_bytes", "testbed")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    first = estimates(args.duration)
    second = adaptation(args.duration)
    third = control_plane([first["report"], second["report"]])
    fourth = many(args.duration)
    if args.out is not None:
        data = {"command": "python benchmarks/runtime_testbed.py "
                f"--duration {args.duration:g}", "estimates": first, "adaptation": second,
                "control_plane": third, "many": fourth}  # fmt: skip
        args.out.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
