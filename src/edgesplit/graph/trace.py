"""Turn an ``nn.Module`` into a torch.fx graph and measure every node once.

torch.fx ``symbolic_trace`` comes first (it keeps module calls as nodes, which the ``layer`` and
``block`` granularities need); ``torch.export`` is the fallback for models with shape-dependent
Python control flow. What is measured per fx node: FLOPs (torch.utils.flop_counter; MACs =
FLOPs / 2, since the counter counts a multiply-accumulate as two FLOPs), output shape, dtype and
size, the parameters it reads, and which input it mutates in place (for the ordering constraints
of ``granularity.FxDag``).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx, nn
from torch.utils._pytree import tree_flatten, tree_unflatten
from torch.utils.flop_counter import FlopCounterMode

from edgesplit.errors import InvalidInputError, UntraceableModelError, describe

COMPUTE_OPS = ("call_module", "call_function", "call_method")
_BITS_PER_PYTHON_SCALAR = 64  # ints, floats and bools that cross a cut travel as 64-bit words
_INPLACE_OPERATORS = {
    operator.iadd,
    operator.isub,
    operator.imul,
    operator.itruediv,
    operator.ifloordiv,
    operator.imod,
    operator.ipow,
    operator.iand,
    operator.ior,
    operator.ixor,
    operator.ilshift,
    operator.irshift,
    operator.imatmul,
    operator.setitem,
}


@dataclass(frozen=True)
class FxNodeRecord:
    """What one fx node is and what running it once on the example input showed.

    ``is_metadata``: the output holds no tensor (a shape, an int, a bool, None from an assert).
    """

    name: str
    op: str
    kind: str
    flops: int
    shape: tuple[int, ...] | None
    dtype: str | None
    size_bits: int
    param_bytes: dict[str, int]
    module_stack: tuple[tuple[str, type | str], ...]
    mutates: str | None
    is_metadata: bool


@dataclass(frozen=True)
class TracedModel:
    """A traced, measured model: the GraphModule, how it was traced, and one record per node."""

    module: fx.GraphModule
    method: str
    records: dict[str, FxNodeRecord]
    input_shapes: tuple[tuple[int, ...], ...]


def normalize_inputs(example_input: Any) -> tuple[torch.Tensor, ...]:
    """Return the example input as a tuple of tensors, or raise InvalidInputError."""
    inputs = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    if not inputs or not all(isinstance(t, torch.Tensor) for t in inputs):
        kinds = ", ".join(type(t).__name__ for t in inputs) or "nothing"
        raise InvalidInputError(
            f"example_input must be a tensor or a tuple of tensors, got {kinds}"
        )
    return inputs


# torch.fx patches nn.Module.__call__ process-wide while it traces: two traces at once (two
# threads building device clients) break each other, so traces take turns
_TRACING = threading.Lock()


def trace(model: nn.Module, example_input: Any, threads: int | None = 1) -> TracedModel:
    """Trace ``model`` (put in eval mode) and measure each node on ``example_input``.

    Tracing and counting run with ``threads`` torch threads (None: torch's setting): one by
    default, since nothing here is timed and a busy machine slows several threads down 10x.
    """
    if not isinstance(model, nn.Module):
        raise UntraceableModelError(f"expected a torch.nn.Module, got {type(model).__name__}")
    inputs = normalize_inputs(example_input)
    model.eval()
    with _TRACING, torch_threads(threads):
        module, method = _trace_graph(model, inputs)
        records = _measure(module, inputs, type(model).__name__)
    return TracedModel(module, method, records, tuple(tuple(t.shape) for t in inputs))


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch threads (None: leave the setting), then restore."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _trace_graph(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> tuple[fx.GraphModule, str]:
    name = type(model).__name__
    try:
        return fx.symbolic_trace(model), "fx"
    except Exception as fx_error:  # fx raises many types (TraceError, TypeError, ...)
        fx_reason = describe(fx_error)
    try:
        with _quiet_export():
            exported = torch.export.export(model, inputs, strict=False)
        return _plain_graph_module(exported.module()), "export"
    except Exception as export_error:
        raise UntraceableModelError(
            f"cannot trace {name}: torch.fx failed ({fx_reason}) and torch.export failed "
            f"({describe(export_error)}); data-dependent Python control flow (an `if` on a "
            "tensor's values) is the usual cause: move it out of forward() or make it a leaf module"
        ) from None


@contextlib.contextmanager
def _quiet_export():
    """On failure torch.export logs symbolic-shape warnings and prints its partial graph to
    stderr; the error we raise says what failed, so keep both out of the user's terminal."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _plain_graph_module(module: fx.GraphModule) -> fx.GraphModule:
    """Make an exported module a plain GraphModule: no guard calls, no pytree (un)flattening.

    The exported graph is functional, so nodes without users (guards, metadata asserts) can go.
    The model's output structure is restored on the output node so that the module returns what
    the model returns.
    """
    graph = module.graph
    out_spec = getattr(module, "_out_spec", None)
    graph.eliminate_dead_code(is_impure_node=lambda node: node.op in ("placeholder", "output"))
    output = next(n for n in graph.nodes if n.op == "output")
    flat = output.args[0]
    if out_spec is not None:
        flat_list, _ = tree_flatten(flat)
        output.args = (tree_unflatten(flat_list, out_spec),)
    graph._codegen = fx.graph.CodeGen()
    plain = fx.GraphModule(module, graph, class_name=type(module).__name__.split(".")[-1])
    plain.eval()
    return plain


class _Recorder(fx.Interpreter):
    """Runs the graph once and records FLOPs and output size per node."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.flops: dict[str, int] = {}
        self.outputs: dict[str, Any] = {}

    def run_node(self, n: fx.Node) -> Any:
        if n.op in COMPUTE_OPS:
            counter = FlopCounterMode(display=False)
            with counter:
                result = super().run_node(n)
            self.flops[n.name] = int(counter.get_total_flops())
        else:
            result = super().run_node(n)
        if n.op in COMPUTE_OPS or n.op == "placeholder":
            self.outputs[n.name] = result
        return result


def _measure(module: fx.GraphModule, inputs: tuple[torch.Tensor, ...], model_name: str):
    recorder = _Recorder(module)
    placeholders = [n for n in module.graph.nodes if n.op == "placeholder"]
    if len(inputs) != len(placeholders):
        raise InvalidInputError(
            f"{model_name}.forward takes {len(placeholders)} input(s) "
            f"({', '.join(p.name for p in placeholders)}), example_input gave {len(inputs)}"
        )
    try:
        with torch.no_grad():
            recorder.run(*inputs)
    except Exception as error:
        failed = _failing_node(recorder, module)
        shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
        raise InvalidInputError(
            f"example input of shape {shapes} does not fit {model_name}: node {failed} failed "
            f"with {describe(error)}"
        ) from None

    records = {}
    for n in module.graph.nodes:
        if n.op not in COMPUTE_OPS and n.op != "placeholder":
            continue
        value = recorder.outputs[n.name]
        tensor = value if isinstance(value, torch.Tensor) else None
        records[n.name] = FxNodeRecord(
            name=n.name,
            op=n.op,
            kind=_kind(n, module),
            flops=recorder.flops.get(n.name, 0),
            shape=tuple(tensor.shape) if tensor is not None else None,
            dtype=str(tensor.dtype).removeprefix("torch.") if tensor is not None else None,
            size_bits=value_size_bits(value),
            param_bytes=_param_bytes(n, module),
            module_stack=_module_stack(n),
            mutates=_mutated_input(n, module),
            is_metadata=not any(isinstance(x, torch.Tensor) for x in tree_flatten(value)[0]),
        )
    return records


def _failing_node(recorder: _Recorder, module: fx.GraphModule) -> str:
    for n in module.graph.nodes:
        if n.op in COMPUTE_OPS and n.name not in recorder.outputs:
            return f"{n.name!r} ({_kind(n, module)})"
    return "'output'"


def value_size_bits(value: Any) -> int:
    """Bits needed to send ``value``: tensor storage, 64 bits per Python scalar, nested."""
    leaves, _ = tree_flatten(value)
    bits = 0
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            bits += leaf.numel() * leaf.element_size() * 8
        elif isinstance(leaf, (int, float, bool)):
            bits += _BITS_PER_PYTHON_SCALAR
        elif isinstance(leaf, torch.Size):
            bits += _BITS_PER_PYTHON_SCALAR * len(leaf)
    return bits


def _kind(n: fx.Node, module: fx.GraphModule) -> str:
    if n.op == "call_module":
        return type(module.get_submodule(n.target)).__name__
    if n.op == "call_method":
        return str(n.target)
    if n.op == "placeholder":
        return "input"
    if isinstance(n.target, torch._ops.OpOverload):  # aten.mean.dim -> "mean"
        return n.target.overloadpacket.__name__
    return getattr(n.target, "__name__", None) or str(n.target)


def _module_stack(n: fx.Node) -> tuple[tuple[str, type | str], ...]:
    stack = n.meta.get("nn_module_stack") or {}
    return tuple((path, cls) for path, cls in stack.values() if path)


def _param_bytes(n: fx.Node, module: fx.GraphModule) -> dict[str, int]:
    """Parameters and buffers that ``n`` reads, by qualified name (shared ones dedupe by name)."""
    found: dict[str, int] = {}
    if n.op == "call_module":
        sub = module.get_submodule(n.target)
        for name, tensor in (*sub.named_parameters(), *sub.named_buffers()):
            found[f"{n.target}.{name}"] = tensor.numel() * tensor.element_size()
    for arg in n.all_input_nodes:
        if arg.op == "get_attr":
            attr = _fetch_attr(module, arg.target)
            if isinstance(attr, torch.Tensor):
                found[str(arg.target)] = attr.numel() * attr.element_size()
    return found


def _fetch_attr(module: nn.Module, target: str) -> Any:
    obj: Any = module
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _mutated_input(n: fx.Node, module: fx.GraphModule) -> str | None:
    """Name of the input node that ``n`` overwrites in place, or None."""
    first = n.args[0] if n.args and isinstance(n.args[0], fx.Node) else None
    if first is None:
        return None
    if n.op == "call_module":
        inplace = getattr(module.get_submodule(n.target), "inplace", False) is True
    elif n.op == "call_method":
        inplace = _is_inplace_name(n.target)
    else:
        inplace = (
            n.target in _INPLACE_OPERATORS
            or _is_inplace_name(getattr(n.target, "__name__", ""))
            or _passes_inplace_true(n.target, n.args, n.kwargs)
        )
    return first.name if inplace else None


def _is_inplace_name(name: str) -> bool:
    """PyTorch's convention: ``add_``, ``relu_`` overwrite their first argument."""
    return name.endswith("_") and not name.startswith("_")


def _passes_inplace_true(target: Callable, args: Sequence, kwargs: dict) -> bool:
    """True when a functional call such as ``F.relu(x, inplace=True)`` asks for in-place."""
    if kwargs.get("inplace") is True:
        return True
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return False
    if "inplace" not in signature.parameters:
        return False
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return False
    return bound.arguments.get("inplace") is True
