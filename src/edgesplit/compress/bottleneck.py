"""Learned compression at a cut: a small encoder after the head, integer latents entropy-coded
on the wire, a decoder before the tail (supervised compression: head-network distillation,
Matsubara et al.; the Entropic Student, Matsubara et al. 2022; SC2's benchmark).

The encoder maps the crossing tensor (C x H x W) to ``latent_channels`` maps, at the same size
or halved (``stride`` 2); rounding makes them integers, clipped to +-``SYMBOL_BOUND``. Each latent
channel c has a learned prior, a Gaussian of mean mu_c and scale sigma_c quantized to integer
bins (the factorized prior of Balle et al. 2018, in its parametric form), so that a latent y
costs -log2 P(y) bits:

    P(y) = Phi((y + 1/2 - mu_c) / sigma_c) - Phi((y - 1/2 - mu_c) / sigma_c)

Training (``train_bottleneck``) distils the unsplit model on the shipped digits: the loss is
the teacher's soft targets (KL at temperature ``temperature``) plus the decoder's error on the
tail's input (its mean square over the head output's variance) plus ``rate_weight`` times the
bits per image, with additive uniform noise standing in for rounding in the rate and rounding
itself (straight through) in the decoder's input. The head is frozen (the device keeps its
model); the tail is frozen or fine-tuned with the decoder (``finetune``: its BatchNorm scales
and shifts and its biases, which travel in the bottleneck's file).

On the wire the latents are coded by ``constriction``'s range coder under exactly that prior, or
by zstd over their int8 symbols when that is shorter (``encode_latents``: a tag byte says
which). Both were chosen by measurement: on the 8x8 digits' bottleneck at cut 7 the range coder
sends 112 bits per image where constriction's ANS coder sends 133 (its 64-bit state is flushed
whole) and zstd 301, against an ideal 96; on MobileNet-V2's upsampled digits, whose latents
repeat over the flat background that a factorized prior cannot see, zstd is often the shorter. A
bottleneck is a safetensors file of its tensors and a JSON sidecar naming the model, the cut
and how it was trained; loading it runs no code (``load_bottleneck``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import constriction
import numpy as np
import torch
import zstandard
from safetensors.torch import load_file, save_file
from torch import nn

from edgesplit.checks import non_negative, positive, whole_number
from edgesplit.compress.codecs import unzstd_exact
from edgesplit.errors import InvalidParameterError

FORMAT = "edgesplit.bottleneck"
SHIPPED_BOTTLENECKS = Path(__file__).resolve().parent.parent / "data" / "bottlenecks"
SYMBOL_BOUND = 127  # latents are clipped to -127..127: one int8 each for the zstd floor
_MIN_SCALE = 0.11  # a prior narrower than this puts nearly all mass in one bin: clipped there
_MIN_PROBABILITY = 1e-9  # the training rate's floor per latent (about 30 bits)


@dataclass(frozen=True)
class BottleneckConfig:
    """How a bottleneck is shaped and trained (defaults: a few minutes on 2 cores)."""

    latent_channels: int = 4
    hidden_channels: int = 64
    stride: int = 1  # 2 halves the latent maps' height and width
    rate_weight: float = 1e-3  # loss per bit per image (lambda)
    finetune: bool = False  # train the tail with the decoder
    epochs: int = 30
    batch: int = 64
    lr: float = 2e-3
    temperature: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("latent_channels", "hidden_channels", "epochs", "batch"):
            whole_number(name, getattr(self, name), 1)
        if self.stride not in (1, 2):
            raise InvalidParameterError("stride", self.stride, "1 or 2")
        non_negative("rate_weight", self.rate_weight)
        positive("lr", self.lr)
        positive("temperature", self.temperature)


class Bottleneck(nn.Module):
    """Encoder, prior and decoder for one crossing tensor of ``channels`` x ``height`` x
    ``width`` (module docstring)."""

    def __init__(self, channels: int, height: int, width: int, config: BottleneckConfig) -> None:
        super().__init__()
        self.shape = (channels, height, width)
        hidden, latent = config.hidden_channels, config.latent_channels
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, stride=config.stride, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, latent, 1),
        )
        self.expand = nn.Sequential(nn.Conv2d(latent, hidden, 1), nn.ReLU())
        self.decoder = nn.Conv2d(hidden, channels, 3, padding=1)
        self.prior_mean = nn.Parameter(torch.zeros(latent))
        self.prior_log_scale = nn.Parameter(torch.zeros(latent))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image's latents."""
        _, height, width = self.shape
        stride = self.encoder[0].stride[0]
        latent = self.encoder[2].out_channels
        return latent, (height + stride - 1) // stride, (width + stride - 1) // stride

    def analyse(self, crossing: torch.Tensor) -> torch.Tensor:
        """The encoder's real-valued latents (before rounding)."""
        return self.encoder(crossing)

    def quantize(self, crossing: torch.Tensor) -> torch.Tensor:
        """The integer latents the wire carries (int32, clipped to +-``SYMBOL_BOUND``)."""
        latents = torch.round(self.analyse(crossing)).clamp(-SYMBOL_BOUND, SYMBOL_BOUND)
        return latents.to(torch.int32)

    def synthesize(self, latents: torch.Tensor) -> torch.Tensor:
        """The tail's input rebuilt from (rounded) latents."""
        hidden = self.expand(latents.float())
        if hidden.shape[-2:] != self.shape[1:]:
            hidden = nn.functional.interpolate(hidden, size=self.shape[1:], mode="nearest")
        return self.decoder(hidden)

    def scales(self) -> torch.Tensor:
        return self.prior_log_scale.exp().clamp_min(_MIN_SCALE)

    def bits(self, latents: torch.Tensor) -> torch.Tensor:
        """-log2 P(latents) under the prior, per image (``latents`` real or integer)."""
        mean = self.prior_mean[:, None, None]
        scale = self.scales()[:, None, None]
        upper = _normal_cdf((latents + 0.5 - mean) / scale)
        lower = _normal_cdf((latents - 0.5 - mean) / scale)
        probability = (upper - lower).clamp_min(_MIN_PROBABILITY)
        return -torch.log2(probability).flatten(1).sum(dim=1)

    def forward(
        self, crossing: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training's pass: (the tail's input from straight-through rounded latents, the bits
        per image of the latents plus uniform noise drawn from ``generator``)."""
        latents = self.analyse(crossing)
        noise = torch.rand(latents.shape, generator=generator) - 0.5
        rounded = latents + (torch.round(latents) - latents).detach()
        return self.synthesize(rounded), self.bits(latents + noise)


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _prior(bottleneck: Bottleneck, count: int) -> tuple[Any, np.ndarray, np.ndarray]:
    """constriction's quantized Gaussian and the per-symbol means and scales for ``count``
    images' latents in channel-major order."""
    _, height, width = bottleneck.latent_shape
    per_channel = height * width
    with torch.no_grad():
        mean = bottleneck.prior_mean.double().numpy()
        scale = bottleneck.scales().double().numpy()
    model = constriction.stream.model.QuantizedGaussian(-SYMBOL_BOUND, SYMBOL_BOUND)
    means = np.tile(np.repeat(mean, per_channel), count)
    scales = np.tile(np.repeat(scale, per_channel), count)
    return model, means, scales


