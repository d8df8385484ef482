"""ModelGraph: the operator DAG of a PyTorch model, with per-node costs and the values between."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import networkx as nx
from torch import fx, nn

from edgesplit.errors import CutLimitExceededError, InvalidCutError
from edgesplit.graph.constants import DEFAULT_CUT_LIMIT
from edgesplit.graph.granularity import FxDag, group_nodes
from edgesplit.graph.trace import COMPUTE_OPS, FxNodeRecord, TracedModel, trace

if TYPE_CHECKING:
    from edgesplit.graph.cuts import Cut, CutTable, GraphArrays
    from edgesplit.graph.mincut import AdditiveCost


@dataclass(frozen=True)
class GraphNode:
    """One node of the graph: a group of fx nodes that always stay on the same side of a cut."""

    name: str
    kind: str
    fx_nodes: tuple[str, ...]
    macs: int
    flops: int
    param_bytes: int
    output_shape: tuple[int, ...] | None
    output_dtype: str | None
    output_bits: int

    @property
    def output_bytes(self) -> int:
        """Bytes of the values this node hands to other nodes or to the model output."""
        return self.output_bits // 8


@dataclass(frozen=True)
class Value:
    """A tensor (or other object) produced by one node, or a model input, and read elsewhere.

    ``producer`` is the index of the producing node, or None for a model input (which is always
    on the device). ``consumers`` are the indices of the other nodes that read it. A value
    *crosses* a cut when it is on the device side and a server-side node reads it.
    """

    name: str
    producer: int | None
    consumers: tuple[int, ...]
    to_output: bool
    size_bits: int
    shape: tuple[int, ...] | None
    dtype: str | None


class ModelGraph:
    """An operator-level DAG of a model, with costs, every valid cut and the exact optimum.

    Build one with :meth:`from_module`. ``nodes`` are in topological order; node ``i`` is bit
    ``i`` of a cut's ``device_mask``.
    """

    def __init__(self, traced: TracedModel, granularity: str, model_name: str) -> None:
        self.module: fx.GraphModule = traced.module
        self.trace_method = traced.method
        self.granularity = granularity
        self.model_name = model_name
        self.input_shapes = traced.input_shapes
        self.records: dict[str, FxNodeRecord] = traced.records

        dag = FxDag(traced.module, traced.records)
        groups, constants, paths = group_nodes(dag, traced.records, granularity)
        self.constants: tuple[str, ...] = tuple(constants)
        self._group_of = {fx_name: i for i, group in enumerate(groups) for fx_name in group}
        self.values: tuple[Value, ...] = self._build_values()
        self.nodes: tuple[GraphNode, ...] = self._build_nodes(groups, paths)
        self._index = {node.name: i for i, node in enumerate(self.nodes)}

        preds = [set() for _ in groups]
        for fx_name, fx_preds in dag.preds.items():
            if fx_name in self._group_of:
                b = self._group_of[fx_name]
                preds[b].update(self._group_of[p] for p in fx_preds if p in self._group_of)
                preds[b].discard(b)
        self.preds: tuple[tuple[int, ...], ...] = tuple(tuple(sorted(p)) for p in preds)
        self.edges: tuple[tuple[str, str], ...] = tuple(
            (self.nodes[a].name, self.nodes[b].name) for b, ps in enumerate(self.preds) for a in ps
        )
        self.descendant_masks = self._descendant_masks()
        self._cut_table: CutTable | None = None
        # The traced module's compute nodes in order: the granularity-independent node order
        # that profiles are keyed by.
        self.fx_node_order: tuple[str, ...] = tuple(
            n.name for n in self.module.graph.nodes if n.op in COMPUTE_OPS
        )

    @classmethod
    def from_module(
        cls,
        model: nn.Module,
        example_input: Any,
        granularity: str = "operator",
        model_name: str | None = None,
        threads: int | None = 1,
    ) -> ModelGraph:
        """Trace ``model`` on ``example_input`` (a tensor or tuple of tensors) into a graph.

        The model is put in eval mode: edgesplit plans inference. torch.fx is tried first,
        torch.export second; an UntraceableModelError names the model and the failing construct.
        Tracing runs with ``threads`` torch threads (``graph.trace.trace``).
        """
        traced = trace(model, example_input, threads)
        return cls(traced, granularity, model_name or type(model).__name__)

    # -- construction ---------------------------------------------------------------------

    def _build_values(self) -> tuple[Value, ...]:
        """Model inputs and every node output read outside its own node, in topological order."""
        graph = self.module.graph
        readers: dict[str, set[int]] = {}
        for n in graph.nodes:
            reader = self._group_of.get(n.name)
            if reader is None:
                continue
            for a in n.all_input_nodes:
                if a.op == "placeholder" or self._group_of.get(a.name, reader) != reader:
                    readers.setdefault(a.name, set()).add(reader)
        output = next(n for n in graph.nodes if n.op == "output")
        to_output = {a.name for a in output.all_input_nodes}
        position = {name: i for i, name in enumerate(n.name for n in graph.nodes)}

        values = []
        for n in graph.nodes:
            is_input = n.op == "placeholder"
            if not is_input and (
                n.name not in self._group_of or (n.name not in readers and n.name not in to_output)
            ):
                continue
            record = self.records[n.name]
            values.append(
                Value(
                    name=n.name,
                    producer=self._group_of.get(n.name),
                    consumers=tuple(sorted(readers.get(n.name, ()))),
                    to_output=n.name in to_output,
                    size_bits=record.size_bits,
                    shape=record.shape,
                    dtype=record.dtype,
                )
            )
        values.sort(key=lambda v: (-1 if v.producer is None else v.producer, position[v.name]))
        return tuple(values)

    def _build_nodes(
        self, groups: list[list[str]], paths: list[str | None]
    ) -> tuple[GraphNode, ...]:
        outputs_of: dict[int, list[Value]] = {}
        for v in self.values:
            if v.producer is not None:
                outputs_of.setdefault(v.producer, []).append(v)
        nodes, seen = [], {}
        for i, (group, path) in enumerate(zip(groups, paths, strict=True)):
            records = [self.records[name] for name in group]
            params = {k: b for r in records for k, b in r.param_bytes.items()}
            outs = outputs_of.get(i, [])
            tensors = [v for v in outs if v.shape is not None] or [
                r for r in records if r.shape is not None
            ]
            main = tensors[-1] if tensors else None
            base = path or group[0]
            seen[base] = seen.get(base, 0) + 1
            name = base if seen[base] == 1 else f"{base}@{seen[base] - 1}"
            flops = sum(r.flops for r in records)
            nodes.append(
                GraphNode(
                    name=name,
                    kind=_group_kind(records, path),
                    fx_nodes=tuple(group),
                    macs=flops // 2,
                    flops=flops,
                    param_bytes=sum(params.values()),
                    output_shape=main.shape if main else None,
                    output_dtype=main.dtype if main else None,
                    output_bits=sum(v.size_bits for v in outs),
                )
            )
        return tuple(nodes)

    def _descendant_masks(self) -> tuple[int, ...]:
        succs = [[] for _ in self.nodes]
        for b, ps in enumerate(self.preds):
            for a in ps:
                succs[a].append(b)
        masks = [0] * len(self.nodes)
        for i in reversed(range(len(self.nodes))):
            mask = 1 << i
            for s in succs[i]:
                mask |= masks[s]
            masks[i] = mask
        return tuple(masks)

    # -- queries ----------------------------------------------------------------------------

    def index_of(self, name: str) -> int:
        """Position of the node called ``name`` (its bit in a device mask)."""
        try:
            return self._index[name]
        except KeyError:
            raise InvalidCutError(f"no node named {name!r} in {self.model_name}'s graph") from None

    @property
    def total_macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    @property
    def total_flops(self) -> int:
        return sum(n.flops for n in self.nodes)

    @property
    def param_bytes(self) -> int:
        """Bytes of the distinct parameters and buffers the graph reads (shared ones once)."""
        names = self.constants + tuple(f for n in self.nodes for f in n.fx_nodes)
        params = {k: b for name in names for k, b in self.records[name].param_bytes.items()}
        return sum(params.values())

    @cached_property
    def arrays(self) -> GraphArrays:
        """The structure as index arrays (for vectorised cut computations)."""
        from edgesplit.graph.cuts import GraphArrays

        return GraphArrays.of(self)

    @property
    def full_mask(self) -> int:
        return (1 << len(self.nodes)) - 1

    def summary(self, top: int = 5) -> dict[str, Any]:
        """Counts, MACs, parameters and the ``top`` largest activations, as plain data."""
        largest = sorted(self.values, key=lambda v: v.size_bits, reverse=True)[: max(top, 0)]
        return {
            "traced_by": self.trace_method,
            "input_shapes": [list(s) for s in self.input_shapes],
            "node_count": len(self.nodes),
            "edge_count": len(self.edges),
            "total_macs": self.total_macs,
            "total_flops": self.total_flops,
            "param_bytes": self.param_bytes,
            "largest_activations": [
                {"value": v.name, "shape": list(v.shape or ()), "size_bits": v.size_bits}
                for v in largest
            ],
        }

    def node_records(self) -> list[dict[str, Any]]:
        """Every node as plain data."""
        return [
            {
                "name": n.name,
                "kind": n.kind,
                "fx_nodes": list(n.fx_nodes),
                "macs": n.macs,
                "flops": n.flops,
                "param_bytes": n.param_bytes,
                "output_shape": list(n.output_shape or ()),
                "output_dtype": n.output_dtype,
                "output_bits": n.output_bits,
            }
            for n in self.nodes
        ]

    def to_networkx(self) -> nx.DiGraph:
        """The node DAG as a networkx DiGraph; node attributes are the GraphNode fields."""
        g = nx.DiGraph()
        for node in self.nodes:
            g.add_node(node.name, **{k: getattr(node, k) for k in GraphNode.__dataclass_fields__})
        g.add_edges_from(self.edges)
        return g

    # -- cuts -------------------------------------------------------------------------------

    def cut_table(self, limit: int = DEFAULT_CUT_LIMIT) -> CutTable:
        """Every valid cut as arrays (cached); raises CutLimitExceededError beyond ``limit``."""
        from edgesplit.graph.cuts import enumerate_cut_table

        if self._cut_table is None or self._cut_table.size > limit:
            table = enumerate_cut_table(self, limit)
            self._cut_table = table
        return self._cut_table

    def cuts(self, limit: int = DEFAULT_CUT_LIMIT) -> list[Cut]:
        """Every valid cut, ordered on the cut index (0 = send the input, S - 1 = all local)."""
        table = self.cut_table(limit)
        return [table.cut(i) for i in range(table.size)]

    def cut(self, index: int) -> Cut:
        """The cut with index ``index`` (0..S - 1)."""
        return self.cut_table().cut(index)

    def cut_from_device_nodes(self, device_nodes: list[str] | tuple[str, ...]) -> Cut:
        """The cut whose device side is ``device_nodes`` (must be closed under predecessors)."""
        from edgesplit.graph.cuts import cut_from_mask

        mask = 0
        for name in device_nodes:
            mask |= 1 << self.index_of(name)
        return cut_from_mask(self, mask)

    def fx_key(self, cut: Cut) -> str:
        """The portable identity of a cut: its device mask over ``fx_node_order`` (hex), the
        same at every granularity (a profile's cut keys)."""
        position = {name: i for i, name in enumerate(self.fx_node_order)}
        mask = 0
        for i, node in enumerate(self.nodes):
            if cut.device_mask >> i & 1:
                for name in node.fx_nodes:
                    mask |= 1 << position[name]
        return hex(mask)

    def cut_with_key(self, key: str) -> Cut | None:
        """The cut whose portable identity (``fx_key``) is ``key``, None if this granularity has
        none (a cut made at a finer one) or too many cuts to index."""
        try:
            cuts = self.cuts()
        except CutLimitExceededError:
            return None
        return next((cut for cut in cuts if self.fx_key(cut) == key), None)

    def best_cut(self, cost: AdditiveCost) -> Cut:
        """The exact optimum of an additive cost, by s-t minimum cut (no enumeration needed)."""
        from edgesplit.graph.mincut import min_cut

        return min_cut(self, cost)

    def __repr__(self) -> str:
        return (
            f"ModelGraph({self.model_name!r}, granularity={self.granularity!r}, "
            f"nodes={len(self.nodes)}, edges={len(self.edges)}, traced_by={self.trace_method!r})"
        )


def _group_kind(records: list[FxNodeRecord], path: str | None) -> str:
    if path is not None and records[0].module_stack:
        for stack_path, cls in records[0].module_stack:
            if stack_path == path:
                return cls.__name__ if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1]
    return records[0].kind
