"""Training a bottleneck at a cut by distillation from the unsplit model (``compress.bottleneck``
has the loss), splitting a model around a bottleneck file, and measuring what it sends and what
it keeps (the shipped ones: ``compress.shipped``).

Training is seeded (batch order and the rate's noise come from one generator; one torch thread,
so that the thread count changes nothing), shows its progress, and writes a checkpoint after
every epoch (safetensors: the weights, Adam's moments and the generator's state; a JSON beside
it): run it again with the same checkpoint and config and it goes on from the last finished
epoch, giving the weights an uninterrupted run gives. The learning rate follows a cosine from
``lr`` to 0 over the epochs (a function of the epoch, so a resumed run follows it too).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import fx, nn

from edgesplit.compress.accuracy import (
    DigitsData,
    cosine_rate,
    shuffled_batches,
    soft_target_loss,
    topk_accuracy,
)
from edgesplit.compress.bottleneck import (
    Bottleneck,
    BottleneckConfig,
    BottleneckInfo,
    decode_latents,
    encode_latents,
    file_pair,
    load_bottleneck,
    range_words,
    zstd_symbols,
)
from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.graph.split import split
from edgesplit.graph.trace import torch_threads
from edgesplit.progress import bar

CHECKPOINT_FORMAT = "edgesplit.bottleneck-training"


def bottleneck_halves(
    model: nn.Module, graph: ModelGraph, position: int
) -> tuple[fx.GraphModule, fx.GraphModule, tuple[int, int, int]]:
    """(head, tail, C x H x W of the crossing map) at cut ``position``, refused unless exactly
    one 4-D feature map crosses and the device computes no output of its own."""
    cut = graph.cut(position)
    shapes = {value.name: value.shape for value in graph.values}
    shape = shapes.get(cut.crossing[0]) if len(cut.crossing) == 1 else None
    if cut.device_outputs or shape is None or len(shape) != 4:
        raise InvalidParameterError(
            "cut", position,
            "a cut where exactly one 4-D feature map crosses (a bottleneck codes one map); "
            f"this one sends {len(cut.crossing)} value(s)",
        )  # fmt: skip
    head, tail = split(model, graph, cut)
    return head, tail, tuple(int(d) for d in shape[1:])


def bottleneck_split(
    model: nn.Module, graph: ModelGraph, path: str | Path
) -> tuple[fx.GraphModule, Bottleneck, fx.GraphModule, BottleneckInfo]:
    """(head, bottleneck, tail, sidecar) of the bottleneck file ``path`` on ``model`` (traced as
    ``graph``, at any granularity that has the file's cut: cuts are matched by their portable
    key), refused unless ``graph`` has that cut with the same crossing shape. A fine-tuned tail
    is a copy holding the file's weights: the model's own layers (which ``split``'s halves
    share) stay as they are."""
    bottleneck, info, tail_state = load_bottleneck(path)
    cut = graph.cut_with_key(info.cut_key)
    head, tail, shape = bottleneck_halves(model, graph, cut.index) if cut else (None, None, None)
    if shape != info.crossing_shape:
        raise InvalidParameterError(
            "bottleneck", info.name,
            f"one trained for a cut of this model (it was trained for {info.model}'s "
            f"{info.granularity} cut {info.cut}, crossing {list(info.crossing_shape)}, which "
            f"this {graph.granularity} graph does not have)",
        )  # fmt: skip
    if tail_state:
        tail = copy.deepcopy(tail)
        tuned = tuned_parameters(tail)
        if set(tail_state) != set(tuned):
            raise InvalidParameterError(
                "bottleneck", info.name, "a fine-tuned tail of this model's tail's parameters"
            )
        with torch.no_grad():
            for name, value in tail_state.items():
                tuned[name].copy_(value)
    return head, bottleneck, tail.eval(), info


class DecodedTail(nn.Module):
    """The server's half of a split through a bottleneck: the decoder, then the tail; it takes
    the integer latents the wire carries."""

    def __init__(self, bottleneck: Bottleneck, tail: nn.Module) -> None:
        super().__init__()
        self.bottleneck = bottleneck
        self.tail = tail

    def forward(self, latents: torch.Tensor) -> Any:
        return self.tail(self.bottleneck.synthesize(latents))


def tuned_parameters(tail: nn.Module) -> dict[str, nn.Parameter]:
    """What fine-tuning trains in a tail: its one-dimensional parameters (BatchNorm scales and
    shifts, biases), as BitFit and TinyTL do. The convolution and linear weights stay the
    model's, so a fine-tuned tail is a few kilobytes in the bottleneck's file and a server
    keeps one copy of the weights for every bottleneck of a model."""
    return {name: p for name, p in tail.named_parameters() if p.dim() == 1}


@dataclass(frozen=True)
class TeacherTargets:
    """What the frozen head and the teacher (the unsplit model) give for training images,
    computed once: the crossing maps, the logits, and the maps' variance."""

    crossing: torch.Tensor
    logits: torch.Tensor
    variance: float


