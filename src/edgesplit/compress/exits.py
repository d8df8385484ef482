"""Early exits at a cut: a small side classifier on the device reads the map that would cross,
and when its answer is confident enough the task ends there and nothing is sent (BranchyNet,
Teerapittayanon et al. 2016; DNN surgery's and PORTEND's exits).

The exit head is a 3x3 convolution, ReLU, global average pooling and a linear classifier. It
trains by distillation from the unsplit model on the shipped digits (soft targets at temperature
``temperature`` plus cross-entropy on the labels), the model itself frozen, seeded, on one torch
thread. A task exits when the largest softmax probability of its exit head reaches
``threshold``; ``exit_curve`` measures, per threshold, the share of test images that exit and
the accuracy of the answers the device and server give together. An exit is a safetensors file
and a JSON sidecar (the model spec, the cut and its portable key, the config, the curve),
loaded without running code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from edgesplit.checks import positive, whole_number
from edgesplit.compress.accuracy import cosine_rate, shuffled_batches, soft_target_loss
from edgesplit.compress.bottleneck import file_pair, read_sidecar
from edgesplit.errors import InvalidParameterError
from edgesplit.graph.trace import torch_threads

FORMAT = "edgesplit.exit"
SHIPPED_EXITS = Path(__file__).resolve().parent.parent / "data" / "exits"
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)


@dataclass(frozen=True)
class ExitConfig:
    """How an exit head is shaped and trained."""

    hidden_channels: int = 32
    epochs: int = 30
    batch: int = 64
    lr: float = 3e-3
    temperature: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("hidden_channels", "epochs", "batch"):
            whole_number(name, getattr(self, name), 1)
        positive("lr", self.lr)
        positive("temperature", self.temperature)


class ExitHead(nn.Module):
    """The side classifier on a ``channels``-channel map."""

    def __init__(self, channels: int, classes: int, config: ExitConfig) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, config.hidden_channels, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(config.hidden_channels, classes),
        )

    def forward(self, crossing: torch.Tensor) -> torch.Tensor:
        return self.body(crossing)


def confidence(logits: torch.Tensor) -> torch.Tensor:
    """The largest softmax probability per row: what a threshold is compared with."""
    return torch.softmax(logits.float(), dim=1).max(dim=1).values


def train_exit(
    crossing: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    config: ExitConfig,
) -> ExitHead:
    """An exit head trained on the training images' crossing maps, the unsplit model's logits
    for them and their labels (module docstring); in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        head = ExitHead(crossing.shape[1], teacher_logits.shape[1], config)
    optimizer = torch.optim.Adam(head.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    with torch_threads(1):
        for epoch in range(config.epochs):
            optimizer.param_groups[0]["lr"] = cosine_rate(config.lr, epoch, config.epochs)
            for batch in shuffled_batches(len(labels), config.batch, generator):
                optimizer.zero_grad()
                logits = head(crossing[batch])
                soft = soft_target_loss(logits, teacher_logits[batch], config.temperature)
                loss = soft + nn.functional.cross_entropy(logits, labels[batch])
                loss.backward()
                optimizer.step()
    return head.eval()


@dataclass(frozen=True)
class ExitPoint:
    """One threshold's outcome on the test images."""

    threshold: float
    exit_rate: float  # share of images that exit on the device
    top1: float  # device and server together: the exit's answer where it exits, else the model's
    exited_top1: float | None  # the exit's accuracy on the images that exit (None: none exit)


def exit_curve(
    exit_logits: torch.Tensor,
    model_logits: torch.Tensor,
    labels: torch.Tensor,
    thresholds: tuple[float, ...] = THRESHOLDS,
) -> list[ExitPoint]:
    """Per threshold, what exiting at it gives (``ExitPoint``)."""
    sure = confidence(exit_logits)
    exit_answer = exit_logits.argmax(dim=1)
    model_answer = model_logits.argmax(dim=1)
    points = []
    for threshold in thresholds:
        exits = sure >= threshold
        answer = torch.where(exits, exit_answer, model_answer)
        right = exit_answer[exits] == labels[exits]
        points.append(
            ExitPoint(
                threshold,
                float(exits.float().mean()),
                float((answer == labels).float().mean()),
                float(right.float().mean()) if bool(exits.any()) else None,
            )
        )
    return points


@dataclass(frozen=True)
class ExitInfo:
    """An exit's sidecar."""

    name: str
    model: str
    granularity: str
    cut: int
    cut_key: str
    crossing_shape: tuple[int, int, int]
    classes: int
    config: ExitConfig
    curve: list[dict[str, Any]] = field(default_factory=list)
    command: str = ""
    machine: dict[str, Any] = field(default_factory=dict)


def save_exit(path: str | Path, head: ExitHead, info: ExitInfo) -> Path:
    """Write the exit head (safetensors) and its sidecar; returns the safetensors path."""
    path, sidecar = file_pair(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in head.state_dict().items()}, path)
    sidecar.write_text(json.dumps({"format": FORMAT, **asdict(info)}, indent=2) + "\n")
    return path


def read_exit_info(path: str | Path) -> tuple[Path, ExitInfo]:
    """(the safetensors path, the sidecar) of an exit, the sidecar checked field by field (the
    weights are not read)."""
    path, record = read_sidecar(path, FORMAT, "exit")
    try:
        record["config"] = ExitConfig(**record["config"])
        record["crossing_shape"] = tuple(int(d) for d in record["crossing_shape"])
        return path, ExitInfo(**record)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidParameterError(
            "exit", str(file_pair(path)[1]), f"a complete exit sidecar ({error})"
        ) from None


def load_exit(path: str | Path) -> tuple[ExitHead, ExitInfo]:
    """(exit head, sidecar) of a file ``save_exit`` wrote, refused naming what is wrong."""
    path, info = read_exit_info(path)
    head = ExitHead(info.crossing_shape[0], int(info.classes), info.config)
    try:
        head.load_state_dict(load_file(path))
    except Exception as error:  # safetensors' own errors or shapes its sidecar does not give
        raise InvalidParameterError(
            "exit", str(path), f"an exit's sidecar and weights ({type(error).__name__}: {error})"
        ) from None
    return head.eval(), info