RANGE, ZSTD = 0, 1  # a payload's first byte: how its latents are coded


def range_words(bottleneck: Bottleneck, latents: torch.Tensor) -> bytes:
    """Integer latents (N x C x H x W) as range-coder words under the bottleneck's prior."""
    symbols = latents.to(torch.int32).contiguous().numpy().reshape(-1)
    model, means, scales = _prior(bottleneck, latents.shape[0])
    coder = constriction.stream.queue.RangeEncoder()
    coder.encode(symbols, model, means, scales)
    return coder.get_compressed().astype("<u4").tobytes()


def zstd_symbols(latents: torch.Tensor) -> bytes:
    """Integer latents as zstd (level 19) over their int8 symbols."""
    data = latents.to(torch.int8).contiguous().numpy().tobytes()
    return zstandard.ZstdCompressor(level=19).compress(data)


def encode_latents(bottleneck: Bottleneck, latents: torch.Tensor) -> bytes:
    """The wire's bytes of integer latents: one tag byte, then the shorter of the range-coded
    words and zstd of the symbols. The prior is factorized (each latent on its own), so latents
    that repeat in space (the flat background of an upsampled digit) can cost it more than
    zstd's matches: the message says which it carries."""
    ranged = range_words(bottleneck, latents)
    packed = zstd_symbols(latents)
    if len(packed) < len(ranged):
        return bytes([ZSTD]) + packed
    return bytes([RANGE]) + ranged


