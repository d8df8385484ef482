"""Real accuracy on data a package ships: scikit-learn's 8x8 handwritten digits (1,797 images,
10 classes; no download). A small CNN trains in seconds, seeded, and every compression is
measured on the held-out quarter: top-1 and top-3 against the pruning factor (structured and
unstructured, with and without a short fine-tune; chukhno2023 Fig. 2a's shape), int8 inference,
and the bit width of the tensors crossing each cut (zhang2026 Fig. 13's question: what does
precision lost on intermediate data cost?).
"""

from __future__ import annotations

import copy
import io
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from edgesplit.compress.codecs import DTYPE_IDS as _DTYPE_IDS
from edgesplit.compress.codecs import Codec, affine_roundtrip, decode, encode
from edgesplit.compress.prune import (
    Variant,
    count_parameters,
    prune_structured,
    prune_unstructured,
)
from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.graph.split import split
from edgesplit.graph.trace import torch_threads

DIGITS_CLASSES = 10
DIGITS_SHAPE = (1, 1, 8, 8)
SHIPPED_MODELS = Path(__file__).resolve().parent.parent / "data" / "models"


@dataclass(frozen=True)
class DigitsArch:
    """A classifier of the digits: its input (``side`` pixels, ``channels``; the 8x8 images are
    resized bilinearly and the grey repeated) and how its shipped weights trained (``epochs``,
    a cosine learning rate or a constant one)."""

    side: int
    channels: int
    epochs: int
    cosine: bool


# "digitsnet": the small CNN on the 8x8 images; "mobilenet_v2": torchvision's (10 classes) on
# 32x32 RGB copies, a paper model small enough to ship trained (9 MB); at a constant rate its
# test accuracy swings by 10 points from epoch to epoch, hence the cosine
DIGITS_ARCHS = {
    "digitsnet": DigitsArch(8, 1, 40, cosine=False),
    "mobilenet_v2": DigitsArch(32, 3, 30, cosine=True),
}


class DigitsNet(nn.Module):
    """Three 3x3 convolutions (BatchNorm, ReLU), a max pool, global average pooling and a linear
    classifier: 56,714 parameters, 99.6 % top-1 on the digits after 40 epochs (seed 0).
    ``batchnorm=False``: the same network without its BatchNorms (mozib's CNN "w/o BN")."""

    def __init__(self, width: int = 32, batchnorm: bool = True) -> None:
        super().__init__()

        def block(inputs: int, outputs: int) -> list[nn.Module]:
            norm = [nn.BatchNorm2d(outputs)] if batchnorm else []
            return [nn.Conv2d(inputs, outputs, 3, padding=1), *norm, nn.ReLU()]

        self.features = nn.Sequential(
            *block(1, width), *block(width, 2 * width), nn.MaxPool2d(2),
            *block(2 * width, 2 * width),
        )  # fmt: skip
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(2 * width, DIGITS_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


@dataclass(frozen=True)
class DigitsData:
    """Standardized images (N x 1 x 8 x 8, float32) and labels, split 3:1, stratified."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def digits_data(seed: int = 0, arch: str = "digitsnet") -> DigitsData:
    """scikit-learn's bundled digits, split by ``seed``, shaped for ``arch`` (``DIGITS_ARCHS``:
    resized bilinearly, the grey repeated over its channels)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    shape = _arch(arch)
    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0 - 0.5) / 0.5
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )

    def tensors(x, y):
        images = torch.from_numpy(x[:, None].copy())
        if shape.side != images.shape[-1]:
            images = nn.functional.interpolate(images, size=shape.side, mode="bilinear")
        images = images.expand(-1, shape.channels, -1, -1).contiguous()
        return images, torch.from_numpy(y.astype(np.int64))

    return DigitsData(*tensors(x_train, y_train), *tensors(x_test, y_test))


def _arch(arch: str) -> DigitsArch:
    if arch not in DIGITS_ARCHS:
        raise InvalidParameterError("arch", arch, f"one of {', '.join(DIGITS_ARCHS)}")
    return DIGITS_ARCHS[arch]


def digits_classifier(arch: str = "digitsnet") -> nn.Module:
    """An untrained classifier of the digits (``DIGITS_ARCHS``), from the global torch seed."""
    _arch(arch)
    if arch == "digitsnet":
        return DigitsNet()
    import torchvision

    return torchvision.models.get_model(arch, weights=None, num_classes=DIGITS_CLASSES)