def teacher_targets(model: nn.Module, head: nn.Module, images: torch.Tensor) -> TeacherTargets:
    with torch.no_grad():
        crossing = torch.cat([head(chunk)[0] for chunk in images.split(256)])
        logits = torch.cat([model(chunk) for chunk in images.split(256)])
    return TeacherTargets(crossing, logits, float(crossing.var()))


def train_bottleneck(
    model: nn.Module,
    graph: ModelGraph,
    position: int,
    data: DigitsData,
    config: BottleneckConfig,
    checkpoint: str | Path | None = None,
    progress: bool = True,
) -> tuple[Bottleneck, fx.GraphModule]:
    """A bottleneck for cut ``position`` of ``model`` (traced as ``graph``) trained on
    ``data``'s training images (module docstring); returns it and the tail it was trained
    with (the model's own, or a fine-tuned copy when ``config.finetune``), both in eval mode.
    ``checkpoint``: a file stem to resume from and save to after each epoch."""
    head, tail, shape = bottleneck_halves(model, graph, position)
    cut_key = graph.fx_key(graph.cut(position))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        bottleneck = Bottleneck(*shape, config)
    tail = copy.deepcopy(tail).eval()  # BatchNorm keeps its statistics while tuning
    tuned = tuned_parameters(tail) if config.finetune else {}
    for parameter in tail.parameters():
        parameter.requires_grad_(False)
    for parameter in tuned.values():
        parameter.requires_grad_(True)
    groups = [{"params": list(bottleneck.parameters()), "lr": config.lr}]
    if tuned:
        groups.append({"params": list(tuned.values()), "lr": config.lr / 10})
    optimizer = torch.optim.Adam(groups)
    bases = [group["lr"] for group in groups]
    generator = torch.Generator().manual_seed(config.seed)
    start = 0
    if checkpoint is not None and file_pair(checkpoint)[0].is_file():
        start = _resume(checkpoint, config, cut_key, bottleneck, tail, optimizer, generator)
    targets = teacher_targets(model, head, data.x_train)
    count = len(targets.logits)
    with torch_threads(1), bar("bottleneck", config.epochs, "epochs", progress) as shown:
        shown.update(completed=start)
        for epoch in range(start, config.epochs):
            for group, base in zip(optimizer.param_groups, bases, strict=True):
                group["lr"] = cosine_rate(base, epoch, config.epochs)
            bottleneck.train()
            for batch in shuffled_batches(count, config.batch, generator):
                optimizer.zero_grad()
                loss, _ = _loss(bottleneck, tail, targets, batch, config, generator)
                loss.backward()
                optimizer.step()
            if checkpoint is not None:
                _save(
                    checkpoint, config, cut_key, epoch + 1, bottleneck, tail, optimizer, generator
                )
            shown.advance()
    return bottleneck.eval(), tail


