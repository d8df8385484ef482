"""Edge-server throughput and latency percentiles with 1, 4 and 16 concurrent devices, on one
server and on two.

    python benchmarks/runtime_throughput.py [--tasks 12] [--model mobilenet_v2]

Every device is a thread of this process with its own channel, sending the raw input (cut 1:
the whole model runs on the server, so the server is what is measured) back to back; a server
has 2 lanes sharing 2 cores and each tail gets the equal share of the cores among the devices
it serves (at least 1). With two servers the devices alternate between them. On a 2-core
machine two servers share the same cores: the row shows the cost of that, not a second
machine's gain (the 16-core comparison needs the lent device machine).
"""

from __future__ import annotations

import argparse
import threading
from time import perf_counter

import numpy as np
import torch

from edgesplit.runtime import DeviceClient, EdgeServer, ServerConfig

CORES = 2


def run(model: str, devices: int, servers: list[int], tasks: int) -> dict[str, float]:
    clients = [
        DeviceClient(model, f"127.0.0.1:{servers[d % len(servers)]}", input_size=224)
        for d in range(devices)
    ]
    share = max(1, CORES // max(1, devices // len(servers)))
    for client in clients:
        client.run(client.example, 0, share)  # connect, build the tail
    latencies: list[float] = []
    lock = threading.Lock()

    def device(client: DeviceClient) -> None:
        for _ in range(tasks):
            _, record = client.run(client.example, 0, share)
            assert record.offloaded, record.fallback
            with lock:
                latencies.append(record.latency_s)

    threads = [threading.Thread(target=device, args=(c,)) for c in clients]
    start = perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = perf_counter() - start
    for client in clients:
        client.close()
    return {
        "throughput": len(latencies) / wall,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "threads": share,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=12, help="per device")
    parser.add_argument("--model", default="mobilenet_v2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = ServerConfig(models=(args.model,), port=0, cores=CORES, lanes=2, queue_limit=64)
    edge = [EdgeServer(config), EdgeServer(config)]
    ports = [server.start() for server in edge]
    print(f"{args.model}, cut 1 (the server runs the model), {args.tasks} tasks per device")
    print(f"{'servers':>7} {'devices':>7} {'threads':>7} {'tasks/s':>8} {'p50 ms':>8} "
          f"{'p99 ms':>8}")  # fmt: skip
    try:
        for count in (1, 2):
            for devices in (1, 4, 16):
                r = run(args.model, devices, ports[:count], args.tasks)
                print(f"{count:7d} {devices:7d} {r['threads']:7d} {r['throughput']:8.1f} "
                      f"{r['p50'] * 1e3:8.1f} {r['p99'] * 1e3:8.1f}")  # fmt: skip
    finally:
        for server in edge:
            server.stop()


if __name__ == "__main__":
    main()
