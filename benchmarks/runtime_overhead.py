"""The runtime's per-request overhead against a bare grpcio round trip of the same bytes,
measured in one run on 127.0.0.1.

    python benchmarks/runtime_overhead.py [--model mobilenet_v2] [--repeats 200] [--json OUT]

Each server runs in a process of its own (as deployed: the device's interpreter is not the
server's). Ours: a device task through ``DeviceClient`` and an edge server (one lane), overhead =
end to end minus the head, the tail and the queue (what the runtime adds: encoding, the RPC, the
hop to the lane and back, decoding). Bare: a grpcio server in a process of its own whose handler
returns bytes of the reply's size, called with bytes of the request's size, in turn with the
tasks (one task, one bare call, ...), each bare call right after the head computed as for a task
(a device sends what its head just gave: both round trips start from the same machine state).
Two cuts: the first (the 602-kB fp32 input crosses) and the last with a tail (a few kB cross).
Medians of ``--repeats``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
from concurrent import futures
from pathlib import Path
from time import perf_counter

import grpc

from edgesplit.profile.measure import machine_description
from edgesplit.runtime import DeviceClient, ServerConfig
from edgesplit.runtime.server import serving_process

BARE = "/bare.Echo/Run"
OPTIONS = [("grpc.max_receive_message_length", 64 << 20)]


def _bare_server(reply_bytes: int, ready) -> None:
    """A grpcio server returning ``reply_bytes`` bytes to every call, until killed."""
    reply = bytes(reply_bytes)
    handler = grpc.method_handlers_generic_handler(
        "bare.Echo", {"Run": grpc.unary_unary_rpc_method_handler(lambda request, context: reply)}
    )
    server = grpc.server(futures.ThreadPoolExecutor(4), options=OPTIONS)
    server.add_generic_rpc_handlers((handler,))
    ready.send(server.add_insecure_port("127.0.0.1:0"))
    server.start()
    server.wait_for_termination()


class Bare:
    """A bare grpcio server in a process of its own returning ``reply_bytes`` bytes, and a
    channel to it (``call`` times one round trip)."""

    def __init__(self, reply_bytes: int) -> None:
        context = multiprocessing.get_context("spawn")
        here, there = context.Pipe()
        self.process = context.Process(target=_bare_server, args=(reply_bytes, there), daemon=True)
        self.process.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{here.recv()}", options=OPTIONS)
        self.call = self.channel.unary_unary(BARE)

    def round_trip_s(self, request: bytes) -> float:
        start = perf_counter()
        self.call(request, timeout=30)
        return perf_counter() - start

    def close(self) -> None:
        self.channel.close()
        self.process.kill()
        self.process.join()


def _compare(client: DeviceClient, position: int, repeats: int) -> dict[str, float]:
    """Tasks at cut ``position`` (0-based) and bare round trips of the same bytes, alternated
    (one of each in turn, so that both see the same machine): the medians and their ratio."""
    import torch

    head, tail = client.halves(position)
    with torch.no_grad():
        output = tail(*head(client.example))
    reply_bytes = 52 + 64 + output.numel() * 4  # header, tensor header, fp32
    _, record = client.run(client.example, position, threads=1)
    bare = Bare(reply_bytes)
    request = bytes(record.sent_bytes)
    try:
        for _ in range(10):
            client.run(client.example, position, threads=1)
            bare.round_trip_s(request)
        ours, theirs, records = [], [], []
        for _ in range(repeats):
            _, record = client.run(client.example, position, threads=1)
            assert record.offloaded, record.fallback
            ours.append(record.codec_s + record.transfer_s)  # end to end - head - tail - queue
            records.append(record)
            with torch.no_grad():
                head(client.example)  # as before a task's request: the device computed its head
            theirs.append(bare.round_trip_s(request))
    finally:
        bare.close()
    ours_s, bare_s = statistics.median(ours), statistics.median(theirs)
    row = {
        "cut": position, "request_bytes": record.sent_bytes, "reply_bytes": reply_bytes,
        "ours_ms": 1e3 * ours_s, "bare_ms": 1e3 * bare_s, "ratio": ours_s / bare_s,
        "codec_ms": 1e3 * statistics.median(r.codec_s for r in records),
    }  # fmt: skip
    print(
        f"cut {row['cut']}: {row['request_bytes'] / 1e3:.1f} kB up, {reply_bytes / 1e3:.1f} kB "
        f"back: runtime overhead {row['ours_ms']:.2f} ms (codec {row['codec_ms']:.2f}), bare "
        f"grpcio {row['bare_ms']:.2f} ms: {row['ratio']:.2f}x",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    config = ServerConfig(models=(args.model,), port=0, lanes=1, granularities=("block",))
    rows = []
    with (
        serving_process(config) as (_, port),  # it has lanes: not in this process
        DeviceClient(args.model, f"127.0.0.1:{port}", granularity="block") as client,
    ):
        for position in (0, client.cut_count - 2):
            rows.append(_compare(client, position, args.repeats))
    if args.json is not None:
        data = {"machine": machine_description("cpu"), "model": args.model, "rows": rows,
                "command": f"python benchmarks/runtime_overhead.py --model {args.model} "
                f"--repeats {args.repeats}"}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
