"""BatchNorm folding (``compress.fold``): inference time of each model and of its split halves
with the BatchNorms folded into the layers before them, against the same model unfolded, in the
same run.

    python benchmarks/fold_batchnorm.py [--repeats 30] [--threads 1,2]

Each row: a model (torchvision's, weights=None, its BatchNorm statistics randomised so the
folding is not the identity; the shipped digits CNN), the pairs folded, the median time of a
batch-1 inference unfolded and folded (interleaved, ``--repeats`` each), their ratio, and the
largest output difference relative to the largest output. The split rows run the head and the
tail of the middle cut of the operator graph, each folded on its own side (what
``edgesplit serve --fold-batchnorm`` and ``edgesplit device --fold-batchnorm`` run).
"""

from __future__ import annotations

import argparse
import functools
import platform
import time

import numpy as np
import torch
import torchvision
from torch import fx, nn

from edgesplit.compress.accuracy import digits_model
from edgesplit.compress.fold import fold_batchnorm
from edgesplit.graph import ModelGraph
from edgesplit.graph.split import split

MODELS = ("resnet18", "resnet50", "mobilenet_v2", "densenet121")


def randomised(model: nn.Module) -> nn.Module:
    generator = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0.0, 0.5, generator=generator)
            m.running_var.uniform_(0.5, 2.0, generator=generator)
    return model.eval()


def paired_medians_s(first, second, repeats: int) -> tuple[float, float]:
    """Median seconds of ``first()`` and ``second()``, run alternately after one warm-up each."""
    times: list[list[float]] = [[], []]
    with torch.no_grad():
        first(), second()
        for _ in range(repeats):
            for i, call in enumerate((first, second)):
                start = time.perf_counter()
                call()
                times[i].append(time.perf_counter() - start)
    return float(np.median(times[0])), float(np.median(times[1]))


def through(head: nn.Module, tail: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return tail(*head(x))


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args()
    cases = []
    digits, data = digits_model()
    cases.append(("digits CNN (8x8)", digits, data.x_test[:1]))
    for name in MODELS:
        model = randomised(getattr(torchvision.models, name)(weights=None))
        cases.append((f"{name} (224)", model, torch.randn(1, 3, 224, 224)))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
    print("| model | threads | pairs folded | unfolded ms | folded ms | folded / unfolded | "
          "max rel. error |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for label, model, x in cases:
            traced = fx.symbolic_trace(model)
            folded, count = fold_batchnorm(traced)
            plain_s, folded_s = paired_medians_s(
                functools.partial(traced, x), functools.partial(folded, x), args.repeats
            )
            with torch.no_grad():
                error = relative_error(folded(x), traced(x))
            print(f"| {label} | {threads} | {count} | {1e3 * plain_s:.2f} | {1e3 * folded_s:.2f} "
                  f"| {folded_s / plain_s:.3f} | {error:.1e} |")  # fmt: skip
            graph = ModelGraph.from_module(model, x, "operator")
            cut = graph.cut(len(graph.cuts()) // 2)
            head, tail = split(model, graph, cut)
            (f_head, in_head), (f_tail, in_tail) = fold_batchnorm(head), fold_batchnorm(tail)
            plain_s, folded_s = paired_medians_s(
                functools.partial(through, head, tail, x),
                functools.partial(through, f_head, f_tail, x),
                args.repeats,
            )
            with torch.no_grad():
                error = relative_error(f_tail(*f_head(x)), tail(*head(x)))
            print(f"| {label} head + tail at cut {cut.index} | {threads} | {in_head + in_tail} | "
                  f"{1e3 * plain_s:.2f} | {1e3 * folded_s:.2f} | {folded_s / plain_s:.3f} | "
                  f"{error:.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
