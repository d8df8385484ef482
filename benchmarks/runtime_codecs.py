"""The wire's codecs on a real 3.2 MB activation, beside pickle, torch.save and safetensors in the
same run.

    python benchmarks/runtime_codecs.py [--repeats 50]

The activation is ResNet-50's output after ``layer1`` (1 x 256 x 56 x 56 fp32, 3.2 MB) on a
seeded input. Each row: encode + decode time (median of ``--repeats``), bytes on the wire, the
fixed header, and the largest error after the round trip. The reference serializers carry the
same tensor; pickle and torch.save are what the runtime refuses to load from the network (they
execute what they load), shown only for their speed.
"""

from __future__ import annotations

import argparse
import io
import pickle

import torch
import torchvision
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from edgesplit.compress.codecs import Codec
from edgesplit.profile.measure import time_call
from edgesplit.runtime.wire import HEADER, REQUEST, pack, unpack

CODECS = ("fp32", "fp16", "int8", "int8-channel", "fp32+zstd", "fp16+zstd", "int8+zstd")


def activation() -> torch.Tensor:
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        return model.layer1(x).contiguous()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tensor = activation()
    size = tensor.numel() * tensor.element_size()
    rows = []
    for name in CODECS:
        codec = Codec.parse(name)
        message = pack(REQUEST, 1, 2, 3, (tensor,), codec, 0)
        back = unpack(message).tensors[0]
        error = float((back - tensor).abs().max())
        seconds = time_call(
            lambda c=codec: unpack(pack(REQUEST, 1, 2, 3, (tensor,), c, 0)), 1, args.repeats, "cpu"
        ).median_s
        rows.append((f"edgesplit {name}", seconds, len(message), error))

    def torch_save() -> bytes:
        buffer = io.BytesIO()
        torch.save(tensor, buffer)
        return buffer.getvalue()

    references = (
        ("pickle", lambda: pickle.dumps(tensor), pickle.loads),
        ("torch.save / load(weights_only)", torch_save,
         lambda b: torch.load(io.BytesIO(b), weights_only=True)),
        ("safetensors", lambda: safetensors_save({"x": tensor}),
         lambda b: safetensors_load(b)["x"]),
    )  # fmt: skip
    for name, encode, decode in references:
        data = encode()
        error = float((decode(data) - tensor).abs().max())
        seconds = time_call(lambda e=encode, d=decode: d(e()), 1, args.repeats, "cpu").median_s
        rows.append((name, seconds, len(data), error))
    print(f"activation {tuple(tensor.shape)} fp32, {size / 1e6:.2f} MB; header {HEADER.size} B")
    print(f"{'codec':34} {'enc+dec ms':>10} {'bytes':>10} {'ratio':>6} {'max |err|':>10}")
    for name, seconds, nbytes, error in rows:
        print(f"{name:34} {seconds * 1e3:10.3f} {nbytes:10d} {nbytes / size:6.3f} {error:10.2e}")
    fp32 = rows[0][1]
    pickled, saved, safetensors = (row[1] / fp32 for row in rows[-3:])
    print(
        f"fp32 path: {fp32 * 1e3:.3f} ms (goal <= 1 ms); pickle takes {pickled:.1f}x its time, "
        f"torch.save {saved:.1f}x, safetensors {safetensors:.1f}x"
    )


if __name__ == "__main__":
    main()