def _loss(
    bottleneck: Bottleneck,
    tail: nn.Module,
    targets: TeacherTargets,
    batch: torch.Tensor,
    config: BottleneckConfig,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the distillation loss, bits per image) of one batch (``compress.bottleneck``)."""
    crossing = targets.crossing[batch]
    rebuilt, bits = bottleneck(crossing, generator)
    logits = tail(rebuilt)
    soft = soft_target_loss(logits, targets.logits[batch], config.temperature)
    feature = nn.functional.mse_loss(rebuilt, crossing) / targets.variance
    loss = soft + feature + config.rate_weight * bits.mean()
    return loss, bits


def _save(
    stem: str | Path,
    config: BottleneckConfig,
    cut_key: str,
    epochs_done: int,
    bottleneck: Bottleneck,
    tail: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> None:
    """The training state after ``epochs_done`` epochs, each file replaced atomically."""
    weights, meta = file_pair(stem)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = optimizer.state_dict()
    tensors = {f"bottleneck.{k}": v for k, v in bottleneck.state_dict().items()}
    tensors |= {f"tail.{k}": v for k, v in tuned_parameters(tail).items() if config.finetune}
    for index, moments in state["state"].items():
        tensors |= {f"optimizer.{index}.{k}": torch.as_tensor(v) for k, v in moments.items()}
    tensors["generator"] = generator.get_state()
    record = {
        "format": CHECKPOINT_FORMAT, "epochs_done": epochs_done, "cut_key": cut_key,
        "config": asdict(config), "param_groups": state["param_groups"],
    }  # fmt: skip
    for path, write in (
        (weights, lambda p: save_file({k: v.detach().contiguous() for k, v in tensors.items()}, p)),
        (meta, lambda p: p.write_text(json.dumps(record, indent=2) + "\n")),
    ):
        temporary = path.with_name(path.name + ".tmp")
        write(temporary)
        temporary.replace(path)


def _resume(
    stem: str | Path,
    config: BottleneckConfig,
    cut_key: str,
    bottleneck: Bottleneck,
    tail: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
) -> int:
    """Load a checkpoint ``_save`` wrote for this config and cut; the epochs it had done."""
    weights, meta = file_pair(stem)
    try:
        record = json.loads(meta.read_text())
        tensors = load_file(weights)
    except Exception as error:  # a torn or foreign file: say which
        raise InvalidParameterError(
            "checkpoint", str(weights), f"a bottleneck training checkpoint ({error})"
        ) from None
    if record.get("format") != CHECKPOINT_FORMAT:
        raise InvalidParameterError("checkpoint", str(meta), f"a {CHECKPOINT_FORMAT} file")
    if record.get("config") != asdict(config) or record.get("cut_key") != cut_key:
        raise InvalidParameterError(
            "checkpoint", str(weights),
            "one of this training's config and cut (it holds another's: delete it or name "
            "another checkpoint)",
        )  # fmt: skip
    parts: dict[str, dict[str, torch.Tensor]] = {"bottleneck": {}, "tail": {}}
    moments: dict[int, dict[str, torch.Tensor]] = {}
    for name, tensor in tensors.items():
        group, _, rest = name.partition(".")
        if group == "optimizer":
            index, _, key = rest.partition(".")
            moments.setdefault(int(index), {})[key] = tensor
        elif group in parts:
            parts[group][rest] = tensor
    bottleneck.load_state_dict(parts["bottleneck"])
    if config.finetune:
        with torch.no_grad():
            for name, parameter in tuned_parameters(tail).items():
                parameter.copy_(parts["tail"][name])
    optimizer.load_state_dict({"state": moments, "param_groups": record["param_groups"]})
    generator.set_state(tensors["generator"])
    return int(record["epochs_done"])


@dataclass(frozen=True)
class BottleneckScore:
    """What a bottleneck keeps and sends on the test images, each image coded on its own."""

    top1: float
    top3: float
    coded_bits: float  # mean bits per image on the wire (``encode_latents``: tag and body)
    range_bits: float  # mean bits per image of the range-coded words alone
    zstd_bits: float  # mean bits per image of zstd over the int8 latents alone
    ideal_bits: float  # mean -log2 P(latents) per image: what an ideal coder would send


def score_bottleneck(
    head: Callable[..., tuple[torch.Tensor, ...]],
    bottleneck: Bottleneck,
    tail: nn.Module,
    data: DigitsData,
) -> BottleneckScore:
    """Run each test image through head, the wire's coder (encode, decode), the decoder and
    the tail, as the runtime sends it."""
    logits, coded, ranged, packed = [], [], [], []
    with torch.no_grad():
        crossing = torch.cat([head(chunk)[0] for chunk in data.x_test.split(256)])
        latents = bottleneck.quantize(crossing)
        ideal = bottleneck.bits(latents.float())
        for row in latents.split(1):
            payload = encode_latents(bottleneck, row)
            received = decode_latents(bottleneck, payload, 1)
            logits.append(tail(bottleneck.synthesize(received)))
            coded.append(8 * len(payload))
            ranged.append(8 * len(range_words(bottleneck, row)))
            packed.append(8 * len(zstd_symbols(row)))
    logits = torch.cat(logits)
    return BottleneckScore(
        topk_accuracy(logits, data.y_test, 1),
        topk_accuracy(logits, data.y_test, 3),
        float(np.mean(coded)),
        float(np.mean(ranged)),
        float(np.mean(packed)),
        float(ideal.mean()),
    )
