"""The bottlenecks and early exits edgesplit ships for its digits classifiers
(``data/bottlenecks``, ``data/exits``; ``scripts/ship_bottlenecks.py`` makes them): made,
scored on the test images as the wire sends them, and listed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgesplit.compress.accuracy import (
    DIGITS_ARCHS,
    DigitsData,
    accuracy_vs_codec,
    classifier_spec,
    digits_model,
    evaluate,
)
from edgesplit.compress.bottleneck import (
    SHIPPED_BOTTLENECKS,
    Bottleneck,
    BottleneckConfig,
    BottleneckInfo,
    file_pair,
    load_bottleneck,
    read_info,
    save_bottleneck,
)
from edgesplit.compress.distill import (
    bottleneck_halves,
    bottleneck_split,
    score_bottleneck,
    teacher_targets,
    train_bottleneck,
    tuned_parameters,
)
from edgesplit.compress.exits import (
    SHIPPED_EXITS,
    THRESHOLDS,
    ExitConfig,
    ExitHead,
    ExitInfo,
    ExitPoint,
    exit_curve,
    load_exit,
    read_exit_info,
    save_exit,
    train_exit,
)
from edgesplit.costs.tables import exit_option_name
from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.plan import SplitOption
from edgesplit.profile import NodeLatencyModel
from edgesplit.profile.measure import machine_description
from edgesplit.profile.throughput import ThroughputModel, whole_model_rate


def bottleneck_name(arch: str, position: int, config: BottleneckConfig) -> str:
    """``digitsnet-cut3-frozen-r0p003``: the model, the cut position, frozen or fine-tuned
    tail, the rate weight (its point written ``p``: a name holds neither dots nor ``+``)."""
    mode = "finetuned" if config.finetune else "frozen"
    return f"{arch}-cut{position}-{mode}-r{config.rate_weight:g}".replace(".", "p")


def make_digits_bottleneck(
    arch: str,
    position: int,
    config: BottleneckConfig,
    out: str | Path = SHIPPED_BOTTLENECKS,
    progress: bool = True,
    command: str = "",
) -> Path:
    """Train a bottleneck for the shipped digits classifier ``arch`` at cut ``position``
    (layer granularity), write it into ``out`` under ``bottleneck_name`` and score it there
    (``rescore_bottleneck``); an interrupted run resumes from its checkpoint in ``out``, which
    is removed once the bottleneck is written. Returns the safetensors path."""
    model, data = digits_model(arch=arch)
    example = data.x_test[:1]
    graph = ModelGraph.from_module(model, example, "layer", model_name=arch)
    name = bottleneck_name(arch, position, config)
    out = Path(out)
    checkpoint = out / f".{name}-checkpoint"
    bottleneck, tail = train_bottleneck(model, graph, position, data, config, checkpoint, progress)
    _, _, shape = bottleneck_halves(model, graph, position)
    info = BottleneckInfo(
        name, classifier_spec(arch), tuple(example.shape), "layer", position,
        graph.fx_key(graph.cut(position)), shape, config, command=command,
        machine=machine_description("cpu"),
    )  # fmt: skip
    tuned = tuned_parameters(tail) if config.finetune else {}
    path = save_bottleneck(out / name, bottleneck, info, tuned)
    for stale in file_pair(checkpoint):
        stale.unlink(missing_ok=True)
    return rescore_bottleneck(path, arch)


def rescore_bottleneck(path: str | Path, arch: str) -> Path:
    """Score the bottleneck file ``path`` of the shipped digits classifier ``arch`` on the test
    images as the wire sends them (``score_bottleneck``) and write the scores into its sidecar
    (``metrics``); the weights are not touched. Returns the safetensors path."""
    model, data = digits_model(arch=arch)
    graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name=arch)
    head, bottleneck, tail, info = bottleneck_split(model, graph, path)
    score = score_bottleneck(head, bottleneck, tail, data)
    top1, _ = evaluate(model, data)
    fp32_bits = 32 * math.prod(info.crossing_shape)
    metrics = {**asdict(score), "model_top1": top1, "fp32_bits": fp32_bits}
    path, sidecar = file_pair(path)
    record = {**json.loads(sidecar.read_text()), "metrics": metrics}
    sidecar.write_text(json.dumps(record, indent=2) + "\n")
    return path


def shipped_bottlenecks(arch: str | None = None) -> list[tuple[Path, BottleneckInfo]]:
    """The bottlenecks edgesplit ships (``scripts/ship_bottlenecks.py``), for the classifier
    ``arch`` or all, by name."""
    return _shipped(SHIPPED_BOTTLENECKS, read_info, arch)


def _shipped(folder: Path, read: Callable[[Path], tuple[Path, Any]], arch: str | None) -> list:
    """(safetensors path, sidecar) of each file pair in ``folder`` read by ``read``, for the
    classifier ``arch`` or all, by name."""
    found = [read(sidecar) for sidecar in sorted(folder.glob("*.json"))]
    return [(p, i) for p, i in found if arch is None or i.model == classifier_spec(arch)]


def score_exit(
    model: nn.Module,
    head: Callable[..., tuple[torch.Tensor, ...]],
    exit_head: ExitHead,
    data: DigitsData,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> list[ExitPoint]:
    """``exit_curve`` of ``exit_head`` (reading ``head``'s crossing map) against ``model`` on
    the test images."""
    with torch.no_grad():
        crossing = head(data.x_test)[0]
        return exit_curve(exit_head(crossing), model(data.x_test), data.y_test, thresholds)


def make_digits_exit(
    arch: str,
    position: int,
    config: ExitConfig,
    out: str | Path = SHIPPED_EXITS,
    command: str = "",
) -> Path:
    """Train an early exit for the shipped digits classifier ``arch`` at cut ``position``
    (layer granularity; one 4-D map crosses), measure its curve on the test images and write
    it into ``out`` as ``ARCH-cutN-exit``. Returns the safetensors path."""
    model, data = digits_model(arch=arch)
    graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name=arch)
    head, _, shape = bottleneck_halves(model, graph, position)
    targets = teacher_targets(model, head, data.x_train)
    exit_head = train_exit(targets.crossing, targets.logits, data.y_train, config)
    curve = score_exit(model, head, exit_head, data)
    name = f"{arch}-cut{position}-exit"
    info = ExitInfo(
        name, classifier_spec(arch), "layer", position, graph.fx_key(graph.cut(position)),
        shape, int(targets.logits.shape[1]), config, [asdict(p) for p in curve], command,
        machine_description("cpu"),
    )  # fmt: skip
    return save_exit(Path(out) / name, exit_head, info)


def shipped_exits(arch: str | None = None) -> list[tuple[Path, ExitInfo]]:
    """The early exits edgesplit ships, for the classifier ``arch`` or all, by name."""
    return _shipped(SHIPPED_EXITS, read_exit_info, arch)


def split_options(
    spec: str, graph: ModelGraph, device: NodeLatencyModel, server: NodeLatencyModel
) -> tuple[list[SplitOption], float]:
    """(options, the model's own top-1): the shipped bottlenecks and exits (one option per
    threshold) of the model ``spec`` as ``plan`` options on ``graph`` (any granularity: each
    cut is found by its portable key), their top-1 as measured when shipped. Their device and
    server seconds are their own layers' MACs at the rate each side's latency model gives the
    whole model (its MACs over its predicted seconds): a measured profile knows only its own
    model's nodes, and a MAC-rate model gives its rate back. Refused when ``spec`` has none."""
    arch = next((a for a in DIGITS_ARCHS if classifier_spec(a) == spec), None)
    if arch is None:
        raise InvalidParameterError(
            "model", spec, "a model with shipped bottlenecks and exits for --min-accuracy: "
            + ", ".join(classifier_spec(a) for a in DIGITS_ARCHS),
        )  # fmt: skip
    device, server = whole_model_rate(device, graph), whole_model_rate(server, graph)
    options, model_top1 = [], 0.0
    for path, info in shipped_bottlenecks(arch):
        model_top1 = info.metrics["model_top1"]
        bottleneck, _, _ = load_bottleneck(path)
        crossing = torch.zeros(1, *info.crossing_shape)
        latents = bottleneck.analyse(crossing).detach()
        position = _position(graph, info)
        options.append(SplitOption(
            info.name, position, info.metrics["top1"], bits=info.metrics["coded_bits"],
            device_s=_seconds(device, bottleneck.encoder, crossing),
            server_s=_seconds(server, _Synthesis(bottleneck), latents), source=info.name,
        ))  # fmt: skip
    for path, info in shipped_exits(arch):
        exit_head, _ = load_exit(path)
        device_s = _seconds(device, exit_head, torch.zeros(1, *info.crossing_shape))
        position = _position(graph, info)
        for point in info.curve:
            options.append(SplitOption(
                exit_option_name(info.name, point["threshold"]), position, point["top1"],
                device_s=device_s, exit_probability=point["exit_rate"], source=info.name,
                threshold=point["threshold"],
            ))  # fmt: skip
    return options, model_top1


def codec_top1(spec: str, granularity: str, codec: str) -> Callable[[int], float]:
    """The top-1 of a shipped digits classifier split at a cut (by its position at
    ``granularity``) with what crosses through ``codec``, measured on the test images
    (``accuracy_vs_codec``): what ``plan.best_split`` weighs a plain split's lossy codec by."""
    arch = next((a for a in DIGITS_ARCHS if classifier_spec(a) == spec), None)
    if arch is None:
        raise InvalidParameterError("model", spec, "a shipped digits classifier")
    model, data = digits_model(0, None, arch)

    def top1(position: int) -> float:
        (row,) = accuracy_vs_codec(model, data, [codec], granularity, [position])
        return row.top1

    return top1


def _position(graph: ModelGraph, info: Any) -> int:
    """The position on ``graph`` of a shipped bottleneck's or exit's cut (by its portable key)."""
    cut = graph.cut_with_key(info.cut_key)
    if cut is None:
        raise InvalidParameterError(
            "granularity", graph.granularity,
            f"a granularity with {info.name}'s cut ({info.granularity} cut {info.cut})",
        )  # fmt: skip
    return cut.index


class _Synthesis(nn.Module):
    """A bottleneck's server side as a module to trace (decoder from the latents)."""

    def __init__(self, bottleneck: Bottleneck) -> None:
        super().__init__()
        self.bottleneck = bottleneck

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.bottleneck.synthesize(latents)


def _seconds(latency: ThroughputModel, module: nn.Module, example: torch.Tensor) -> float:
    """``module``'s seconds at a side's MAC rate, through its own traced graph."""
    graph = ModelGraph.from_module(module.eval(), example, "layer", type(module).__name__)
    return float(np.sum(latency.node_latency_s(graph)))
