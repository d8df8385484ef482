"""The runtime's per-request overhead against a bare grpcio round trip of the same bytes,
measured in one run on 127.0.0.1.

    python benchmarks/runtime_overhead.py [--model mobilenet_v2] [--repeats 200] [--json OUT]

Each server runs in a process of its own (as deployed: the device's interpreter is not the
server's). Ours: a device task through ``DeviceClient`` and an edge server (one lane), overhead =
end to end minus the head, the tail and the queue (what the runtime adds: encoding, the RPC, the
hop to the lane and back, decoding). Bare: a grpcio server in this process whose handler returns
bytes of the reply's size, called with bytes of the request's size. Two cuts: the first (the
602-kB fp32 input crosses) and the last with a tail (a few kB cross). Medians of ``--repeats``.
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


def bare_round_trip_s(request_bytes: int, reply_bytes: int, repeats: int) -> float:
    """The median round trip of ``request_bytes`` to a bare grpcio server in its own process."""
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    process = context.Process(target=_bare_server, args=(reply_bytes, there), daemon=True)
    process.start()
    port = here.recv()
    request = bytes(request_bytes)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}", options=OPTIONS) as channel:
            call = channel.unary_unary(BARE)
            for _ in range(10):
                call(request, timeout=30)
            times = []
            for _ in range(repeats):
                start = perf_counter()
                call(request, timeout=30)
                times.append(perf_counter() - start)
    finally:
        process.kill()
        process.join()
    return statistics.median(times)


def _edge_server(model: str, ready) -> None:
    from edgesplit.runtime.server import serve

    config = ServerConfig(models=(model,), port=0, lanes=1, granularities=("block",))
    serve(config, ready=ready.send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenet_v2")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    edge = context.Process(target=_edge_server, args=(args.model, there))  # it has lanes
    edge.start()
    port = here.recv()
    rows = []
    try:
        with DeviceClient(args.model, f"127.0.0.1:{port}", granularity="block") as client:
            for position in (0, client.cut_count - 2):
                for _ in range(10):
                    client.run(client.example, position, threads=1)
                overheads, sent, records = [], 0, []
                for _ in range(args.repeats):
                    _, record = client.run(client.example, position, threads=1)
                    assert record.offloaded, record.fallback
                    overheads.append(record.codec_s + record.transfer_s)
                    sent = record.sent_bytes
                    records.append(record)
                head, tail = client.halves(position)
                import torch

                with torch.no_grad():
                    output = tail(*head(client.example))
                reply_bytes = 52 + 64 + output.numel() * 4  # header, tensor header, fp32
                ours_s = statistics.median(overheads)
                bare_s = bare_round_trip_s(sent, reply_bytes, args.repeats)
                row = {
                    "cut": position + 1, "request_bytes": sent, "reply_bytes": reply_bytes,
                    "ours_ms": 1e3 * ours_s, "bare_ms": 1e3 * bare_s, "ratio": ours_s / bare_s,
                    "codec_ms": 1e3 * statistics.median(r.codec_s for r in records),
                }  # fmt: skip
                rows.append(row)
                print(
                    f"cut {row['cut']}: {sent / 1e3:.1f} kB up, {reply_bytes / 1e3:.1f} kB back: "
                    f"runtime overhead {row['ours_ms']:.2f} ms (codec {row['codec_ms']:.2f}), "
                    f"bare grpcio {row['bare_ms']:.2f} ms: {row['ratio']:.2f}x",
                    flush=True,
                )
    finally:
        edge.terminate()
        edge.join()
    if args.json is not None:
        data = {"machine": machine_description("cpu"), "model": args.model, "rows": rows,
                "command": f"python benchmarks/runtime_overhead.py --model {args.model} "
                f"--repeats {args.repeats}"}  # fmt: skip
        args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
