"""Cuts of a ModelGraph: every down-set of the node DAG, on one index from 0.

A cut puts a set of nodes on the device that is closed under predecessors (a down-set of the
DAG); the rest runs on the server. The exact enumerator below visits every down-set once: take the
lowest-index node still undecided (in a topological numbering it is minimal, so it may join the
device side), and branch on putting it on the device or, with all its descendants, on the server.
Every branch ends in a distinct down-set, so the work is linear in their number.

Cuts are ordered by (highest device node position, number of device nodes, device mask): index 0
sends the raw input, index S - 1 runs everything locally, and on a chain index k keeps the first
k nodes on the device. This is zhang2026 Sec. III-B's numbering of partition points less one: the
same index from 0 that the contract, the simulator and the runtime use (no layer converts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesplit.errors import CutIndexError, CutLimitExceededError, InvalidCutError

if TYPE_CHECKING:
    from edgesplit.graph.model_graph import ModelGraph


@dataclass(frozen=True, eq=False)
class Cut:
    """One partition of a graph's nodes: ``device_mask`` bit i puts node i on the device.

    ``crossing`` names the values sent from device to server (model inputs first, then in
    topological order of their producers); ``transfer_bits`` is their total size, each value
    counted once however many server nodes read it. ``device_outputs`` are model outputs computed
    on the device that no server node reads (they stay on the device). ``index`` is its
    position from 0, or None when the graph's cuts have not been enumerated.
    """

    graph: ModelGraph = field(repr=False)
    device_mask: int = field(repr=False)
    index: int | None
    transfer_bits: int
    device_macs: int
    server_macs: int

    @property
    def device_nodes(self) -> tuple[str, ...]:
        return tuple(n.name for i, n in enumerate(self.graph.nodes) if self.device_mask >> i & 1)

    @property
    def server_nodes(self) -> tuple[str, ...]:
        return tuple(
            n.name for i, n in enumerate(self.graph.nodes) if not self.device_mask >> i & 1
        )

    @cached_property
    def device_row(self) -> np.ndarray:
        """Boolean [nodes]: node i runs on the device."""
        return device_matrix([self.device_mask], len(self.graph.nodes))[0]

    @cached_property
    def crossing_row(self) -> np.ndarray:
        """Boolean [values]: value j is sent to the server."""
        return crossing_matrix(self.graph, self.device_row[None, :])[0]

    @cached_property
    def crossing(self) -> tuple[str, ...]:
        return tuple(
            v.name
            for v, crosses in zip(self.graph.values, self.crossing_row, strict=True)
            if crosses
        )

    @property
    def device_outputs(self) -> tuple[str, ...]:
        crossing = set(self.crossing)
        return tuple(
            v.name
            for v in self.graph.values
            if v.to_output
            and v.name not in crossing
            and (v.producer is None or self.device_mask >> v.producer & 1)
        )

    def record(self) -> dict[str, Any]:
        """The cut as plain data (what ``edgesplit cuts --json`` prints)."""
        return {
            "index": self.index,
            "device_mask": hex(self.device_mask),
            "device_node_count": self.device_mask.bit_count(),
            "transfer_bits": self.transfer_bits,
            "device_macs": self.device_macs,
            "server_macs": self.server_macs,
            "crossing": list(self.crossing),
        }

    @property
    def is_all_local(self) -> bool:
        return self.device_mask == self.graph.full_mask

    @property
    def sends_input(self) -> bool:
        """True for the cut that runs nothing on the device and sends the raw input."""
        return self.device_mask == 0

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Cut)
            and other.graph is self.graph
            and other.device_mask == self.device_mask
        )

    def __hash__(self) -> int:
        return hash((id(self.graph), self.device_mask))

    def __repr__(self) -> str:
        return (
            f"Cut(index={self.index}, device_nodes={self.device_mask.bit_count()}"
            f"/{len(self.graph.nodes)}, transfer_bits={self.transfer_bits}, "
            f"crossing={self.crossing})"
        )


@dataclass(frozen=True, eq=False)
class CutTable:
    """Every cut of a graph as arrays, row ``k`` holding the cut with index ``k``.

    ``device[k, i]``: node i on the device; ``crossing[k, j]``: value j sent to the server.
    """

    graph: ModelGraph = field(repr=False)
    masks: tuple[int, ...]
    device: np.ndarray
    crossing: np.ndarray
    transfer_bits: np.ndarray
    device_macs: np.ndarray
    server_macs: np.ndarray

    @property
    def size(self) -> int:
        return len(self.masks)

    def cut(self, index: int) -> Cut:
        """The cut with index ``index`` (0..S - 1)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise CutIndexError(index, self.size)
        if not 0 <= index < self.size:
            raise CutIndexError(index, self.size)
        k = int(index)
        cut = Cut(
            graph=self.graph,
            device_mask=self.masks[k],
            index=k,
            transfer_bits=int(self.transfer_bits[k]),
            device_macs=int(self.device_macs[k]),
            server_macs=int(self.server_macs[k]),
        )
        cut.__dict__.update(device_row=self.device[k], crossing_row=self.crossing[k])  # cached
        return cut

    def index_of(self, mask: int) -> int | None:
        """The index of the cut with this device mask."""
        return self._positions.get(mask)

    @cached_property
    def _positions(self) -> dict[int, int]:
        return {m: k for k, m in enumerate(self.masks)}


