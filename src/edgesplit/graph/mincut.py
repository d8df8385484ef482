"""Additive costs of cuts and their exact optimum by s-t minimum cut (the DADS construction).

An additive cost charges ``device[i]`` when node i runs on the device, ``server[i]`` when it runs
on the server, and ``transfer[j]`` when value j crosses (once, however many server nodes read it).
Latency, device energy and their weighted sums under a fixed link are all of this form.

The flow network (source = device side, sink = server side):

- ``s -> i`` with capacity ``server[i]`` (cut when i is on the server), ``i -> t`` with
  ``device[i]``;
- a value read by one node c: ``p -> c`` with ``transfer[j]``; read by several: ``p -> a`` with
  ``transfer[j]`` and ``a -> c`` infinite for each reader, so the value is paid once;
- for every DAG edge ``u -> v`` an infinite reverse edge ``v -> u``: a device node's predecessor
  can never be on the server, so the source side is always a down-set (DADS without these edges
  returns invalid cuts).

scipy's max-flow (Dinic) needs int32 capacities, so costs are scaled onto 2**30 integer levels of
their total. The returned cut is optimal to within half a level per cut edge (a relative error
below 1e-9 of the total cost for the graphs we trace); ``min_cut_bounds`` reports the certified
interval.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from edgesplit.errors import InvalidParameterError
from edgesplit.graph.cuts import Cut, CutTable, cut_from_device

if TYPE_CHECKING:
    from edgesplit.graph.model_graph import ModelGraph

_LEVELS = 2**30
# Finite levels sum to at most 2**30, so a cut with an "infinite" edge is never minimal, and
# capacity plus flow stays below 2**31 (scipy computes residuals in int32).
_INFINITE = _LEVELS + 1


@dataclass(frozen=True, eq=False)
class AdditiveCost:
    """Per-node device and server costs and per-value transfer costs of one graph.

    Costs combine linearly (``a + b``, ``2.0 * a``), so a latency, an energy and a weighted
    objective are built from the same terms.
    """

    device: np.ndarray
    server: np.ndarray
    transfer: np.ndarray

    def __post_init__(self) -> None:
        for field in ("device", "server", "transfer"):
            array = np.asarray(getattr(self, field), dtype=np.float64)
            if array.ndim != 1:  # stacked costs are 2-D, built by ``stack`` only
                raise InvalidParameterError(f"cost.{field}", array.shape, "a 1-D array")
            if not np.all(np.isfinite(array)) or np.any(array < 0):
                bad = array[~np.isfinite(array) | (array < 0)][0]
                raise InvalidParameterError(
                    f"cost.{field}", float(bad), "every entry finite and >= 0"
                )
            object.__setattr__(self, field, array)
        if self.device.shape != self.server.shape:
            raise InvalidParameterError(
                "cost.server", self.server.shape, f"same length as cost.device {self.device.shape}"
            )

    @classmethod
    def zeros(cls, graph: ModelGraph) -> AdditiveCost:
        return cls(
            np.zeros(len(graph.nodes)), np.zeros(len(graph.nodes)), np.zeros(len(graph.values))
        )

    @classmethod
    def trusted(cls, device: np.ndarray, server: np.ndarray, transfer: np.ndarray) -> AdditiveCost:
        """A cost from float64 arrays already known to be valid (sums and non-negative multiples
        of valid costs, or checked by the caller), without checking them again."""
        cost = object.__new__(cls)
        for field, array in (("device", device), ("server", server), ("transfer", transfer)):
            object.__setattr__(cost, field, array)
        return cost

    def __add__(self, other: AdditiveCost) -> AdditiveCost:
        if self.device.shape != other.device.shape or self.transfer.shape != other.transfer.shape:
            raise InvalidParameterError(
                "cost", f"{other.device.shape} + {self.device.shape}", "costs of one graph"
            )
        return AdditiveCost.trusted(
            self.device + other.device, self.server + other.server, self.transfer + other.transfer
        )

    def __mul__(self, factor: float) -> AdditiveCost:
        if not (math.isfinite(factor) and factor >= 0):
            raise InvalidParameterError("cost factor", factor, "a finite number >= 0")
        return AdditiveCost.trusted(
            self.device * factor, self.server * factor, self.transfer * factor
        )

    __rmul__ = __mul__

    def check_fits(self, graph: ModelGraph) -> None:
        """Raise unless the cost has one entry per node and one per value of ``graph``."""
        if len(self.device) != len(graph.nodes) or len(self.transfer) != len(graph.values):
            raise InvalidParameterError(
                "cost",
                f"{len(self.device)} node / {len(self.transfer)} value entries",
                f"{len(graph.nodes)} node and {len(graph.values)} value entries for "
                f"{graph.model_name} at {graph.granularity} granularity",
            )

    def over(self, table: CutTable) -> np.ndarray:
        """The cost of every cut in ``table`` (one entry per cut index)."""
        self.check_fits(table.graph)
        return evaluate_rows(self, table.device, table.crossing)

    def of(self, cut: Cut) -> float | np.ndarray:
        """The cost of one cut (one per stacked cost, see ``stack``)."""
        self.check_fits(cut.graph)
        value = evaluate_rows(self, cut.device_row, cut.crossing_row)
        return float(value) if np.ndim(value) == 0 else value

    @classmethod
    def stack(cls, costs: list[AdditiveCost]) -> AdditiveCost:
        """Several costs of one graph as one whose ``of`` and ``over`` give all of them at once
        (a last axis, one entry per cost)."""
        return cls.trusted(*(np.stack([getattr(c, f) for c in costs], axis=1)
                             for f in ("device", "server", "transfer")))  # fmt: skip


def evaluate_rows(cost: AdditiveCost, device: np.ndarray, crossing: np.ndarray) -> np.ndarray:
    """The cost of cuts given as boolean rows (device side [..., nodes], crossing [..., values])."""
    return device @ cost.device + (~device) @ cost.server + crossing @ cost.transfer


def brute_force_best_cut(graph: ModelGraph, cost: AdditiveCost, limit: int | None = None) -> Cut:
    """The optimum by scanning every enumerated cut (the twin that tests compare min_cut with)."""
    table = graph.cut_table() if limit is None else graph.cut_table(limit)
    return table.cut(int(np.argmin(cost.over(table))))


def min_cut(graph: ModelGraph, cost: AdditiveCost) -> Cut:
    """The cut minimising ``cost``, by max-flow on the DADS network (no enumeration)."""
    return min_cut_bounds(graph, cost)[0]


def min_cut_bounds(graph: ModelGraph, cost: AdditiveCost) -> tuple[Cut, float]:
    """The minimising cut and a certified lower bound on the optimum's cost (``solve_levels``)."""
    cost.check_fits(graph)
    network = _flow_network(graph)
    finite = np.concatenate([cost.server, cost.device, cost.transfer[network.transfer_values]])
    device, flow = solve_levels(network, finite)
    return cut_from_device(graph, device[2 : 2 + len(graph.nodes)]), flow


