"""Int8 inference of a whole model, or of a head or tail from ``graph.split`` (several tensors
in and out), on CPU, through one of two current paths, both static (calibrated activations)
with per-channel weights:

- ``onnxruntime``: ``torch.onnx.export`` (the dynamo exporter), ONNX Runtime's
  ``quant_pre_process`` and ``quantize_static`` in QDQ format, run by an ``InferenceSession``;
- ``pt2e``: ``torch.export``, torchao's PT2E ``prepare_pt2e``/``convert_pt2e`` with the
  ``X86InductorQuantizer``, then ``torch.compile`` with inductor's freezing on.

The eager ``torch.ao.quantization`` path is deprecated and not used. Preparing costs seconds:
ONNX Runtime's quantized models are cached in ``cache_root()/int8`` by a digest of the weights,
inputs and calibration, and inductor keeps its own compiled-graph cache; ``Int8Model.prepare_s``
reports what this call took. PT2E compiles static shapes (the example's batch; larger batches run
in pieces). ``onnxruntime`` is the default by measurement (``benchmarks/compress_variants.py``,
docs/compress.md): at one thread it ran MobileNet-V2 in 3.3 ms against PT2E's 5.9 ms (float32
PyTorch: 16.1 ms), quantizes residual networks PT2E's quantizer refuses (torchao 0.18 on ResNet:
"Input partition has more than one output node"), and matched PT2E's accuracy on the digits.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgesplit.errors import CompressionError, InvalidParameterError, describe
from edgesplit.graph.trace import normalize_inputs, torch_threads
from edgesplit.profile.data import cache_root
from edgesplit.vocabulary import INT8_BACKENDS

Tensors = tuple[torch.Tensor, ...]


def batch_of_two(inputs: Tensors) -> Tensors:
    """torch.export specializes a dimension of size 1: export with two rows so that the batch
    stays dynamic."""
    return tuple(x if x.shape[0] > 1 else torch.cat([x, x]) for x in inputs)


@dataclass
class Int8Model:
    """A quantized model, called like the float one: the same number of tensors in and out (a
    head's tuple of crossing tensors, a tail's several inputs)."""

    backend: str
    run: Callable[..., torch.Tensor | Tensors]
    size_bytes: int  # the serialized quantized model (ONNX file; pt2e: int8 weights + the rest)
    prepare_s: float  # quantizing (and compiling) in this call; small when the cache had it
    cached: bool

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor | Tensors:
        return self.run(*inputs)


def check_backend(backend: str) -> str:
    """``backend`` if this machine can run it, else CompressionError saying what is missing."""
    if backend not in INT8_BACKENDS:
        raise InvalidParameterError("int8 backend", backend, " or ".join(INT8_BACKENDS))
    needs = ("onnxruntime", "onnx", "onnxscript") if backend == "onnxruntime" else ("torchao",)
    missing = [f"the {name} package" for name in needs if importlib.util.find_spec(name) is None]
    if backend == "pt2e" and shutil.which("g++") is None and shutil.which("c++") is None:
        missing.append("a C++ compiler for inductor")
    if missing:
        raise CompressionError(
            f"int8 backend {backend} is not available on this machine: it needs "
            f"{' and '.join(missing)}"
        )
    return backend


def quantize_int8(
    model: nn.Module,
    example: torch.Tensor | Sequence[torch.Tensor],
    calibration: Sequence[torch.Tensor | Sequence[torch.Tensor]],
    backend: str = "onnxruntime",
    threads: int = 1,
    cache: Path | None = None,
) -> Int8Model:
    """``model`` (eval mode, float32) as int8 through ``backend``, calibrated on the
    ``calibration`` batches (each shaped like ``example``), running at ``threads`` threads.

    A whole model takes one tensor; a head or tail from ``graph.split`` takes a tuple (its
    inputs) and may answer a tuple, and the quantized model does the same."""
    check_backend(backend)
    if not calibration:
        raise InvalidParameterError("calibration", 0, "at least one input batch")
    inputs = normalize_inputs(example)
    batches = [normalize_inputs(batch) for batch in calibration]
    if any(len(batch) != len(inputs) for batch in batches):
        raise InvalidParameterError(
            "calibration", "a batch", f"{len(inputs)} tensors, as the example has"
        )
    model = model.eval()
    with torch.no_grad():
        answers = model(*inputs)
    single = isinstance(answers, torch.Tensor)
    if backend == "onnxruntime":
        run, size, start, cached = _onnxruntime(model, inputs, batches, threads, cache)
    else:
        run, size, start, cached = _pt2e(model, inputs, batches, threads)

    def call(*xs: torch.Tensor) -> torch.Tensor | Tensors:
        outputs = run(xs)
        return outputs[0] if single else outputs

    try:
        with quiet():
            call(*inputs)
    except Exception as error:  # inductor's and ONNX Runtime's errors share no type
        raise CompressionError(
            f"{backend} cannot run int8 {type(model).__name__}: {describe(error)}"
        ) from None
    return Int8Model(backend, call, size, time.perf_counter() - start, cached)


def _digest(model: nn.Module, inputs: Tensors, batches: list[Tensors]) -> str:
    """What the quantized model depends on: the module's code (a split's graph) or structure,
    its weights, the input shapes and the calibration data."""
    digest = hashlib.sha256()
    code = model.code if isinstance(model, torch.fx.GraphModule) else repr(model)
    digest.update(f"{type(model).__qualname__}\n{code}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(str([tuple(x.shape) for x in inputs]).encode())
    for batch in batches:
        for x in batch:
            digest.update(x.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def _onnxruntime(
    model: nn.Module, inputs: Tensors, batches: list[Tensors], threads: int, cache: Path | None
) -> tuple[Callable[[Tensors], Tensors], int, float, bool]:
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if cache is None:
        cache = cache_root() / "int8"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{type(model).__name__}-{_digest(model, inputs, batches)}.onnx"
    names = [f"x{i}" for i in range(len(inputs))]
    start = time.perf_counter()
    cached = path.is_file()
    if not cached:
        float_path = path.with_suffix(".float.onnx")
        prepared_path = path.with_suffix(".prepared.onnx")
        dynamic = tuple({0: torch.export.Dim.DYNAMIC} for _ in inputs)  # any batch size
        with quiet():
            torch.onnx.export(
                model, batch_of_two(inputs), str(float_path), input_names=names,
                dynamo=True, external_data=False, dynamic_shapes=dynamic,
            )  # fmt: skip
            quant_pre_process(str(float_path), str(prepared_path))

        class _Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.feeds = iter(
                    [dict(zip(names, (x.numpy() for x in b), strict=True)) for b in batches]
                )

            def get_next(self):
                return next(self.feeds, None)

        with quiet():
            quantize_static(
                str(prepared_path), str(path) + ".part", _Reader(),
                quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8, per_channel=True,
            )  # fmt: skip
        Path(str(path) + ".part").replace(path)
        float_path.unlink(missing_ok=True)
        prepared_path.unlink(missing_ok=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(xs: Tensors) -> Tensors:
        feed = {
            n: x.detach().cpu().numpy().astype(np.float32, copy=False)
            for n, x in zip(names, xs, strict=True)
        }
        return tuple(torch.from_numpy(y) for y in session.run(None, feed))

    return run, path.stat().st_size, start, cached


def _pt2e(
    model: nn.Module, inputs: Tensors, batches: list[Tensors], threads: int
) -> tuple[Callable[[Tensors], Tensors], int, float, bool]:
    import torch._inductor.config as inductor_config
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as x86
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    start = time.perf_counter()
    rows_per_call = inputs[0].shape[0]  # static shapes: inductor's int8 kernels need them
    quantizer = x86.X86InductorQuantizer()
    quantizer.set_global(x86.get_default_x86_inductor_quantization_config())
    try:
        with torch.no_grad(), quiet():
            exported = torch.export.export(model, inputs).module()
            prepared = prepare_pt2e(exported, quantizer)
            for batch in batches:
                for rows in _chunks(batch, rows_per_call):
                    prepared(*rows)
            converted = convert_pt2e(prepared)
    except Exception as error:  # torch.export's and torchao's errors share no type
        raise CompressionError(
            f"pt2e cannot quantize {type(model).__name__}: {describe(error)} "
            "(use the onnxruntime backend)"
        ) from None
    size = sum(t.numel() * t.element_size() for t in converted.state_dict().values()) + sum(
        b.numel() * b.element_size() for b in converted.buffers()
    )
    inductor_config.freezing = True
    compiled = torch.compile(converted)

    def run(xs: Tensors) -> Tensors:
        with torch.no_grad(), torch_threads(threads):
            pieces = [normalize_inputs(compiled(*rows)) for rows in _chunks(xs, rows_per_call)]
        return tuple(torch.cat(parts) for parts in zip(*pieces, strict=True))

    return run, int(size), start, False


def _chunks(batch: Tensors, rows: int) -> list[Tensors]:
    """``batch`` (every input) in pieces of ``rows`` rows (the static shape pt2e compiled)."""
    if batch[0].shape[0] % rows:
        raise InvalidParameterError(
            "batch", batch[0].shape[0], f"a multiple of the example's {rows} rows (pt2e)"
        )
    return list(zip(*(x.split(rows) for x in batch), strict=True))


@contextlib.contextmanager
def quiet():
    """The exporters print progress and warnings a library must not: keep them off the
    terminal."""
    import warnings

    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield
