"""Group fx nodes into the nodes of a ModelGraph at a chosen granularity.

All granularities share one mechanism: start from groups (single fx nodes, or for ``block`` the
contiguous runs of one block's nodes), then fold each *foldable* node into the group of its only
predecessor. Folding a node into its unique predecessor, and grouping contiguous runs of a
topological order, both keep the grouped graph acyclic, so every granularity yields a DAG and the
same cut code works on all of them.

- ``fx``: every call_module / call_function / call_method node, nothing folded.
- ``operator``: fx nodes, with shape-only and identity ops (view, flatten, getitem, dropout in
  eval, ...) and metadata ops (those whose output holds no tensor: ``x.shape``, size arithmetic,
  asserts) folded into their producer, as zhang2026 footnote 1 folds negligible operators.
- ``layer``: one node per nn.Module leaf call; functional ops with one producer fold into it,
  merge points (add, cat) stay nodes (Neurosurgeon-style layers).
- ``block``: one node per top-level child module, descending through plain ``nn.Sequential``
  containers and subclasses that keep Sequential's forward (a ResNet stage becomes its residual
  blocks, VGG's ``features`` its layers): shi2025's "virtual layers".

Except at ``fx`` granularity, input-independent nodes (computed from parameters alone) are
*constants*: they belong to no graph node and are copied to whichever side reads them, never sent.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from torch import fx, nn

from edgesplit.errors import InvalidParameterError
from edgesplit.graph.trace import COMPUTE_OPS, FxNodeRecord
from edgesplit.vocabulary import GRANULARITIES

# Kinds (module class, function or method name) that only reshape, alias or pass data through in
# eval mode: zhang2026 footnote 1 folds such operators into their neighbours.
SHAPE_ONLY_KINDS = frozenset(
    {
        "view", "reshape", "flatten", "contiguous", "squeeze", "unsqueeze", "permute",
        "transpose", "expand", "expand_as", "view_as", "reshape_as", "size", "dim", "t",
        "unflatten", "getitem", "getattr", "dropout", "alias", "sym_size", "_unsafe_view",
        "Flatten", "Unflatten", "Identity", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
        "AlphaDropout",
    }
)  # fmt: skip

_CONTAINER_NAME = f"{nn.Sequential.__module__}.{nn.Sequential.__qualname__}"


class FxDag:
    """The compute nodes of a GraphModule with data and in-place ordering dependencies."""

    def __init__(self, module: fx.GraphModule, records: Mapping[str, FxNodeRecord]) -> None:
        nodes = [n for n in module.graph.nodes if n.op in COMPUTE_OPS]
        self.order: list[str] = [n.name for n in nodes]
        self.position = {name: i for i, name in enumerate(self.order)}
        self.preds: dict[str, set[str]] = {
            n.name: {a.name for a in n.all_input_nodes if a.op in COMPUTE_OPS} for n in nodes
        }
        self._add_inplace_ordering(list(module.graph.nodes), records)
        inputs = {n.name for n in module.graph.nodes if n.op == "placeholder"}
        self.input_dependent = set()
        for n in nodes:
            if any(a.name in inputs or a.name in self.input_dependent for a in n.all_input_nodes):
                self.input_dependent.add(n.name)

    def _add_inplace_ordering(
        self, nodes: list[fx.Node], records: Mapping[str, FxNodeRecord]
    ) -> None:
        """An in-place op must run after the earlier readers of the tensor it overwrites and
        before the later ones. The output of an in-place op is the same tensor as its input, so
        readers are collected over that whole alias class. These dependencies are not data
        edges, so add them (fx order is the original execution order)."""
        root: dict[str, str] = {}
        for n in nodes:
            target = records[n.name].mutates if n.name in records else None
            if target is not None:
                root[n.name] = root.get(target, target)
        aliases: dict[str, list[str]] = {}
        for name, base in root.items():
            aliases.setdefault(base, [base]).append(name)
        compute = set(self.position)
        users = {n.name: [u.name for u in n.users if u.name in compute] for n in nodes}
        for n in nodes:
            if n.name not in root:
                continue
            for member in aliases[root[n.name]]:
                for reader in users.get(member, ()):
                    if reader == n.name:
                        continue
                    if self.position[reader] < self.position[n.name]:
                        self.preds[n.name].add(reader)
                    else:
                        self.preds[reader].add(n.name)


def group_nodes(
    dag: FxDag, records: Mapping[str, FxNodeRecord], granularity: str
) -> tuple[list[list[str]], list[str], list[str | None]]:
    """Return (groups in topological order, constant fx nodes, each group's block path)."""
    if granularity not in GRANULARITIES:
        raise InvalidParameterError(
            "granularity", granularity, f"one of {', '.join(GRANULARITIES)}"
        )
    constants = (
        [] if granularity == "fx" else [n for n in dag.order if n not in dag.input_dependent]
    )
    constant_set = set(constants)
    active = [n for n in dag.order if n not in constant_set]
    keys = {n: _block_key(records[n]) for n in active} if granularity == "block" else {}

    parent = {n: n for n in active}  # union-find over fx node names

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    previous = None
    for n in active:  # contiguous runs of one block
        if keys.get(n) is not None and previous is not None and keys.get(previous) == keys[n]:
            parent[n] = find(previous)
        previous = n

    run_sizes: dict[str, int] = {}
    for n in active:
        run_sizes[find(n)] = run_sizes.get(find(n), 0) + 1
    # In fx order a node is folded before anything is folded into it, so its group is {n} here.
    for n in active:
        if run_sizes.get(n) != 1 or not _foldable(n, records[n], granularity, keys):
            continue
        pred_groups = {find(p) for p in dag.preds[n] if p not in constant_set}
        if len(pred_groups) == 1:
            parent[n] = pred_groups.pop()

    members: dict[str, list[str]] = {}
    for n in active:
        members.setdefault(find(n), []).append(n)
    groups = _topological_groups(dag, members, find, constant_set)
    paths = [keys.get(g[0]) for g in groups]
    return groups, constants, paths


def _foldable(name: str, record: FxNodeRecord, granularity: str, keys: Mapping) -> bool:
    if granularity == "operator":
        return record.kind in SHAPE_ONLY_KINDS or record.is_metadata
    if granularity == "layer":
        return record.op != "call_module"
    if granularity == "block":
        return keys.get(name) is None
    return False


def _block_key(record: FxNodeRecord) -> str | None:
    """The path of the outermost module on the node's stack that is not a plain container."""
    for path, cls in record.module_stack:
        if not _is_container(cls):
            return path
    return None


def _is_container(cls: type | str) -> bool:
    """A plain container: nn.Sequential or a subclass that keeps its forward (regnet's stages,
    torchvision's Conv2dNormActivation). torch.export records class names, not classes."""
    if isinstance(cls, str):
        return cls == _CONTAINER_NAME
    return issubclass(cls, nn.Sequential) and cls.forward is nn.Sequential.forward


def _topological_groups(dag: FxDag, members: dict, find, constant_set: set) -> list[list[str]]:
    """Kahn's algorithm on the grouped graph, ties broken by first fx position (deterministic)."""
    succs: dict[str, set[str]] = {g: set() for g in members}
    indegree = dict.fromkeys(members, 0)
    for n, preds in dag.preds.items():
        if n in constant_set:
            continue
        for p in preds:
            if p in constant_set:
                continue
            a, b = find(p), find(n)
            if a != b and b not in succs[a]:
                succs[a].add(b)
                indegree[b] += 1
    first = {g: min(dag.position[m] for m in ms) for g, ms in members.items()}
    ready = [(first[g], g) for g, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, g = heapq.heappop(ready)
        ordered.append(sorted(members[g], key=dag.position.__getitem__))
        for s in succs[g]:
            indegree[s] -= 1
            if indegree[s] == 0:
                heapq.heappush(ready, (first[s], s))
    if len(ordered) != len(members):  # pragma: no cover - folding rules guarantee a DAG
        raise AssertionError("grouping produced a cycle")
    return ordered
