"""Split a model along a cut into a device-side head and a server-side tail (torch.fx GraphModules).

``head(*inputs)`` runs the device nodes and returns a tuple: first ``cut.crossing`` (the values
the server reads, model inputs first, then in topological order of their producers), then
``cut.device_outputs`` (model outputs computed on the device). ``tail(*that tuple)`` runs the server
nodes and returns what the model returns, so ``tail(*head(x))`` equals ``model(x)``. The raw-input
cut gives a head that returns its inputs; the all-local cut gives a tail that only assembles the
output. Constants (parameter-only computations) and parameter reads are copied to each side that
needs them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import numpy as np
import torch
from torch import fx, nn
from torch.utils._pytree import tree_flatten

from edgesplit.errors import InvalidParameterError, ModelMismatchError
from edgesplit.graph.cuts import Cut
from edgesplit.graph.model_graph import ModelGraph
from edgesplit.graph.trace import normalize_inputs


def split(
    model: nn.Module | None, graph: ModelGraph, cut: Cut | int
) -> tuple[fx.GraphModule, fx.GraphModule]:
    """Return ``(head, tail)`` for ``cut`` (a Cut of ``graph`` or its index).

    Submodules and parameters come from ``model`` when given (so a model with the same
    architecture but other weights can be split along a graph traced once), else from the traced
    module. Both halves are in eval mode and share parameters with their source.
    """
    if not isinstance(cut, Cut):
        cut = graph.cut(cut)
    elif cut.graph is not graph:
        raise ModelMismatchError("the cut belongs to another graph; take cuts from this graph")
    attributes = _attributes(model, graph)

    device_fx = {
        f for i, n in enumerate(graph.nodes) if cut.device_mask >> i & 1 for f in n.fx_nodes
    }
    handed_over = [*cut.crossing, *cut.device_outputs]
    nodes = list(graph.module.graph.nodes)
    output = nodes[-1]

    head = fx.Graph()
    env: dict[str, fx.Node] = {}
    head_needs = _needed(nodes, device_fx, graph, [])
    for n in nodes:
        if n.op == "placeholder" or n.name in head_needs:
            env[n.name] = head.node_copy(n, lambda a: env[a.name])
    head.output(tuple(env[name] for name in handed_over))

    tail = fx.Graph()
    tail_env: dict[str, fx.Node] = {}
    for name in handed_over:
        tail_env[name] = tail.placeholder(name)
    server_fx = {f for n in graph.nodes for f in n.fx_nodes} - device_fx
    tail_needs = _needed(nodes, server_fx, graph, [output]) - set(handed_over)
    for n in nodes:
        if n.name in tail_needs and n.name not in tail_env:
            tail_env[n.name] = tail.node_copy(n, lambda a: tail_env[a.name])
    tail.output(fx.map_arg(output.args[0], lambda a: tail_env[a.name]))

    return _module(attributes, head, "Head"), _module(attributes, tail, "Tail")


def _needed(
    nodes: list[fx.Node], side: set[str], graph: ModelGraph, roots: list[fx.Node]
) -> set[str]:
    """Names of the fx nodes one side runs: its own compute nodes plus the constants and
    parameter reads they (or the roots) depend on."""
    by_name = {n.name: n for n in nodes}
    constants = set(graph.constants)
    needed = set(side)
    stack = [by_name[name] for name in side] + list(roots)
    while stack:
        n = stack.pop()
        for a in n.all_input_nodes:
            if a.name not in needed and (a.op == "get_attr" or a.name in constants):
                needed.add(a.name)
                stack.append(a)
    return needed


_ATTRIBUTES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _attributes(model: nn.Module | None, graph: ModelGraph) -> dict[str, Any]:
    """Every submodule and attribute the graph refers to, taken from ``model`` where possible
    (cached per graph for the last model split along it)."""
    cached = _ATTRIBUTES.get(graph)
    if cached is not None and cached[0]() is model:
        return cached[1]
    found = _resolve_attributes(model, graph)
    _ATTRIBUTES[graph] = (weakref.ref(model) if model is not None else lambda: None, found)
    return found


def _resolve_attributes(model: nn.Module | None, graph: ModelGraph) -> dict[str, Any]:
    source = graph.module
    found: dict[str, Any] = {}
    for n in source.graph.nodes:
        if n.op not in ("call_module", "get_attr"):
            continue
        original = _lookup(source, n.target)
        replacement = _lookup(model, n.target) if model is not None else None
        if replacement is None:
            if model is not None and graph.trace_method == "fx":
                raise ModelMismatchError(
                    f"model {type(model).__name__} has no {n.target!r}, which the graph of "
                    f"{graph.model_name} uses: split a model of the traced architecture"
                )
            replacement = original
        elif type(replacement) is not type(original):
            raise ModelMismatchError(
                f"model's {n.target!r} is a {type(replacement).__name__}, the graph's is a "
                f"{type(original).__name__}: split a model of the traced architecture"
            )
        found[n.target] = replacement
    return found


def _lookup(root: nn.Module, target: str) -> Any:
    obj: Any = root
    for part in target.split("."):
        if not hasattr(obj, part):
            return None
        obj = getattr(obj, part)
    return obj


def _module(attributes: dict[str, Any], graph: fx.Graph, name: str) -> fx.GraphModule:
    used = {n.target for n in graph.nodes if n.op in ("call_module", "get_attr")}
    module = fx.GraphModule({k: v for k, v in attributes.items() if k in used}, graph, name)
    return module.eval()


@dataclass(frozen=True)
class SplitCheck:
    """The result of running a split head-then-tail against the unsplit model on one input, and
    how long head and tail took: medians and interquartile ranges of ``timed_runs`` runs each,
    after the checked run warmed them up."""

    max_abs_error: float
    matches: bool
    head_s: float
    tail_s: float
    transferred_bytes: int
    head_iqr_s: float
    tail_iqr_s: float
    timed_runs: int


def check_split(
    model: nn.Module,
    graph: ModelGraph,
    cut: Cut | int,
    example_input: Any,
    atol: float = 1e-5,
    timed_runs: int = 5,
) -> SplitCheck:
    """Split ``model`` at ``cut``, run ``tail(*head(x))`` and compare with ``model(x)``, then time
    head and tail ``timed_runs`` times each (the checked run is their warm-up).

    ``transferred_bytes`` counts the tensors of ``cut.crossing`` the head really produced.
    """
    if not isinstance(cut, Cut):
        cut = graph.cut(cut)
    if isinstance(timed_runs, bool) or not isinstance(timed_runs, int) or timed_runs < 1:
        raise InvalidParameterError("timed_runs", timed_runs, "an integer >= 1")
    head, tail = split(model, graph, cut)
    inputs = normalize_inputs(example_input)
    with torch.no_grad():
        reference = model(*inputs)
        handed_over = head(*inputs)
        result = tail(*handed_over)
        head_times, tail_times = (
            _times(lambda: head(*inputs), timed_runs),
            _times(lambda: tail(*handed_over), timed_runs),
        )
    pairs = list(zip(tree_flatten(result)[0], tree_flatten(reference)[0], strict=True))
    error = max((float((a - b).abs().max()) for a, b in pairs), default=0.0)
    sent = sum(
        t.numel() * t.element_size()
        for t in handed_over[: len(cut.crossing)]
        if isinstance(t, torch.Tensor)
    )
    return SplitCheck(
        max_abs_error=error,
        matches=all(torch.allclose(a, b, rtol=0, atol=atol) for a, b in pairs),
        head_s=float(np.median(head_times)),
        tail_s=float(np.median(tail_times)),
        transferred_bytes=sent,
        head_iqr_s=_iqr(head_times),
        tail_iqr_s=_iqr(tail_times),
        timed_runs=timed_runs,
    )


def _times(call: Callable[[], Any], runs: int) -> np.ndarray:
    times = np.empty(runs)
    for i in range(runs):
        start = perf_counter()
        call()
        times[i] = perf_counter() - start
    return times


def _iqr(times: np.ndarray) -> float:
    low, high = np.percentile(times, [25, 75])
    return float(high - low)