def solve_levels(network: _FlowNetwork, finite: np.ndarray) -> tuple[np.ndarray, float]:
    """The source side of a minimum cut of ``network`` whose finite edges (first in its order)
    cost ``finite`` and the rest are infinite, and the certified lower bound on its cost.

    Capacities are floored onto integer levels of ``total / 2**30``, so ``levels * quantum`` never
    exceeds a cut's true cost and the max-flow value times the quantum bounds the optimum from
    below; the returned cut costs at most one quantum per cut edge more than the optimum."""
    total = float(finite.sum())
    quantum = total / _LEVELS if total > 0 else 1.0
    levels = np.minimum(np.floor(finite / quantum), _LEVELS)
    capacity = np.concatenate([levels, np.full(network.n_infinite, float(_INFINITE))])
    # parallel edges add up (np.bincount); the sums stay below 2**31 (see _INFINITE)
    data = np.bincount(network.slot, weights=capacity, minlength=len(network.indices))
    data = np.minimum(data, _INFINITE).astype(np.int32)
    shape = (network.size, network.size)
    result = maximum_flow(
        csr_array((data, network.indices, network.indptr), shape), 0, 1, method="dinic"
    )
    # Every edge's reverse is in the layout, so the flow has the same entries: the residual
    # capacities are one subtraction, and the source side is what they still reach.
    open_ = data.astype(np.int64) - result.flow.data > 0
    residual = csr_array(
        (
            np.ones(int(open_.sum()), np.int8), network.indices[open_],
            np.concatenate([[0], np.cumsum(np.bincount(network.entry_row[open_],
                                                       minlength=network.size))]),
        ),
        shape,
    )  # fmt: skip
    reachable = breadth_first_order(residual, 0, directed=True, return_predecessors=False)
    source_side = np.zeros(network.size, dtype=bool)
    source_side[reachable] = True
    return source_side, float(result.flow_value) * quantum


