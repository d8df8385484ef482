"""Compressed variants measured on this machine, each beside a reference from the same run.

    python benchmarks/compress_variants.py [--runs 20] [--parts 1,2,3]

1. Structured pruning: each variant's measured 1-thread latency against the prediction the
   cost tables use (the base model's shipped epyc2 profile scaled per node by MACs), with the
   full model's measured-vs-profile ratio beside it (how far this machine is from the profile
   today).
2. Int8: float32 PyTorch against ONNX Runtime QDQ and PT2E (X86InductorQuantizer +
   torch.compile with freezing), at 1 thread: latency, preparation time (first call, then from
   ONNX Runtime's cache) and top-1 agreement with float32 (accuracy for the digits model).
3. Load: MobileNet-V2's 1-thread inference and ResNet-50's unstructured pruning (pf 0.7) under
   0..4 busy worker processes, against the processor-share model placement uses,
   t(0) x max(1, (L + 1) / cores) with this machine's cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import torch

from edgesplit.compress.accuracy import digits_model, evaluate
from edgesplit.compress.prune import Variant
from edgesplit.compress.quantize import quantize_int8
from edgesplit.compress.report import busy_workers, latency_s, prune_time_busy
from edgesplit.costs.terms import load_stretch
from edgesplit.errors import CompressionError
from edgesplit.graph.zoo import build_model, example_input, load_traced, random_input
from edgesplit.profile.catalogue import latency_model


def structured(runs: int) -> None:
    print("1. structured pruning: measured vs predicted (epyc2 profile scaled by MACs), 1 thread")
    print(
        f"{'variant':<28} {'MMACs':>8} {'measured ms':>12} {'predicted ms':>13} {'pred/meas':>10}"
    )
    for name in ("mobilenet_v2", "resnet34", "resnet50"):
        for pf in (0.0, 0.3, 0.5, 0.7):
            spec = name if pf == 0 else f"{name}@structured-{pf:g}"
            model, x, graph = load_traced(spec, "block")
            measured = latency_s(model, x, runs, 1)
            predicted = float(latency_model("epyc2", spec, threads=1).node_latency_s(graph).sum())
            macs = sum(n.macs for n in graph.nodes) / 1e6
            print(f"{spec:<28} {macs:>8.0f} {measured * 1e3:>12.2f} {predicted * 1e3:>13.2f} "
                  f"{predicted / measured:>10.2f}")  # fmt: skip


def int8(runs: int) -> None:
    print("\n2. int8 at 1 thread: float32 PyTorch vs ONNX Runtime QDQ vs PT2E")
    print(f"{'model':<14} {'path':<12} {'ms':>8} {'vs fp32':>8} {'prepare s':>10} "
          f"{'cached s':>9} {'agreement':>10}")  # fmt: skip
    digits, data = digits_model(0, 40)
    cases = [
        ("digits", digits, data.x_test[:1], [data.x_train[i : i + 64] for i in range(0, 256, 64)])
    ]
    for name in ("mobilenet_v2", "resnet18"):
        x = example_input(name)
        cases.append(
            (name, build_model(name), x, [random_input(tuple(x.shape), s) for s in range(1, 5)])
        )
    inputs = torch.cat([random_input((1, 3, 224, 224), 100 + i) for i in range(8)])
    with tempfile.TemporaryDirectory() as cache:
        for name, model, x, calibration in cases:
            reference = latency_s(model, x, runs, 1)
            print(f"{name:<14} {'fp32 torch':<12} {reference * 1e3:>8.2f} {1.0:>8.2f}")
            for backend in ("onnxruntime", "pt2e"):
                try:
                    first = quantize_int8(model, x, calibration, backend, 1, Path(cache))
                except CompressionError as error:
                    print(f"{name:<14} {backend:<12} failed: {str(error)[:90]}")
                    continue
                again = (
                    quantize_int8(model, x, calibration, backend, 1, Path(cache)).prepare_s
                    if backend == "onnxruntime"
                    else float("nan")
                )
                seconds = latency_s(first, x, runs, None)
                if name == "digits":
                    agreement = evaluate(first, data)[0]  # top-1 accuracy (float: below)
                else:
                    with torch.no_grad():
                        ours = [first(inputs[i : i + 1]).argmax() for i in range(len(inputs))]
                        agree = [a == b for a, b in zip(ours, model(inputs).argmax(1), strict=True)]
                    agreement = float(sum(agree)) / len(agree)
                print(f"{name:<14} {backend:<12} {seconds * 1e3:>8.2f} {seconds / reference:>8.2f} "
                      f"{first.prepare_s:>10.2f} {again:>9.2f} {agreement:>10.3f}")  # fmt: skip
    print(f"(digits float32 top-1: {evaluate(digits, data)[0]:.3f})")


def load(runs: int) -> None:
    cores = os.cpu_count() or 1
    print(f"\n3. under load on this machine ({cores} cores): measured vs the share model")
    header = f"{'busy':>5} {'mobilenet_v2 ms':>16} {'model ms':>9} {'resnet50 prune s':>17}"
    print(f"{header} {'model s':>8}")
    mobilenet, x = build_model("mobilenet_v2"), example_input("mobilenet_v2")
    resnet, y = build_model("resnet50"), example_input("resnet50")
    idle_inference = idle_prune = None
    for workers in (0, 1, 2, 3, 4):
        with busy_workers(workers):
            inference = latency_s(mobilenet, x, runs, 1)
        prune = prune_time_busy(resnet, y, Variant("unstructured", 0.7), workers)
        idle_inference = idle_inference or inference
        idle_prune = idle_prune or prune
        share = float(load_stretch(workers, cores))
        print(f"{workers:>5} {inference * 1e3:>16.2f} {idle_inference * share * 1e3:>9.2f} "
              f"{prune:>17.3f} {idle_prune * share:>8.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parts", default="1,2,3", help="which of the three tables to measure")
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = {int(p) for p in args.parts.split(",")}
    for number, part in ((1, structured), (2, int8), (3, load)):
        if number in parts:
            part(args.runs)


if __name__ == "__main__":
    main()
