"""What a shipped bottleneck costs in time beside the wire's int8 codec on the same map, and beside
the head and tail it sits between, in the same run: the cost model's inputs for issue 35.

    python benchmarks/bottleneck_codec.py [--repeats 50]

Per shipped frozen bottleneck (rate weight 0.003) and one test image, on one thread, median of
``--repeats``: the device's part (encoder, rounding, coding the latents), the server's part
(decoding the latents, decoder), int8's encode and decode of the same map, and the head's and
tail's own times; then the ratios.
"""

from __future__ import annotations

import argparse

import torch

from edgesplit.compress.accuracy import digits_model
from edgesplit.compress.bottleneck import decode_latents, encode_latents
from edgesplit.compress.codecs import DTYPE_IDS, Codec, decode, encode
from edgesplit.compress.distill import bottleneck_split
from edgesplit.compress.shipped import shipped_bottlenecks
from edgesplit.graph import ModelGraph
from edgesplit.profile.measure import time_call


def timings_ms(head, bottleneck, tail, image: torch.Tensor, repeats: int) -> dict[str, float]:
    """Median milliseconds of each part for one image (module docstring)."""
    int8 = Codec("int8")
    with torch.no_grad():
        crossing = head(image)[0]
        payload = encode_latents(bottleneck, bottleneck.quantize(crossing))
        wire_id, packed = encode(crossing, int8)
        shape, dtype_id = tuple(crossing.shape), DTYPE_IDS[crossing.dtype]
        parts = {
            "head": lambda: head(image),
            "device": lambda: encode_latents(bottleneck, bottleneck.quantize(crossing)),
            "int8 encode": lambda: encode(crossing, int8),
            "server": lambda: bottleneck.synthesize(decode_latents(bottleneck, payload, 1)),
            "int8 decode": lambda: decode(packed, wire_id, dtype_id, shape),
            "tail": lambda: tail(crossing),
        }
        return {k: 1e3 * time_call(f, 1, repeats, "cpu").median_s for k, f in parts.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("model, cut | head ms | device part ms | int8 encode ms | server part ms | "
          "int8 decode ms | tail ms | device part / head | server part / tail")  # fmt: skip
    for arch in ("digitsnet", "mobilenet_v2"):
        model, data = digits_model(arch=arch)
        graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name=arch)
        for path, info in shipped_bottlenecks(arch):
            if info.config.finetune or info.config.rate_weight != 0.003:
                continue
            head, bottleneck, tail, _ = bottleneck_split(model, graph, path)
            ms = timings_ms(head, bottleneck, tail, data.x_test[:1], args.repeats)
            print(f"{arch}, cut {info.cut} | {ms['head']:.3f} | {ms['device']:.3f} | "
                  f"{ms['int8 encode']:.3f} | {ms['server']:.3f} | {ms['int8 decode']:.3f} | "
                  f"{ms['tail']:.3f} | {ms['device'] / ms['head']:.2f} | "
                  f"{ms['server'] / ms['tail']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