@dataclass(frozen=True)
class _FlowNetwork:
    """The cost-independent structure of a graph's DADS network: edges in a fixed order (finite
    ones first: server costs, device costs, transfer costs; then the infinite ones) and the CSR
    layout they sum into (``slot``: each edge's entry)."""

    transfer_values: np.ndarray
    n_infinite: int
    size: int
    slot: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    entry_row: np.ndarray


_NETWORKS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def flow_layout(rows: np.ndarray, cols: np.ndarray, size: int, n_infinite: int) -> _FlowNetwork:
    """The CSR layout of a network's edges (``rows[k] -> cols[k]``, the last ``n_infinite`` of
    them infinite), holding every edge's reverse too (capacity 0), as the max-flow's residual
    does."""
    keys = rows * size + cols
    entries = np.unique(np.concatenate([keys, cols * size + rows]))
    entry_row = entries // size
    return _FlowNetwork(
        transfer_values=np.zeros(0, dtype=np.int64),
        n_infinite=n_infinite,
        size=size,
        slot=np.searchsorted(entries, keys),
        indices=(entries % size).astype(np.int32),
        indptr=np.concatenate([[0], np.cumsum(np.bincount(entry_row, minlength=size))]).astype(
            np.int32
        ),
        entry_row=entry_row,
    )


@dataclass(frozen=True)
class CutLayer:
    """The DADS edges of one copy of a graph's nodes (``vertex[i]`` for node i): a finite edge
    per read value (``rows[k] -> cols[k]`` carries value ``values[k]``'s transfer cost; from the
    source, 0, for a model input), through a shared vertex with infinite edges to the readers
    when several read it, and an infinite reverse edge per DAG edge (``infinite``)."""

    rows: list[np.ndarray]
    cols: list[np.ndarray]
    values: np.ndarray
    infinite: list[tuple[int, int]]
    next_vertex: int  # the first vertex number left unused


def cut_layer(graph: ModelGraph, vertex: np.ndarray, next_vertex: int) -> CutLayer:
    """The DADS network's value and reverse edges over the vertices ``vertex``, with shared
    vertices numbered from ``next_vertex`` (used by ``min_cut`` and by ``graph.tiers``)."""
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    values, infinite = [], []
    for j, value in enumerate(graph.values):
        if not value.consumers:
            continue
        values.append(j)
        rows.append(np.array([0 if value.producer is None else vertex[value.producer]]))
        if len(value.consumers) == 1:
            cols.append(np.array([vertex[value.consumers[0]]]))
            continue
        cols.append(np.array([next_vertex]))  # paid once: every reader follows this vertex
        infinite.extend((next_vertex, int(vertex[c])) for c in value.consumers)
        next_vertex += 1
    infinite.extend(
        (int(vertex[b]), int(vertex[a])) for b, preds in enumerate(graph.preds) for a in preds
    )
    return CutLayer(rows, cols, np.array(values, dtype=np.int64), infinite, next_vertex)


def _flow_network(graph: ModelGraph) -> _FlowNetwork:
    """Vertices: 0 = source (device), 1 = sink (server), 2 + i = node i, then one per shared value.

    Finite edges come first, in the order server costs, device costs, transfer costs.
    """
    cached = _NETWORKS.get(graph)
    if cached is not None:
        return cached
    n = len(graph.nodes)
    node = np.arange(n) + 2
    finite_rows = [np.zeros(n, np.int64), node]
    finite_cols = [node, np.ones(n, np.int64)]
    layer = cut_layer(graph, node, 2 + n)
    finite_rows.extend(layer.rows)
    finite_cols.extend(layer.cols)
    inf = np.array(layer.infinite, dtype=np.int64).reshape(-1, 2)
    rows = np.concatenate([*finite_rows, inf[:, 0]])
    cols = np.concatenate([*finite_cols, inf[:, 1]])
    next_vertex = layer.next_vertex
    network = flow_layout(rows, cols, next_vertex, len(inf))
    network = replace(network, transfer_values=layer.values)
    _NETWORKS[graph] = network
    return network
