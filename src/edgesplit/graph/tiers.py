"""Three ordered tiers (device, edge, cloud) and their exact optimum: two nested cuts.

Every node runs on the device (tier 0), the edge (1) or the cloud (2), and no node runs on an
earlier tier than a predecessor: the device nodes form a down-set D1 and the device and edge
nodes a down-set D2 containing it. A ``TierCost`` charges each node its tier's cost, each value
its uplink cost when it leaves the device (produced in D1, read outside it) and its backhaul
cost when it leaves the edge (produced in D2, read outside it): a value sent from the device to
the cloud pays both links, and each link once however many nodes read it.

The optimum is one s-t minimum cut on a layered network (Ishikawa's construction for ordered
labels): two copies of every node, copy 1 on the source side iff the node is in D1, copy 2 iff
in D2; the chain source -> copy 2 (cloud cost) -> copy 1 (edge cost) -> sink (device cost) is cut
exactly once at the node's tier, an infinite edge copy 1 -> copy 2 keeps D1 inside D2, infinite
reverse DAG edges keep both down-sets, and each layer carries its link's transfer costs as in
the DADS network (``graph.mincut``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edgesplit.errors import InvalidParameterError
from edgesplit.graph.cuts import Cut, cut_from_device, cut_from_mask, device_matrix
from edgesplit.graph.mincut import cut_layer, flow_layout, solve_levels

if TYPE_CHECKING:
    from edgesplit.graph.model_graph import ModelGraph

TIERS = ("device", "edge", "cloud")


@dataclass(frozen=True)
class TierCost:
    """Per node the cost on each tier, per value the cost of each link it crosses."""

    device: np.ndarray  # [nodes]
    edge: np.ndarray  # [nodes]
    cloud: np.ndarray  # [nodes]
    uplink: np.ndarray  # [values]: device -> edge
    backhaul: np.ndarray  # [values]: edge -> cloud

    def __post_init__(self) -> None:
        for name in ("device", "edge", "cloud", "uplink", "backhaul"):
            array = np.asarray(getattr(self, name), dtype=np.float64)
            if array.ndim != 1 or not np.isfinite(array).all() or (array < 0).any():
                raise InvalidParameterError(
                    f"tier cost.{name}", array.shape, "a 1-D array of finite entries >= 0"
                )
            object.__setattr__(self, name, array)

    def check_fits(self, graph: ModelGraph) -> None:
        """Raise unless there is one entry per node for each tier and one per value for each
        link."""
        nodes, values = len(graph.nodes), len(graph.values)
        shapes = [a.shape for a in (self.device, self.edge, self.cloud, self.uplink, self.backhaul)]
        if shapes != [(nodes,)] * 3 + [(values,)] * 2:
            raise InvalidParameterError(
                "tier cost", shapes, f"{nodes} entries per tier and {values} per link"
            )


@dataclass(frozen=True)
class TierPlan:
    """Two nested cuts: ``device_cut`` (D1 on the device) and ``edge_cut`` (D2 on the device or
    the edge; the rest in the cloud), and their cost."""

    device_cut: Cut
    edge_cut: Cut
    cost: float

    def tiers(self) -> np.ndarray:
        """Each node's tier (0 device, 1 edge, 2 cloud)."""
        return tiers_of(self.device_cut.device_row, self.edge_cut.device_row)


def tiers_of(on_device: np.ndarray, on_device_or_edge: np.ndarray) -> np.ndarray:
    """Each node's tier (0 device, 1 edge, 2 cloud) from the two nested cuts' device rows."""
    return 2 - np.asarray(on_device, dtype=int) - np.asarray(on_device_or_edge, dtype=int)


def tier_cost_of(graph: ModelGraph, cost: TierCost, device_mask: int, edge_mask: int) -> float:
    """The cost of the nested pair (``device_mask`` within ``edge_mask``), computed directly
    from each node's tier and each value's producer and readers."""
    if device_mask & ~edge_mask:
        raise InvalidParameterError(
            "device_mask", f"{device_mask:#x}", f"a subset of the edge mask {edge_mask:#x}"
        )
    tier = tiers_of(*device_matrix([device_mask, edge_mask], len(graph.nodes)))
    total = float(np.choose(tier, [cost.device, cost.edge, cost.cloud]).sum())
    for j, value in enumerate(graph.values):
        if not value.consumers:
            continue
        made = 0 if value.producer is None else tier[value.producer]
        furthest = max(tier[c] for c in value.consumers)
        if made == 0 and furthest >= 1:
            total += cost.uplink[j]
        if made <= 1 and furthest == 2:
            total += cost.backhaul[j]
    return total


def best_tiers(graph: ModelGraph, cost: TierCost) -> TierPlan:
    """The nested pair of cuts minimising ``cost``, by one max-flow (no enumeration)."""
    cost.check_fits(graph)
    n = len(graph.nodes)
    one, two = np.arange(n) + 2, np.arange(n) + 2 + n  # the node copies of D1 and D2
    rows = [np.zeros(n, np.int64), two, one]  # source -> copy 2 -> copy 1 -> sink
    cols = [two, one, np.ones(n, np.int64)]
    finite = [cost.cloud, cost.edge, cost.device]
    infinite = [(int(a), int(b)) for a, b in zip(one, two, strict=True)]  # D1 within D2
    next_vertex = 2 + 2 * n
    for copies, link in ((one, cost.uplink), (two, cost.backhaul)):
        layer = cut_layer(graph, copies, next_vertex)
        rows.extend(layer.rows)
        cols.extend(layer.cols)
        finite.append(link[layer.values])
        infinite.extend(layer.infinite)
        next_vertex = layer.next_vertex
    edges = np.array(infinite, dtype=np.int64).reshape(-1, 2)
    network = flow_layout(
        np.concatenate([*rows, edges[:, 0]]),
        np.concatenate([*cols, edges[:, 1]]),
        next_vertex,
        len(edges),
    )
    source_side, _ = solve_levels(network, np.concatenate(finite))
    device_cut = cut_from_device(graph, source_side[one])
    edge_cut = cut_from_device(graph, source_side[two])
    value = tier_cost_of(graph, cost, device_cut.device_mask, edge_cut.device_mask)
    return TierPlan(device_cut, edge_cut, value)


def brute_force_tiers(graph: ModelGraph, cost: TierCost) -> TierPlan:
    """The optimum by enumerating every nested pair of the graph's cuts (small graphs only)."""
    cost.check_fits(graph)
    masks = [cut.device_mask for cut in graph.cuts()]
    best = None
    for outer in masks:
        for inner in masks:
            if inner & ~outer:
                continue
            value = tier_cost_of(graph, cost, inner, outer)
            if best is None or value < best[0]:
                best = (value, inner, outer)
    value, inner, outer = best
    return TierPlan(cut_from_mask(graph, inner), cut_from_mask(graph, outer), value)
