"""A split model as files a serving fleet loads: the head and the tail of one cut exported to
ONNX (torch.onnx's dynamo exporter, any batch size) or TorchScript (``torch.jit.trace``, for
Triton's PyTorch backend), verified on export (ONNX Runtime, or TorchScript's interpreter,
runs the head, then the tail on what the head gave, and the result must equal the PyTorch
model's), and
optionally the tail laid out as a model repository, named as ``edgesplit serve`` names its
tails under the Open Inference Protocol, so that a device's ``--server oip://HOST:PORT``
reaches any of them:

- ``triton`` (Triton, and KServe's Triton runtime):
  ``<out>/<model>.<granularity>.cut-<n>/config.pbtxt`` and ``1/model.onnx`` (``1/model.pt``
  for TorchScript, whose outputs Triton's PyTorch backend names ``OUTPUT__<i>``);
- ``mlserver`` (MLServer, and KServe's MLServer runtime): ``model-settings.json``,
  ``model.onnx`` and ``mlserver_tail.py`` (package data: an MLServer model class running the
  tail with ONNX Runtime) in the same folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from edgesplit.compress.quantize import batch_of_two, quiet
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.graph.split import split
from edgesplit.graph.zoo import load_traced
from edgesplit.runtime.oip import Tail

FORMATS = ("onnx", "torchscript")
REPOSITORIES = ("triton", "mlserver")
TRITON_TYPES = {
    "FP32": "TYPE_FP32", "FP16": "TYPE_FP16", "BF16": "TYPE_BF16", "FP64": "TYPE_FP64",
    "INT64": "TYPE_INT64", "INT32": "TYPE_INT32", "INT8": "TYPE_INT8", "UINT8": "TYPE_UINT8",
    "BOOL": "TYPE_BOOL",
}  # fmt: skip
RTOL, ATOL = 1e-4, 1e-5  # ONNX Runtime's kernels sum in another order than PyTorch's


@dataclass(frozen=True)
class Exported:
    """What ``export_split`` wrote and how close ONNX Runtime came to the model."""

    name: str  # the tail's model name (Open Inference Protocol)
    head: Path
    tail: Path
    config: Path | None  # the repository's config.pbtxt or model-settings.json, if laid out
    max_abs_error: float  # the exported head then tail against the PyTorch model


def export_split(
    spec: str,
    position: int,
    out: Path,
    granularity: str = "block",
    input_size: int = 224,
    repository: str | None = None,
    format: str = "onnx",
) -> Exported:
    """Export the head and tail of cut ``position`` (not the last, which has no
    tail) of ``spec`` into folder ``out`` as ``format`` and verify them (see the module
    notes)."""
    import numpy as np
    import torch

    if format not in FORMATS:
        raise InvalidParameterError("--format", format, " or ".join(FORMATS))
    if repository is not None and repository not in REPOSITORIES:
        raise InvalidParameterError("--repository", repository, " or ".join(REPOSITORIES))
    if repository == "mlserver" and format != "onnx":
        raise InvalidParameterError(
            "--format", format, "onnx with --repository mlserver (its tail runs in ONNX Runtime)"
        )
    model, x, graph = load_traced(spec, granularity, input_size)
    count = len(graph.cuts())
    if isinstance(position, bool) or not 0 <= position < count - 1:
        raise InvalidParameterError(
            "--cut", position, f"0 to {count - 2} (cut {count - 1} runs it all on the device)"
        )
    cut = graph.cut(position)
    tail_spec = Tail(spec, granularity, graph, cut)
    head, tail = split(model, graph, cut)
    with torch.no_grad():
        handed_over = head(x)
        expected = torch.utils._pytree.tree_flatten(model(x))[0]
    inputs = [name for name, _, _ in tail_spec.inputs]
    outputs = [name for name, _, _ in tail_spec.outputs]
    name = tail_spec.name
    out.mkdir(parents=True, exist_ok=True)
    suffix = "onnx" if format == "onnx" else "pt"
    head_path, tail_path = out / f"{name}.head.{suffix}", out / f"{name}.tail.{suffix}"
    write, run = (_onnx, _run_onnx) if format == "onnx" else (_torchscript, _run_torchscript)
    try:
        with torch.no_grad():
            write(head, (x,), head_path, ["input"], inputs)
            write(tail, tuple(handed_over), tail_path, inputs, outputs)
    except Exception as error:  # the exporters' own errors: many kinds, one message
        raise EdgesplitError(f"could not export {name} as {format}: {error}") from None
    got = run(tail_path, inputs, run(head_path, ["input"], [x.numpy()]))
    error = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected, strict=True))
    if not all(
        np.allclose(g, e.numpy(), rtol=RTOL, atol=ATOL) for g, e in zip(got, expected, strict=True)
    ):
        raise EdgesplitError(
            f"{name}: the exported head and tail differ from the model by {error:.3g} "
            f"(allowed: rtol {RTOL}, atol {ATOL})"
        )
    config = None
    if repository == "triton":
        folder = out / name
        (folder / "1").mkdir(parents=True, exist_ok=True)
        (folder / "1" / f"model.{suffix}").write_bytes(tail_path.read_bytes())
        config = folder / "config.pbtxt"
        config.write_text(triton_config(name, tail_spec, format))
    elif repository == "mlserver":
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "model.onnx").write_bytes(tail_path.read_bytes())
        runtime = resources.files("edgesplit.data") / "mlserver_tail.py"
        (folder / "mlserver_tail.py").write_text(runtime.read_text())
        config = folder / "model-settings.json"
        config.write_text(json.dumps(mlserver_settings(name), indent=2) + "\n")
    return Exported(name, head_path, tail_path, config, error)


def mlserver_settings(name: str) -> dict[str, object]:
    """The ``model-settings.json`` of a tail in an MLServer model repository."""
    return {
        "name": name,
        "implementation": "mlserver_tail.OnnxTail",
        "parameters": {"uri": "./model.onnx"},
    }


def _onnx(module, example: tuple, path: Path, inputs: list[str], outputs: list[str]) -> None:
    import torch

    dynamic = ({0: torch.export.Dim.DYNAMIC},) * len(example)
    with quiet():
        torch.onnx.export(
            module, batch_of_two(example), str(path), input_names=inputs, output_names=outputs,
            dynamo=True, external_data=False, dynamic_shapes=dynamic,
        )  # fmt: skip


def _run_onnx(path: Path, names: list[str], values: list) -> list:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, dict(zip(names, values, strict=True)))


def _torchscript(module, example: tuple, path: Path, inputs: list[str], outputs: list[str]) -> None:
    import warnings

    import torch

    with warnings.catch_warnings():  # TorchScript is deprecated; Triton's PyTorch backend reads it
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.trace(module, example), str(path))


def _run_torchscript(path: Path, names: list[str], values: list) -> list:
    import torch
    from torch.utils._pytree import tree_flatten

    module = torch.jit.load(str(path))  # the file this export just wrote
    with torch.no_grad():
        result = module(*(torch.from_numpy(v) for v in values))
    return [t.numpy() for t in tree_flatten(result)[0]]


def triton_config(name: str, tail: Tail, format: str = "onnx") -> str:
    """The ``config.pbtxt`` of a tail in a Triton (or KServe) model repository: ONNX Runtime or
    libtorch (whose outputs are named ``OUTPUT__<i>``), no batching by Triton (the batch is the
    first dimension of every tensor, any size)."""

    def tensors(kind: str, described: list[tuple[str, str, tuple[int, ...]]]) -> str:
        rows = []
        for i, (tensor, datatype, shape) in enumerate(described):
            if kind == "output" and format == "torchscript":
                tensor = f"OUTPUT__{i}"
            dims = ", ".join(map(str, [-1, *shape[1:]]))
            kind_of = TRITON_TYPES[datatype]
            rows.append(f'  {{ name: "{tensor}" data_type: {kind_of} dims: [ {dims} ] }}')
        return f"{kind} [\n" + ",\n".join(rows) + "\n]\n"

    platform = "onnxruntime_onnx" if format == "onnx" else "pytorch_libtorch"
    return (
        f'name: "{name}"\nplatform: "{platform}"\nmax_batch_size: 0\n'
        + tensors("input", tail.inputs)
        + tensors("output", tail.outputs)
    )
