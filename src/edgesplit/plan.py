"""Partition planning for one device, one server and one uplink: the cost model and its optimum.

Latency of a cut (zhang2026 Eq. 2 for one device alone on its server):
``device compute + transfer_bits / uplink_rate_bps + server compute``. Device energy (zhang2026
Eq. 3 with power x time for compute, as shi2025 measures it): ``compute_power_w * device latency +
transmit_power_w * transfer latency``. Each term is an AdditiveCost, so the same terms give the
breakdown of any cut, the whole cut table, and the exact optimum by min-cut.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from edgesplit.checks import non_negative, positive
from edgesplit.errors import CutLimitExceededError, InvalidParameterError
from edgesplit.graph import Cut, ModelGraph
from edgesplit.graph.mincut import AdditiveCost
from edgesplit.profile import NodeLatencyModel

OBJECTIVES = ("latency", "energy", "weighted")


@cache
def plan_defaults() -> dict[str, Any]:
    """Defaults of the planner and the demo, from package data (with their sources)."""
    text = resources.files("edgesplit.data").joinpath("plan_defaults.json").read_text()
    return json.loads(text)


@dataclass(frozen=True)
class Setting:
    """A device, a server, the uplink between them, and the device's powers."""

    device: NodeLatencyModel
    server: NodeLatencyModel
    uplink_rate_bps: float
    device_compute_power_w: float
    device_transmit_power_w: float

    def __post_init__(self) -> None:
        positive("uplink_rate_bps", self.uplink_rate_bps)
        non_negative("device_compute_power_w", self.device_compute_power_w)
        non_negative("device_transmit_power_w", self.device_transmit_power_w)


@dataclass(frozen=True)
class CostTerms:
    """The additive terms of one graph under one setting."""

    device_latency: AdditiveCost
    transfer_latency: AdditiveCost
    server_latency: AdditiveCost
    compute_energy: AdditiveCost
    transmit_energy: AdditiveCost

    @property
    def latency(self) -> AdditiveCost:
        return self.device_latency + self.transfer_latency + self.server_latency

    @property
    def energy(self) -> AdditiveCost:
        return self.compute_energy + self.transmit_energy

    def objective(self, name: str, beta_s_per_j: float) -> AdditiveCost:
        """``latency`` (s), ``energy`` (J) or ``weighted``: latency + beta * energy (zhang2026
        Eq. 4 for one device)."""
        if name == "latency":
            return self.latency
        if name == "energy":
            return self.energy
        if name == "weighted":
            return self.latency + non_negative("beta_s_per_j", beta_s_per_j) * self.energy
        raise InvalidParameterError("objective", name, f"one of {', '.join(OBJECTIVES)}")


def cost_terms(graph: ModelGraph, setting: Setting) -> CostTerms:
    """Per-node and per-value latency and energy terms of ``graph`` under ``setting``."""
    zero_nodes = np.zeros(len(graph.nodes))
    zero_values = np.zeros(len(graph.values))
    device_s = _node_latencies(setting.device, graph, "device")
    server_s = _node_latencies(setting.server, graph, "server")
    transfer_s = (
        np.array([v.size_bits for v in graph.values], dtype=np.float64) / setting.uplink_rate_bps
    )
    device_latency = AdditiveCost(device_s, zero_nodes, zero_values)
    transfer_latency = AdditiveCost(zero_nodes, zero_nodes, transfer_s)
    return CostTerms(
        device_latency=device_latency,
        transfer_latency=transfer_latency,
        server_latency=AdditiveCost(zero_nodes, server_s, zero_values),
        compute_energy=setting.device_compute_power_w * device_latency,
        transmit_energy=setting.device_transmit_power_w * transfer_latency,
    )


def _node_latencies(model: NodeLatencyModel, graph: ModelGraph, side: str) -> np.ndarray:
    latency = np.asarray(model.node_latency_s(graph), dtype=np.float64)
    if latency.shape != (len(graph.nodes),):
        raise InvalidParameterError(
            f"{side} latency model", latency.shape, f"one latency per node ({len(graph.nodes)})"
        )
    return latency


@dataclass(frozen=True)
class CutCosts:
    """Latency breakdown and device energy of one cut."""

    cut: Cut
    device_latency_s: float
    transfer_latency_s: float
    server_latency_s: float
    compute_energy_j: float
    transmit_energy_j: float
    objective: float

    @property
    def latency_s(self) -> float:
        return self.device_latency_s + self.transfer_latency_s + self.server_latency_s

    @property
    def energy_j(self) -> float:
        return self.compute_energy_j + self.transmit_energy_j


def evaluate(terms: CostTerms, cut: Cut, objective: AdditiveCost) -> CutCosts:
    """Every term of ``cut``."""
    return CutCosts(
        cut=cut,
        device_latency_s=terms.device_latency.of(cut),
        transfer_latency_s=terms.transfer_latency.of(cut),
        server_latency_s=terms.server_latency.of(cut),
        compute_energy_j=terms.compute_energy.of(cut),
        transmit_energy_j=terms.transmit_energy.of(cut),
        objective=objective.of(cut),
    )


@dataclass(frozen=True)
class Plan:
    """The optimal cut of one graph under one setting, with the two trivial cuts beside it."""

    graph: ModelGraph
    objective_name: str
    best: CutCosts
    all_local: CutCosts
    all_offloaded: CutCosts


def plan(
    graph: ModelGraph,
    setting: Setting,
    objective: str = "latency",
    beta_s_per_j: float | None = None,
) -> Plan:
    """The exact optimum of ``objective`` over every cut of ``graph`` (by min-cut).

    Cut indices are filled in when the graph's cuts can be enumerated (within the default limit).
    """
    beta = plan_defaults()["beta_s_per_j"] if beta_s_per_j is None else beta_s_per_j
    terms = cost_terms(graph, setting)
    cost = terms.objective(objective, beta)
    try:
        table = graph.cut_table()
        local, offloaded = table.cut(table.size), table.cut(1)
    except CutLimitExceededError:
        local = graph.cut_from_device_nodes([n.name for n in graph.nodes])
        offloaded = graph.cut_from_device_nodes([])
    return Plan(
        graph=graph,
        objective_name=objective,
        best=evaluate(terms, graph.best_cut(cost), cost),
        all_local=evaluate(terms, local, cost),
        all_offloaded=evaluate(terms, offloaded, cost),
    )