def digits_subset(data: DigitsData, samples: int, seed: int = 0) -> DigitsData:
    """``data`` with ``samples`` of its training images (stratified by ``seed``; the test images
    unchanged)."""
    from sklearn.model_selection import train_test_split

    count = len(data.y_train)
    if not DIGITS_CLASSES <= samples <= count:
        raise InvalidParameterError("samples", samples, f"{DIGITS_CLASSES}..{count}")
    if samples == count:
        return data
    kept, _ = train_test_split(
        np.arange(count), train_size=samples, random_state=seed, stratify=data.y_train.numpy()
    )
    index = torch.from_numpy(np.sort(kept))
    return DigitsData(data.x_train[index], data.y_train[index], data.x_test, data.y_test)


def cosine_rate(lr: float, epoch: int, epochs: int) -> float:
    """The learning rate of epoch ``epoch`` (from 0) of ``epochs`` on a cosine from ``lr`` to 0
    (a function of the epoch alone, so that a resumed run follows it too)."""
    return lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def shuffled_batches(count: int, size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """The indices 0 .. ``count`` - 1 in batches of ``size``, in an order drawn from
    ``generator`` (one permutation per call, drawn when the first batch is taken)."""
    order = torch.randperm(count, generator=generator)
    for first in range(0, count, size):
        yield order[first : first + size]


def soft_target_loss(
    logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Hinton et al.'s distillation term: KL(teacher || student) of the softmaxes at
    ``temperature``, per row, times temperature^2 (so that its gradients keep their scale
    whatever the temperature)."""
    soft = nn.functional.kl_div(
        nn.functional.log_softmax(logits / temperature, dim=1),
        nn.functional.log_softmax(teacher_logits / temperature, dim=1),
        reduction="batchmean",
        log_target=True,
    )
    return soft * temperature**2


def train(
    model: nn.Module,
    data: DigitsData,
    epochs: int,
    seed: int = 0,
    lr: float = 3e-3,
    cosine: bool = False,
) -> nn.Module:
    """Adam with cross-entropy, batches of 64 in a seeded order and seeded dropout, on one
    thread (so that the same seed gives the same weights whatever the caller's thread count and
    random state), at ``lr`` throughout
    or (``cosine``) decaying from it to 0 along a cosine over the epochs; returns the model in
    eval mode."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    count = len(data.y_train)
    # dropout draws from torch's global generator: seeded here, and the caller's left as it was
    with torch_threads(1), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for epoch in range(epochs):
            if cosine:
                optimizer.param_groups[0]["lr"] = cosine_rate(lr, epoch, epochs)
            for batch in shuffled_batches(count, 64, generator):
                optimizer.zero_grad()
                logits = model(data.x_train[batch])
                nn.functional.cross_entropy(logits, data.y_train[batch]).backward()
                optimizer.step()
    return model.eval()


def trained_digits_model(
    seed: int = 0, epochs: int = 40, arch: str = "digitsnet"
) -> tuple[nn.Module, DigitsData]:
    """A classifier (``arch``) trained here from ``seed`` (weights, split and batch order), and
    its data. The same seed gives the same weights on one machine, not across CPUs: the SIMD
    path changes the float sums (0.996 top-1 on an AMD EPYC, 0.993 on an AVX-512 Xeon at seed
    0 for the DigitsNet)."""
    data = digits_data(seed, arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = digits_classifier(arch)
    return train(model, data, epochs, seed, cosine=_arch(arch).cosine), data


def shipped_digits_path(seed: int, epochs: int, arch: str = "digitsnet") -> Path:
    """Where the weights shipped for ``arch``, ``seed`` and ``epochs`` live (``data/models``)."""
    name = "digits" if arch == "digitsnet" else f"digits-{arch}"
    return SHIPPED_MODELS / f"{name}-seed{seed}-epochs{epochs}.safetensors"


def digits_model(
    seed: int = 0, epochs: int | None = None, arch: str = "digitsnet"
) -> tuple[nn.Module, DigitsData]:
    """The classifier (``arch``) of ``seed`` and ``epochs`` (default: the shipped count) and its
    data: the weights shipped with edgesplit when there are (safetensors: loading runs no code;
    trained once by ``scripts/ship_digits_model.py``, whose sidecar names the machine), so that
    every machine measures the same model; else trained here (``trained_digits_model``)."""
    epochs = _arch(arch).epochs if epochs is None else epochs
    path = shipped_digits_path(seed, epochs, arch)
    if not path.is_file():
        return trained_digits_model(seed, epochs, arch)
    with torch.random.fork_rng(devices=[]):
        model = digits_classifier(arch)
    model.load_state_dict(load_file(path))
    return model.eval(), digits_data(seed, arch)


def shipped_classifier(arch: str = "digitsnet") -> nn.Module:
    """The shipped classifier of the digits (seed 0): a model factory the runtime can load by
    name, ``edgesplit.compress.accuracy:shipped_classifier:arch=mobilenet_v2``."""
    return digits_model(0, None, arch)[0]


def classifier_spec(arch: str) -> str:
    """The model spec the runtime loads a shipped digits classifier by."""
    return f"edgesplit.compress.accuracy:shipped_classifier:arch={arch}"


def task_inputs(spec: str, count: int, seed: int) -> list[torch.Tensor] | None:
    """``count`` test images of the digits, one per task in a seeded order, when ``spec`` is a
    shipped digits classifier (so that its exits stop the share of tasks they were measured
    to); None for any other model."""
    arch = next((a for a in DIGITS_ARCHS if classifier_spec(a) == spec), None)
    if arch is None:
        return None
    images = digits_data(0, arch).x_test
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return [images[i : i + 1] for i in order[:count].tolist()]


def topk_accuracy(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Share of rows whose label is among the ``k`` largest logits."""
    top = logits.topk(k, dim=1).indices
    return float((top == labels[:, None]).any(dim=1).float().mean())


def evaluate(run: Callable[[torch.Tensor], torch.Tensor], data: DigitsData) -> tuple[float, float]:
    """(top-1, top-3) of ``run`` (a model or any callable) on the test images."""
    with torch.no_grad():
        logits = run(data.x_test)
    return topk_accuracy(logits, data.y_test, 1), topk_accuracy(logits, data.y_test, 3)


@dataclass(frozen=True)
class PruneAccuracy:
    """One row of the accuracy-vs-pf curve."""

    method: str
    pf: float
    finetune_epochs: int
    top1: float
    top3: float
    params: int
    nonzero_params: int


def pruned_copy(
    model: nn.Module,
    data: DigitsData,
    method: str,
    pf: float,
    finetune_epochs: int = 0,
    seed: int = 0,
) -> nn.Module:
    """A copy of ``model`` pruned at ``pf`` (``method``: structured or unstructured) and
    fine-tuned ``finetune_epochs`` epochs at a tenth of the training rate (unstructured: the
    pruned weights are held at zero while training)."""
    variant = Variant(method, pf)
    pruned = copy.deepcopy(model)
    if method == "structured":
        prune_structured(pruned, data.x_test[:1], variant.pf)
    else:
        prune_unstructured(pruned, variant.pf)
    if finetune_epochs:
        masks = {n: p != 0 for n, p in pruned.named_parameters() if p.dim() > 1}
        train(pruned, data, finetune_epochs, seed, lr=1e-3)
        if method == "unstructured":
            with torch.no_grad():
                for name, parameter in pruned.named_parameters():
                    if name in masks:
                        parameter.mul_(masks[name])
    return pruned.eval()


def accuracy_vs_pf(
    model: nn.Module,
    data: DigitsData,
    method: str,
    pfs: Sequence[float],
    finetune_epochs: int = 0,
    seed: int = 0,
) -> list[PruneAccuracy]:
    """Prune a copy of ``model`` at each pf (``method``), optionally fine-tune it
    (``pruned_copy``), and measure it."""
    rows = []
    for pf in pfs:
        pruned = pruned_copy(model, data, method, pf, finetune_epochs, seed)
        top1, top3 = evaluate(pruned, data)
        total, nonzero = count_parameters(pruned)
        rows.append(PruneAccuracy(method, pf, finetune_epochs, top1, top3, total, nonzero))
    return rows


@dataclass(frozen=True)
class CodecAccuracy:
    """The accuracy when the tensors crossing cut ``cut`` travel as ``codec``."""

    cut: int
    codec: str
    bits: int
    top1: float
    top3: float
    transfer_bits: int  # what crosses, per image, in this encoding


def accuracy_vs_codec(
    model: nn.Module,
    data: DigitsData,
    codecs: Sequence[str],
    granularity: str = "layer",
    positions: Sequence[int] | None = None,
) -> list[CodecAccuracy]:
    """For every cut of ``model`` that sends an intermediate tensor (or the cuts at
    ``positions``), the test accuracy when what crosses travels as each of ``codecs``: a wire
    codec (``fp16``, ``int8``, ``int8-channel``, optionally ``+zstd``: through the runtime's real
    encode and decode) or ``intB`` / ``intB-channel`` for an affine code of B bits
    (``affine_roundtrip``). Each test image is one request, encoded on its own, as the runtime
    sends them."""
    graph = ModelGraph.from_module(model, data.x_test[:1], granularity, model_name="digits")
    cuts = graph.cuts()[1:-1] if positions is None else [graph.cut(p) for p in positions]
    rows = []
    for cut in cuts:
        head, tail = split(model, graph, cut)
        with torch.no_grad():
            crossing = [head(image[None]) for image in data.x_test]
        for name in codecs:
            bits, travel = _travel(name)
            logits, sizes = [], []
            with torch.no_grad():
                for tensors in crossing:
                    received, size = zip(*(travel(t) for t in tensors), strict=True)
                    logits.append(tail(*received))
                    sizes.append(sum(size))
            logits = torch.cat(logits)
            rows.append(
                CodecAccuracy(
                    cut.index,
                    name,
                    bits,
                    topk_accuracy(logits, data.y_test, 1),
                    topk_accuracy(logits, data.y_test, 3),
                    int(np.mean(sizes)),
                )
            )
    return rows


def _travel(name: str) -> tuple[int, Callable[[torch.Tensor], tuple[torch.Tensor, int]]]:
    """(bit width, tensor -> (tensor received, bits sent)) for a codec name."""
    narrow = re.fullmatch(r"int(\d+)(-channel)?", name)
    if narrow and int(narrow.group(1)) != 8:  # int8 and int8-channel are wire codecs
        width, per_channel = int(narrow.group(1)), narrow.group(2) is not None

        def affine(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
            rows = tensor.shape[1] if per_channel and tensor.dim() >= 2 else 1
            return affine_roundtrip(tensor, width, per_channel), width * tensor.numel() + 64 * rows

        return width, affine
    codec = Codec.parse(name)
    width = {"fp32": 32, "fp16": 16}.get(codec.name, 8)

    def wire(tensor: torch.Tensor) -> tuple[torch.Tensor, int]:
        wire_id, payload = encode(tensor, codec)
        received = decode(payload, wire_id, _DTYPE_IDS[tensor.dtype], tuple(tensor.shape))
        return received, 8 * len(payload)

    return width, wire


@dataclass(frozen=True)
class InputAccuracy:
    """The accuracy when the device sends its input image as ``method`` (cut 0)."""

    method: str  # "jpeg-q{Q}", "png" or "raw8"
    top1: float
    top3: float
    transfer_bits: float  # mean bits per image: the file the device would send


def accuracy_vs_input_codec(
    model: nn.Module, data: DigitsData, qualities: Sequence[int]
) -> list[InputAccuracy]:
    """The test accuracy when each image crosses as a file instead of a tensor: 8-bit grey
    (the digits' channels are copies of one), raw, PNG (lossless) or JPEG at each of
    ``qualities`` (libjpeg through Pillow, Huffman tables optimised), decoded and fed to the
    whole model. Each image is its own file, headers included, as a device would send it."""
    grey = torch.round((data.x_test[:, 0] + 1) * 127.5).clamp(0, 255).to(torch.uint8).numpy()
    channels = data.x_test.shape[1]
    methods: dict[str, dict | None] = {
        "raw8": None,
        "png": {"format": "PNG", "optimize": True},
        **{f"jpeg-q{q}": {"format": "JPEG", "quality": q, "optimize": True} for q in qualities},
    }
    rows = []
    for method, settings in methods.items():
        received, sizes = [], []
        for image in grey:
            if settings is None:
                back, size = image, image.size
            else:
                file = io.BytesIO()
                Image.fromarray(image, mode="L").save(file, **settings)
                size = file.tell()
                back = np.asarray(Image.open(io.BytesIO(file.getvalue())).convert("L"))
            sizes.append(8 * size)
            received.append(torch.from_numpy(back.astype(np.float32))[None] / 127.5 - 1)
        images = torch.stack(received).expand(-1, channels, -1, -1)
        with torch.no_grad():
            logits = model(images)
        rows.append(
            InputAccuracy(
                method,
                topk_accuracy(logits, data.y_test, 1),
                topk_accuracy(logits, data.y_test, 3),
                float(np.mean(sizes)),
            )
        )
    return rows
