"""A split model as files a serving fleet loads: the head and the tail of one cut exported to
ONNX (torch.onnx's dynamo exporter, any batch size), verified on export (ONNX Runtime runs the
head, then the tail on what the head gave, and the result must equal the PyTorch model's), and
optionally the tail laid out as a model repository, named as ``edgesplit serve`` names its
tails under the Open Inference Protocol, so that a device's ``--server oip://HOST:PORT``
reaches any of them:

- ``triton`` (Triton, and KServe's Triton runtime):
  ``<out>/<model>.<granularity>.cut-<n>/config.pbtxt`` and ``1/model.onnx``;
- ``mlserver`` (MLServer, and KServe's MLServer runtime): ``model-settings.json``,
  ``model.onnx`` and ``mlserver_tail.py`` (package data: an MLServer model class running the
  tail with ONNX Runtime) in the same folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.runtime.oip import Tail, tail_name

FORMATS = ("onnx",)
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
    max_abs_error: float  # head then tail in ONNX Runtime against the PyTorch model


def export_split(
    spec: str,
    position: int,
    out: Path,
    granularity: str = "block",
    input_size: int = 224,
    repository: str | None = None,
) -> Exported:
    """Export the head and tail of cut ``position`` (1-based; not the last, which has no
    tail) of ``spec`` into folder ``out`` and verify them (see the module notes)."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from edgesplit.compress.quantize import batch_of_two, quiet
    from edgesplit.graph.split import split
    from edgesplit.graph.zoo import load_traced

    if repository is not None and repository not in REPOSITORIES:
        raise InvalidParameterError("--repository", repository, " or ".join(REPOSITORIES))
    model, x, graph = load_traced(spec, granularity, input_size)
    count = len(graph.cuts())
    if isinstance(position, bool) or not 1 <= position < count:
        raise InvalidParameterError(
            "--cut", position, f"1 to {count - 1} (cut {count} runs it all on the device)"
        )
    cut = graph.cut(position)
    tail_spec = Tail(spec, granularity, graph, cut)
    head, tail = split(model, graph, cut)
    with torch.no_grad():
        handed_over = head(x)
        expected = torch.utils._pytree.tree_flatten(model(x))[0]
    inputs = [name for name, _, _ in tail_spec.inputs]
    outputs = [name for name, _, _ in tail_spec.outputs]
    name = tail_name(spec, granularity, position)
    out.mkdir(parents=True, exist_ok=True)
    head_path, tail_path = out / f"{name}.head.onnx", out / f"{name}.tail.onnx"
    dynamic = ({0: torch.export.Dim.DYNAMIC},)
    try:
        with torch.no_grad(), quiet():
            torch.onnx.export(
                head, batch_of_two((x,)), str(head_path), input_names=["input"],
                output_names=inputs, dynamo=True, external_data=False, dynamic_shapes=dynamic,
            )  # fmt: skip
            torch.onnx.export(
                tail, batch_of_two(tuple(handed_over)), str(tail_path), input_names=inputs,
                output_names=outputs, dynamo=True, external_data=False,
                dynamic_shapes=dynamic * len(inputs),
            )  # fmt: skip
    except Exception as error:  # the exporter's own errors: many kinds, one message
        raise EdgesplitError(f"torch.onnx could not export {name}: {error}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    run_head = ort.InferenceSession(str(head_path), options, providers=["CPUExecutionProvider"])
    run_tail = ort.InferenceSession(str(tail_path), options, providers=["CPUExecutionProvider"])
    crossed = run_head.run(None, {"input": x.numpy()})
    got = run_tail.run(None, dict(zip(inputs, crossed, strict=True)))
    error = max(float(np.abs(g - e.numpy()).max()) for g, e in zip(got, expected, strict=True))
    if not all(
        np.allclose(g, e.numpy(), rtol=RTOL, atol=ATOL) for g, e in zip(got, expected, strict=True)
    ):
        raise EdgesplitError(
            f"{name}: ONNX Runtime's head and tail differ from the model by {error:.3g} "
            f"(allowed: rtol {RTOL}, atol {ATOL})"
        )
    config = None
    if repository == "triton":
        folder = out / name
        (folder / "1").mkdir(parents=True, exist_ok=True)
        (folder / "1" / "model.onnx").write_bytes(tail_path.read_bytes())
        config = folder / "config.pbtxt"
        config.write_text(triton_config(name, tail_spec))
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


def triton_config(name: str, tail: Tail) -> str:
    """The ``config.pbtxt`` of a tail in a Triton (or KServe) model repository: ONNX Runtime,
    no batching by Triton (the batch is the first dimension of every tensor, any size)."""

    def tensors(kind: str, described: list[tuple[str, str, tuple[int, ...]]]) -> str:
        rows = []
        for tensor, datatype, shape in described:
            dims = ", ".join(map(str, [-1, *shape[1:]]))
            kind_of = TRITON_TYPES[datatype]
            rows.append(f'  {{ name: "{tensor}" data_type: {kind_of} dims: [ {dims} ] }}')
        return f"{kind} [\n" + ",\n".join(rows) + "\n]\n"

    return (
        f'name: "{name}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: 0\n'
        + tensors("input", tail.inputs)
        + tensors("output", tail.outputs)
    )
