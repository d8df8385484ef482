"""Measure the runtime's own overheads on this machine: the link profile ``costs.link`` reads.

Per codec, on real activations (what the heads of ``models`` hand over at evenly spaced cuts):
the device's ``pack`` (encoding, header, checksum) and the server's ``unpack`` timed per tensor
set, fitted as a + b x fp32 bits (least squares); b is the per-bit cost, and the wire bits over
the fp32 bits (summed over the sets) the ratio. Then real requests through an edge server on
127.0.0.1 at the same cuts: the round trip minus what the server reports (queue, codec, tail),
fitted against the wire bits, gives the transport's per-bit time and, with the fp32 codec's
intercepts, the fixed time of one request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from edgesplit.compress.codecs import CODECS, Codec
from edgesplit.costs.link import LINK_FORMAT
from edgesplit.graph.split import split
from edgesplit.graph.zoo import load_traced
from edgesplit.profile.data import Stats
from edgesplit.profile.measure import machine_description, plausible_median_s, time_plausibly
from edgesplit.runtime.wire import REQUEST, pack, unpack

Progress = Callable[[str], None]


def all_codecs() -> list[Codec]:
    return [Codec(name, zstd) for zstd in (False, True) for name in CODECS]


def _fit(bits: Sequence[float], seconds: Sequence[float]) -> tuple[float, float]:
    """(intercept, slope) of seconds against bits, both kept >= 0."""
    slope, intercept = np.polyfit(np.asarray(bits, float), np.asarray(seconds, float), 1)
    return max(float(intercept), 0.0), max(float(slope), 0.0)


def activations(models: Sequence[str], cuts: int, input_size: int) -> list[list[torch.Tensor]]:
    """What the heads of ``models`` hand over at ``cuts`` evenly spaced offloading cuts."""
    sets = []
    for spec in models:
        model, x, graph = load_traced(spec, "block", input_size)
        count = graph.cut_table().size - 1  # offloading cuts
        for position in sorted({round(i * (count - 1) / max(cuts - 1, 1)) for i in range(cuts)}):
            head, _ = split(model, graph, graph.cut(position))
            with torch.no_grad():
                sets.append([t.contiguous() for t in head(x)])
    return sets


def measure_link(
    models: Sequence[str] = ("resnet18", "mobilenet_v2"),
    cuts: int = 6,
    input_size: int = 224,
    repeats: int = 15,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The link profile of this machine (a dict in the ``costs.link`` format)."""
    say = progress or (lambda _: None)
    torch.set_num_threads(1)  # a device's codec work runs on its one thread here
    say("collecting activations")
    sets = activations(models, cuts, input_size)
    fp32_bits = [8.0 * sum(t.numel() * t.element_size() for t in s) for s in sets]
    codecs, noisy = {}, {}
    for codec in all_codecs():
        say(f"timing {codec}")
        encode, decode, wire = [], [], 0.0
        for i, tensors in enumerate(sets):
            message = pack(REQUEST, 1, 2, 3, tensors, codec)
            packing = lambda t=tensors, c=codec: pack(REQUEST, 1, 2, 3, t, c)  # noqa: E731
            unpacking = lambda m=message: unpack(m)  # noqa: E731
            for times, call, what in (
                (encode, packing, "encoding"),
                (decode, unpacking, "decoding"),
            ):
                label = f"{codec} {what} {i}"
                times.append(plausible_median_s(call, repeats, label, noisy, progress=say))
            wire += 8.0 * len(message)
        codecs[str(codec)] = {
            "encode_s_per_bit": _fit(fp32_bits, encode)[1],
            "decode_s_per_bit": _fit(fp32_bits, decode)[1],
            "wire_ratio": wire / sum(fp32_bits),
            "encode_intercept_s": _fit(fp32_bits, encode)[0],
            "decode_intercept_s": _fit(fp32_bits, decode)[0],
        }
    say("timing requests through a server on 127.0.0.1")
    transport = _transport(models[0], cuts, input_size, repeats, noisy, say)
    fixed = codecs["fp32"]["encode_intercept_s"] + codecs["fp32"]["decode_intercept_s"]
    return {
        "format": LINK_FORMAT,
        "version": 1,
        "machine": machine_description("cpu"),
        "models": list(models),
        "input_size": input_size,
        "request_s": transport[0] + fixed,
        "transport_s_per_bit": transport[1],
        "codecs": codecs,
        "noisy": noisy,  # timings that stayed implausible (profile's rule): what -> why
    }


def _transport(
    model: str, cuts: int, input_size: int, repeats: int, noisy: dict[str, str], say: Progress
) -> tuple[float, float]:
    """(intercept, per wire bit) of a request's time beyond the server's own work (each cut's
    ``repeats`` requests re-measured by profile's rule while implausible)."""
    from edgesplit.runtime.client import DeviceClient
    from edgesplit.runtime.server import EdgeServer, ServerConfig

    def requests(client: DeviceClient, position: int) -> Stats:
        records = [client.run(client.example, position)[1] for _ in range(repeats + 2)]
        records = records[2:]  # the first builds the tail and warms the channel
        if any(not r.offloaded for r in records):
            raise RuntimeError(f"a calibration request fell back: {records[0].fallback}")
        times = np.array([r.transfer_s for r in records])
        low, median, high = np.percentile(times, [25, 50, 75])
        return Stats(float(median), float(times.min()), float(times.max()), len(times),
                     float(high - low))  # fmt: skip

    server = EdgeServer(ServerConfig(models=(model,), port=0, input_size=input_size, lanes=1))
    server.start()
    try:
        with DeviceClient(model, f"127.0.0.1:{server.port}", input_size=input_size) as client:
            count = client.cut_count - 1
            bits, seconds = [], []
            for i in range(cuts):
                position = round(i * (count - 1) / max(cuts - 1, 1))
                what = f"requests at cut {position}"
                stats, reason = time_plausibly(
                    lambda p=position: requests(client, p), None, what, say
                )
                if reason is not None:
                    noisy[what] = reason
                bits.append(8.0 * client.run(client.example, position)[1].sent_bytes)
                seconds.append(stats.median_s)
    finally:
        server.stop()
    return _fit(bits, seconds)