def cut_order_key(mask: int) -> tuple[int, int, int]:
    """Sort key of the cut index: highest device node, number of device nodes, the mask."""
    return (mask.bit_length(), mask.bit_count(), mask)


def enumerate_down_sets(descendant_masks: Sequence[int], limit: int) -> list[int]:
    """Every down-set of a DAG whose nodes are numbered topologically, as bit masks.

    ``descendant_masks[i]`` has the bits of node i and all its descendants. Raises
    CutLimitExceededError as soon as more than ``limit`` down-sets are found.
    """
    n = len(descendant_masks)
    found: list[int] = []
    stack = [((1 << n) - 1, 0)]  # (undecided nodes, device nodes)
    while stack:
        undecided, device = stack.pop()
        if not undecided:
            found.append(device)
            if len(found) > limit:
                raise CutLimitExceededError(
                    f"more than {limit:,} cuts: the graph has too many parallel branches to list "
                    "them all; raise the limit, use a coarser granularity, or use best_cut(), "
                    "which finds the optimum without enumerating"
                )
            continue
        lowest = undecided & -undecided
        node = lowest.bit_length() - 1
        stack.append((undecided & ~descendant_masks[node], device))
        stack.append((undecided & ~lowest, device | lowest))
    return found


def device_matrix(masks: Sequence[int], n_nodes: int) -> np.ndarray:
    """Boolean matrix [len(masks), n_nodes] with the bits of each mask."""
    n_bytes = max(1, (n_nodes + 7) // 8)
    buffer = b"".join(m.to_bytes(n_bytes, "little") for m in masks)
    raw = np.frombuffer(buffer, dtype=np.uint8).reshape(len(masks), n_bytes)
    return np.unpackbits(raw, axis=1, bitorder="little")[:, :n_nodes].astype(bool)


@dataclass(frozen=True)
class GraphArrays:
    """A graph's structure as index arrays, for vectorised cut computations."""

    producer: np.ndarray  # [values]: producing node, -1 for a model input (on the device)
    read: np.ndarray  # values read by some node
    consumers: np.ndarray  # consumers of the read values, concatenated in value order
    starts: np.ndarray  # where each read value's consumers begin in ``consumers``
    edge_from: np.ndarray  # DAG edges (predecessor -> node)
    edge_to: np.ndarray
    macs: np.ndarray  # [nodes]
    value_bits: np.ndarray  # [values]
    to_output: np.ndarray  # [values]: a model output

    @classmethod
    def of(cls, graph: ModelGraph) -> GraphArrays:
        read = [j for j, v in enumerate(graph.values) if v.consumers]
        counts = [len(graph.values[j].consumers) for j in read]
        edges = [(a, b) for b, preds in enumerate(graph.preds) for a in preds]
        return cls(
            producer=np.array([-1 if v.producer is None else v.producer for v in graph.values]),
            read=np.array(read, dtype=np.int64),
            consumers=np.array(
                [c for j in read for c in graph.values[j].consumers], dtype=np.int64
            ),
            starts=np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64),
            edge_from=np.array([a for a, _ in edges], dtype=np.int64),
            edge_to=np.array([b for _, b in edges], dtype=np.int64),
            macs=np.array([n.macs for n in graph.nodes], dtype=np.int64),
            value_bits=np.array([v.size_bits for v in graph.values], dtype=np.int64),
            to_output=np.array([v.to_output for v in graph.values], dtype=bool),
        )


def crossing_matrix(graph: ModelGraph, device: np.ndarray) -> np.ndarray:
    """Boolean matrix [cuts, values]: the value is on the device and a server node reads it
    (one gather of the readers' sides and a segmented reduction per value)."""
    arrays = graph.arrays
    crossing = np.zeros((device.shape[0], len(graph.values)), dtype=bool)
    if len(arrays.read):
        server_reads = np.logical_or.reduceat(~device[:, arrays.consumers], arrays.starts, axis=1)
        producer = arrays.producer[arrays.read]
        on_device = np.where(producer < 0, True, device[:, np.maximum(producer, 0)])
        crossing[:, arrays.read] = server_reads & on_device
    return crossing


def _table_from_masks(graph: ModelGraph, masks: Sequence[int]) -> CutTable:
    device = device_matrix(masks, len(graph.nodes))
    return _table_from_device(graph, tuple(masks), device)


def _table_from_device(graph: ModelGraph, masks: tuple[int, ...], device: np.ndarray) -> CutTable:
    crossing = crossing_matrix(graph, device)
    macs, bits = graph.arrays.macs, graph.arrays.value_bits
    device_macs = device.astype(np.int64) @ macs
    return CutTable(
        graph=graph,
        masks=masks,
        device=device,
        crossing=crossing,
        transfer_bits=crossing.astype(np.int64) @ bits,
        device_macs=device_macs,
        server_macs=int(macs.sum()) - device_macs,
    )


def enumerate_cut_table(graph: ModelGraph, limit: int) -> CutTable:
    """Enumerate every cut of ``graph`` and order them on the cut index."""
    masks = enumerate_down_sets(graph.descendant_masks, limit)
    masks.sort(key=cut_order_key)
    return _table_from_masks(graph, masks)


def cut_from_mask(graph: ModelGraph, mask: int) -> Cut:
    """The Cut for a device mask, checking that it is a down-set."""
    if mask < 0 or mask > graph.full_mask:
        raise InvalidCutError(f"device mask {mask:#x} names nodes outside the graph")
    return cut_from_device(graph, device_matrix([mask], len(graph.nodes))[0], mask)


def cut_from_device(graph: ModelGraph, device: np.ndarray, mask: int | None = None) -> Cut:
    """The Cut whose device side is the boolean row ``device`` (one entry per node), checking
    that it is a down-set."""
    arrays = graph.arrays
    missing = device[arrays.edge_to] & ~device[arrays.edge_from]
    if missing.any():
        first = int(np.argmax(missing))
        node, needed = arrays.edge_to[first], arrays.edge_from[first]
        raise InvalidCutError(
            f"not a valid cut: device node {graph.nodes[node].name!r} needs "
            f"{graph.nodes[needed].name!r} on the device too (the device side must be "
            "closed under predecessors)"
        )
    if mask is None:
        packed = np.packbits(device, bitorder="little").tobytes()
        mask = int.from_bytes(packed, "little")
    row = _table_from_device(graph, (mask,), device[None, :])
    table = graph._cut_table
    cut = Cut(
        graph=graph,
        device_mask=mask,
        index=table.index_of(mask) if table is not None else None,
        transfer_bits=int(row.transfer_bits[0]),
        device_macs=int(row.device_macs[0]),
        server_macs=int(row.server_macs[0]),
    )
    cut.__dict__.update(device_row=row.device[0], crossing_row=row.crossing[0])  # cached
    return cut
