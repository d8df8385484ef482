"""Memory of an edge server (its process and each lane) and of a device client, per model, after
tasks at every few cuts, read from ``/proc/PID/smaps_rollup``.

    python benchmarks/runtime_memory.py [--models mobilenet_v2 vgg16] [--lanes 2] [--json OUT]

USS: the pages only that process holds (its own heap, what it alone maps); PSS: its share of
all it maps (a page mapped by three processes counts a third in each), so that the PSS of the
server and its lanes add up to what they take together. RSS counts shared libraries and shared
parameters in every process that maps them: it is shown, not summed. The lanes map the
parameters the server process put in shared memory (one copy per model, whatever the number of
lanes); the state's size is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from pathlib import Path

from edgesplit.profile.measure import machine_description

MIB = 2**20


def memory(pid: int) -> dict[str, float]:
    """RSS, PSS and USS of process ``pid`` in MiB."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                fields[name] = int(parts[0]) * 1024
    private = fields["Private_Clean"] + fields["Private_Dirty"]
    rss, pss = fields["Rss"], fields["Pss"]
    return {"rss_mib": rss / MIB, "pss_mib": pss / MIB, "uss_mib": private / MIB}


def _device(model: str, port: int, tasks_done, finish) -> None:
    """A device client running one task at every few cuts, then waiting to be measured."""
    from edgesplit.runtime import DeviceClient

    with DeviceClient(model, f"127.0.0.1:{port}", granularity="block") as client:
        stride = max(1, client.cut_count // 8)
        offloaded = 0
        for position in range(0, client.cut_count - 1, stride):
            offloaded += client.run(client.example, position, threads=1)[1].offloaded
        tasks_done.send(offloaded)
        finish.recv()


def measure(model: str, lanes: int) -> dict[str, object]:
    import torch

    from edgesplit.graph.zoo import load_model
    from edgesplit.runtime import ServerConfig
    from edgesplit.runtime.server import serving_process

    config = ServerConfig(models=(model,), port=0, lanes=lanes, granularities=("block",))
    context = multiprocessing.get_context("spawn")
    with serving_process(config) as (edge, port):
        done_here, done_there = context.Pipe()
        finish_here, finish_there = context.Pipe()
        device = context.Process(target=_device, args=(model, port, done_there, finish_there))
        device.start()
        try:
            offloaded = done_here.recv()
            with open(f"/proc/{edge}/task/{edge}/children") as children:
                lane_pids = [int(pid) for pid in children.read().split()]
            server = memory(edge)
            lane_memory = [memory(pid) for pid in lane_pids]
            client = memory(device.pid)
        finally:
            finish_here.send(True)
            device.join()
    state = load_model(model).state_dict().values()
    state_mib = sum(t.numel() * t.element_size() for t in state) / MIB
    together = server["pss_mib"] + sum(lane["pss_mib"] for lane in lane_memory)
    row = {
        "model": model, "lanes": lanes, "state_mib": state_mib, "server": server,
        "lanes_memory": lane_memory, "server_and_lanes_pss_mib": together, "device": client,
        "device_tasks_offloaded": offloaded, "torch_threads": torch.get_num_threads(),
    }  # fmt: skip
    lane_uss = ", ".join(f"{lane['uss_mib']:.0f}" for lane in lane_memory)
    print(
        f"{model}: parameters {state_mib:.0f} MiB; server process USS {server['uss_mib']:.0f} "
        f"MiB, lanes USS {lane_uss} MiB; server and lanes together (PSS) {together:.0f} MiB; "
        f"device client USS {client['uss_mib']:.0f} MiB, PSS {client['pss_mib']:.0f} MiB "
        f"({offloaded} tasks offloaded)",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["mobilenet_v2", "vgg16"])
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not os.path.exists("/proc/self/smaps_rollup"):
        raise SystemExit("this benchmark reads /proc/PID/smaps_rollup (Linux 4.14 or later)")
    rows = [measure(model, args.lanes) for model in args.models]
    if args.json is not None:
        data = {
            "machine": machine_description("cpu"), "rows": rows,
            "command": "python benchmarks/runtime_memory.py --models "
            + " ".join(args.models) + f" --lanes {args.lanes}",
        }  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
