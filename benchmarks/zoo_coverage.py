"""Check the whole pipeline on every torchvision classification model.

For each model and granularity: trace, count cuts (up to a limit), find the min-cut optimum of a
random additive cost, and check that the split at that optimum and at the middle cut reproduces
the model's output. Prints one line per model; run `python benchmarks/zoo_coverage.py [names...]`.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch

from edgesplit.errors import CutLimitExceededError
from edgesplit.graph import GRANULARITIES, ModelGraph
from edgesplit.graph.mincut import AdditiveCost
from edgesplit.graph.split import split
from edgesplit.graph.zoo import build_model, example_input, list_models

LIMIT = 100_000


def check(name: str) -> str:
    model = build_model(name)
    x = example_input(name, 224)
    with torch.no_grad():
        reference = model(x)
    parts = []
    for granularity in GRANULARITIES:
        start = time.perf_counter()
        graph = ModelGraph.from_module(model, x, granularity=granularity, model_name=name)
        trace_s = time.perf_counter() - start
        try:
            count = str(graph.cut_table(LIMIT).size)
        except CutLimitExceededError:
            count = f">{LIMIT}"
        rng = np.random.default_rng(0)
        cost = AdditiveCost(
            rng.random(len(graph.nodes)),
            rng.random(len(graph.nodes)),
            rng.random(len(graph.values)),
        )
        cuts = [graph.best_cut(cost)]
        if not count.startswith(">"):
            cuts.append(graph.cut(graph.cut_table().size // 2))
        worst = 0.0
        for cut in cuts:
            head, tail = split(model, graph, cut)
            with torch.no_grad():
                worst = max(worst, float((tail(*head(x)) - reference).abs().max()))
        parts.append(f"{granularity}:{len(graph.nodes)}n/{count}c/{trace_s:.1f}s/err{worst:.1e}")
    return " ".join(parts)


def main(names: list[str]) -> None:
    torch.set_num_threads(2)
    for name in names or list_models():
        try:
            print(f"{name:20s} ok   {check(name)}", flush=True)
        except Exception as error:  # report and go on to the next model
            print(f"{name:20s} FAIL {type(error).__name__}: {error}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