def decode_latents(bottleneck: Bottleneck, data: bytes | memoryview, count: int) -> torch.Tensor:
    """The ``count`` images' integer latents of ``encode_latents``' bytes, refused (naming the
    reason) unless they are exactly that: range words that are not whole 32-bit words, that no
    stream of the prior could be, or that run on beyond the latents (a range decoder turns any
    words into in-range symbols, so a wrong stream shows as words left over); zstd that does
    not give exactly one byte per latent, or symbols beyond +-``SYMBOL_BOUND``."""
    shape = (count, *bottleneck.latent_shape)
    size = math.prod(shape)
    data = bytes(data)
    if not data or data[0] not in (RANGE, ZSTD):
        raise InvalidParameterError(
            "payload", f"tag {data[0] if data else 'none'}", f"{RANGE} (range) or {ZSTD} (zstd)"
        )
    body = data[1:]
    if data[0] == ZSTD:
        symbols = np.frombuffer(unzstd_exact(body, size), dtype=np.int8).astype(np.int32)
        if np.abs(symbols).max(initial=0) > SYMBOL_BOUND:
            raise InvalidParameterError("payload", "bottleneck symbols", f"within +-{SYMBOL_BOUND}")
        return torch.from_numpy(symbols).reshape(shape)
    if len(body) % 4 or not body:
        raise InvalidParameterError(
            "payload", f"{len(body)} bytes", "a non-empty whole number of 32-bit coder words"
        )
    words = np.frombuffer(body, dtype="<u4").astype(np.uint32)
    model, means, scales = _prior(bottleneck, count)
    try:
        coder = constriction.stream.queue.RangeDecoder(words)
        symbols = coder.decode(model, means, scales)
        exact = coder.maybe_exhausted()
    except (ValueError, RuntimeError, AssertionError) as error:
        raise InvalidParameterError("payload", "bottleneck", f"coder words ({error})") from None
    if not exact:
        raise InvalidParameterError(
            "payload", "bottleneck words", f"exactly the latents of {count} image(s)"
        )
    return torch.from_numpy(symbols.astype(np.int32)).reshape(shape)


def wire_latents(
    bottleneck: Bottleneck, data: bytes | memoryview, shape: tuple[int, ...], limit_bytes: int
) -> torch.Tensor:
    """The int8 latents of a wire payload whose header declares ``shape`` (N x C x H x W),
    refused unless that is N >= 1 images of this bottleneck's latents whose rebuilt map (float32)
    fits in ``limit_bytes``: the check comes before any decoding, as a range payload of a few
    words may claim any number of images."""
    latent = bottleneck.latent_shape
    if len(shape) != 4 or shape[0] < 1 or tuple(shape[1:]) != latent:
        raise InvalidParameterError(
            "shape", list(shape), f"[N >= 1, {', '.join(map(str, latent))}] (the latents)"
        )
    if shape[0] * math.prod(bottleneck.shape) * 4 > limit_bytes:
        raise InvalidParameterError(
            "shape", list(shape), f"latents of a map of at most {limit_bytes} bytes"
        )
    return decode_latents(bottleneck, data, shape[0]).to(torch.int8)


@dataclass(frozen=True)
class BottleneckInfo:
    """A bottleneck's sidecar: what it belongs to and how it was made."""

    name: str
    model: str  # the model spec (``graph.zoo.load_model``)
    input_shape: tuple[int, ...]
    granularity: str
    cut: int  # the 0-based cut position
    cut_key: str  # ``ModelGraph.fx_key``: the cut's portable identity
    crossing_shape: tuple[int, int, int]
    config: BottleneckConfig
    metrics: dict[str, float] = field(default_factory=dict)
    command: str = ""
    machine: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}


def file_pair(path: str | Path) -> tuple[Path, Path]:
    """(NAME.safetensors, NAME.json) for ``path`` given with either suffix or none (a name may
    hold dots of its own)."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def locate(name: str | Path, folder: Path, what: str) -> Path:
    """The safetensors path of the file pair ``name`` gives: a path (either suffix or none),
    else the name of one shipped in ``folder``; refused naming the shipped ones."""
    given = file_pair(name)[0]
    if given.is_file():
        return given
    shipped = file_pair(folder / Path(name).name)[0]
    if Path(name).name == str(name) and shipped.is_file():
        return shipped
    known = sorted(p.name.removesuffix(".json") for p in folder.glob("*.json"))
    raise InvalidParameterError(
        what, str(name), f"a {what} file or the name of a shipped one ({', '.join(known)})"
    )


def save_bottleneck(
    path: str | Path,
    bottleneck: Bottleneck,
    info: BottleneckInfo,
    tail_state: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``bottleneck`` (and a fine-tuned tail's parameters under ``tail.``) as safetensors
    and ``info`` as the JSON beside it; returns the safetensors path."""
    path, sidecar = file_pair(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        f"bottleneck.{k}": v.detach().contiguous() for k, v in bottleneck.state_dict().items()
    }
    tensors |= {f"tail.{k}": v.detach().contiguous() for k, v in (tail_state or {}).items()}
    save_file(tensors, path)
    sidecar.write_text(json.dumps(info.record(), indent=2) + "\n")
    return path


def read_sidecar(path: str | Path, format_name: str, what: str) -> tuple[Path, dict[str, Any]]:
    """(the safetensors path, the sidecar's fields but its format) of a file pair written with
    ``format_name``, refused (``what`` names the field) when either file is missing, the JSON
    is malformed or of another format."""
    path, sidecar = file_pair(path)
    for where in (path, sidecar):
        if not where.is_file():
            raise InvalidParameterError(what, str(where), "an existing file")
    try:
        record = json.loads(sidecar.read_text())
    except json.JSONDecodeError as error:
        raise InvalidParameterError(what, str(sidecar), f"JSON ({error})") from None
    found = record.get("format") if isinstance(record, dict) else None
    if found != format_name:
        raise InvalidParameterError(
            what, str(sidecar),
            f"a {format_name} sidecar ({found!r} is not a {format_name} sidecar's format)",
        )  # fmt: skip
    return path, {k: v for k, v in record.items() if k != "format"}


def read_info(path: str | Path) -> tuple[Path, BottleneckInfo]:
    """(the safetensors path, the sidecar) of a bottleneck, the sidecar checked field by field
    (the tensors are not read)."""
    path, fields = read_sidecar(path, FORMAT, "bottleneck")
    try:
        fields["config"] = BottleneckConfig(**fields["config"])
        for name in ("input_shape", "crossing_shape"):
            fields[name] = tuple(int(d) for d in fields[name])
        if len(fields["crossing_shape"]) != 3:
            raise ValueError("crossing_shape must be channels, height, width")
        return path, BottleneckInfo(**fields)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidParameterError(
            "bottleneck", str(file_pair(path)[1]), f"a complete sidecar ({error})"
        ) from None


def load_bottleneck(path: str | Path) -> tuple[Bottleneck, BottleneckInfo, dict[str, torch.Tensor]]:
    """(bottleneck, sidecar, the fine-tuned tail's state or {}) of a file ``save_bottleneck``
    wrote; a missing, mismatched or malformed file is refused naming what is wrong."""
    path, info = read_info(path)
    channels, height, width = info.crossing_shape
    try:
        tensors = load_file(path)
    except Exception as error:  # safetensors raises its own types for a file not its format
        raise InvalidParameterError(
            "bottleneck", str(path), f"a safetensors file ({type(error).__name__})"
        ) from None
    bottleneck = Bottleneck(channels, height, width, info.config)
    own = {
        k.removeprefix("bottleneck."): v for k, v in tensors.items() if k.startswith("bottleneck.")
    }
    try:
        bottleneck.load_state_dict(own)
    except RuntimeError as error:
        raise InvalidParameterError(
            "bottleneck", str(path), f"tensors matching its sidecar ({error})"
        ) from None
    tail = {k.removeprefix("tail."): v for k, v in tensors.items() if k.startswith("tail.")}
    return bottleneck.eval(), info, tail
