"""Partition planning for one device, one server and one link: the cost model and its optimum.

The same composers as the simulator (``edgesplit.costs``) give every quantity, so ``plan`` and a
slot of ``SlotMEC-v0`` with the same device, server, link and cut agree (tests check it on every
cut). Latency of a cut (shi2025 Eq. 1): device compute + the crossing tensors' upload + the wait
in the server's M/D/1 queue (Eq. 3, at ``arrival_rate_per_s``; none for a single task) + server
compute + the result's download. Device energy (shi2025 Eq. 5 / zhang2026 Eq. 3 / chukhno2023
Eq. 3): compute power x device time (or zeta x device MACs) + transmit power x upload time +
receive power x download time.

Every term but the queue is additive over the graph's nodes and values (the download is charged
to the nodes that produce the model's outputs, each its share of the result), so the optimum is
an s-t min cut; with queueing the latency is not additive, and the optimum is the best of the
enumerated cuts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesplit.checks import finite_in, non_negative, positive
from edgesplit.costs import (
    LinkCosts,
    md1_waiting_time_s,
    task_energy_j,
    task_latency_s,
    transmit_s,
    with_exit,
)
from edgesplit.errors import InvalidParameterError, ProfileError
from edgesplit.graph.cuts import cut_from_mask
from edgesplit.graph.mincut import AdditiveCost
from edgesplit.graph.tiers import TierCost, best_tiers, tier_cost_of, tiers_of
from edgesplit.profile.catalogue import (
    device_powers,
    no_profile_of,
    placeholder_latency,
    plan_defaults,
    resolve_latency,
)
from edgesplit.vocabulary import OBJECTIVES

if TYPE_CHECKING:
    from edgesplit.graph import Cut, ModelGraph
    from edgesplit.profile import NodeLatencyModel


@dataclass(frozen=True)
class Setting:
    """A device, a server, the link between them, and the device's powers.

    Left at their defaults, the extras describe one task alone: the raw input costs its tensor's
    size, nothing is sent back, no queue. ``downlink_rate_bps`` defaults to the uplink's;
    ``energy_per_mac_j`` replaces compute power x time by zeta x MACs (zhang2026 Eq. 3).
    """

    device: NodeLatencyModel
    server: NodeLatencyModel
    uplink_rate_bps: float
    device_compute_power_w: float
    device_transmit_power_w: float
    device_receive_power_w: float = 0.0
    downlink_rate_bps: float | None = None
    result_bits: float = 0.0
    input_bits: float | None = None
    energy_per_mac_j: float | None = None
    arrival_rate_per_s: float = 0.0
    link: LinkCosts = field(default_factory=LinkCosts.ideal)

    def __post_init__(self) -> None:
        positive("uplink_rate_bps", self.uplink_rate_bps)
        non_negative("device_compute_power_w", self.device_compute_power_w)
        non_negative("device_transmit_power_w", self.device_transmit_power_w)
        non_negative("device_receive_power_w", self.device_receive_power_w)
        if self.downlink_rate_bps is not None:
            positive("downlink_rate_bps", self.downlink_rate_bps)
        non_negative("result_bits", self.result_bits)
        if self.input_bits is not None:
            positive("input_bits", self.input_bits)
        if self.energy_per_mac_j is not None:
            non_negative("energy_per_mac_j", self.energy_per_mac_j)
        non_negative("arrival_rate_per_s", self.arrival_rate_per_s)

    @property
    def downlink_bps(self) -> float:
        return self.uplink_rate_bps if self.downlink_rate_bps is None else self.downlink_rate_bps

    @property
    def codec(self) -> int:
        """The link's fastest codec at the uplink rate (index into ``link.codecs``)."""
        return int(self.link.choose(self.uplink_rate_bps))


@dataclass(frozen=True)
class CostTerms:
    """The additive terms of one graph under one setting."""

    device_latency: AdditiveCost
    transfer_latency: AdditiveCost
    server_latency: AdditiveCost
    downlink_latency: AdditiveCost
    compute_energy: AdditiveCost
    transmit_energy: AdditiveCost
    receive_energy: AdditiveCost
    arrival_rate_per_s: float
    request_s: float = 0.0  # the link's fixed time, paid by every offloading cut

    @property
    def latency(self) -> AdditiveCost:
        """Latency without the queue (exact for one task)."""
        return (
            self.device_latency + self.transfer_latency + self.server_latency
            + self.downlink_latency
        )  # fmt: skip

    @property
    def energy(self) -> AdditiveCost:
        return self.compute_energy + self.transmit_energy + self.receive_energy

    def objective(self, name: str, beta_s_per_j: float) -> AdditiveCost:
        """``latency`` (s), ``energy`` (J) or ``weighted``: latency + beta * energy (zhang2026
        Eq. 4 for one device), without the queue."""
        check_objective(name, beta_s_per_j)
        return objective_value(name, self.latency, self.energy, beta_s_per_j)

    @property
    def additive(self) -> bool:
        """Whether latency is additive (no queue), so that the optimum is a min cut."""
        return self.arrival_rate_per_s == 0


def check_objective(name: str, beta_s_per_j: float) -> None:
    if name not in OBJECTIVES:
        raise InvalidParameterError("objective", name, f"one of {', '.join(OBJECTIVES)}")
    if name == "weighted":
        non_negative("beta_s_per_j", beta_s_per_j)


def objective_value(name: str, latency_s, energy_j, beta_s_per_j: float):
    """The objective from latency and energy (floats, arrays, or additive costs): one of them,
    or latency + beta x energy (zhang2026 Eq. 4 for one device)."""
    if name == "latency":
        return latency_s
    if name == "energy":
        return energy_j
    return latency_s + beta_s_per_j * energy_j


def wire_bits(
    graph: ModelGraph, input_bits: float | None, result_bits: float
) -> tuple[np.ndarray, np.ndarray]:
    """What travels: the bits of each value when it crosses (the raw input as the scenario
    encodes it, ``input_bits``, when given) and, per node, the bits of the result it sends back
    when it produces a model output away from the device (each output node its share)."""
    bits = graph.arrays.value_bits.astype(np.float64)
    inputs = graph.arrays.producer < 0
    if input_bits is not None:
        bits[inputs] *= input_bits / bits[inputs].sum()
    outputs = graph.arrays.to_output & ~inputs
    back = np.zeros(len(graph.nodes))
    if outputs.any() and result_bits > 0:
        share = bits[outputs] / bits[outputs].sum()
        np.add.at(back, graph.arrays.producer[outputs], result_bits * share)
    return bits, back


def cost_terms(graph: ModelGraph, setting: Setting) -> CostTerms:
    """Per-node and per-value latency and energy terms of ``graph`` under ``setting``."""
    nodes, values = np.zeros(len(graph.nodes)), np.zeros(len(graph.values))
    term = AdditiveCost.trusted  # every array below is finite and >= 0 (latencies are checked)
    device_s = _node_latencies(setting.device, graph, "device")
    server_s = _node_latencies(setting.server, graph, "server")
    bits, result_bits = wire_bits(graph, setting.input_bits, setting.result_bits)
    link = setting.link.terms(bits, setting.uplink_rate_bps, True)
    upload_s = link.latency_s - setting.link.request_s  # per value; the constant goes per cut
    download_s = transmit_s(result_bits, setting.downlink_bps)
    macs = graph.arrays.macs.astype(np.float64)
    per_mac = np.nan if setting.energy_per_mac_j is None else setting.energy_per_mac_j
    # task_energy_j is linear: per node (device side), per value (sent) and per node (result
    # downloaded) it gives energies whose sum over a cut is the cut's
    compute_j = task_energy_j(
        device_s, setting.device_compute_power_w, 0.0, 0.0, device_macs=macs,
        energy_per_mac_j=per_mac,
    )  # fmt: skip
    encoding_j = task_energy_j(link.device_s, setting.device_compute_power_w, 0.0, 0.0)
    if setting.energy_per_mac_j is not None:  # zeta x MACs is the whole compute energy
        encoding_j = np.zeros_like(encoding_j)
    transmit_j = task_energy_j(0.0, 0.0, link.airtime_s, setting.device_transmit_power_w)
    receive_j = task_energy_j(0.0, 0.0, 0.0, 0.0, download_s, setting.device_receive_power_w)
    return CostTerms(
        device_latency=term(device_s, nodes, values),
        transfer_latency=term(nodes, nodes, upload_s),
        server_latency=term(nodes, server_s, values),
        downlink_latency=term(nodes, download_s, values),
        compute_energy=term(compute_j, nodes, encoding_j),
        transmit_energy=term(nodes, nodes, transmit_j),
        receive_energy=term(nodes, receive_j, values),
        arrival_rate_per_s=setting.arrival_rate_per_s,
        request_s=setting.link.request_s,
    )


def _node_latencies(model: NodeLatencyModel, graph: ModelGraph, side: str) -> np.ndarray:
    latency = np.asarray(model.node_latency_s(graph), dtype=np.float64)
    if latency.shape != (len(graph.nodes),):
        raise InvalidParameterError(
            f"{side} latency model", latency.shape, f"one latency per node ({len(graph.nodes)})"
        )
    if not (np.isfinite(latency) & (latency >= 0)).all():
        bad = latency[~(np.isfinite(latency) & (latency >= 0))][0]
        raise InvalidParameterError(
            f"{side} latency model", float(bad), "every node latency finite and >= 0"
        )
    return latency


@dataclass(frozen=True)
class CutCosts:
    """Latency breakdown and device energy of one cut."""

    cut: Cut
    device_latency_s: float
    transfer_latency_s: float
    queue_s: float
    server_latency_s: float
    downlink_latency_s: float
    compute_energy_j: float
    transmit_energy_j: float
    receive_energy_j: float
    objective: float

    @property
    def latency_s(self) -> float:
        return float(
            task_latency_s(
                self.device_latency_s, self.transfer_latency_s, self.server_latency_s,
                self.queue_s, self.downlink_latency_s,
            )
        )  # fmt: skip

    @property
    def energy_j(self) -> float:
        return self.compute_energy_j + self.transmit_energy_j + self.receive_energy_j

    def record(self) -> dict[str, Any]:
        """The cut and its costs as plain data (SI units)."""
        parts = {name: getattr(self, name) for name in (*_PARTS, "queue_s", "objective")}
        return {
            **self.cut.record(),
            **parts,
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
        }


_PARTS = {  # CutCosts field -> CostTerms term
    "device_latency_s": "device_latency",
    "transfer_latency_s": "transfer_latency",
    "server_latency_s": "server_latency",
    "downlink_latency_s": "downlink_latency",
    "compute_energy_j": "compute_energy",
    "transmit_energy_j": "transmit_energy",
    "receive_energy_j": "receive_energy",
}


def evaluate(terms: CostTerms, cut: Cut, objective: str, beta_s_per_j: float = 0.0) -> CutCosts:
    """Every term of ``cut``."""
    return evaluate_cuts(terms, [cut], objective, beta_s_per_j)[0]


def evaluate_cuts(
    terms: CostTerms, cuts: list[Cut], objective: str, beta_s_per_j: float = 0.0
) -> list[CutCosts]:
    """Every term of each of ``cuts`` (all terms of a cut in one product, so that a cut's
    numbers do not depend on which cuts are evaluated with it)."""
    stacked = AdditiveCost.stack([getattr(terms, term) for term in _PARTS.values()])
    out = []
    for cut in cuts:
        parts = dict(zip(_PARTS, stacked.of(cut).tolist(), strict=True))
        if not cut.is_all_local:
            parts["transfer_latency_s"] += terms.request_s
        parts["queue_s"] = float(
            md1_waiting_time_s(terms.arrival_rate_per_s, parts["server_latency_s"])
        )
        costs = CutCosts(cut=cut, objective=0.0, **parts)
        value = objective_value(objective, costs.latency_s, costs.energy_j, beta_s_per_j)
        out.append(CutCosts(cut=cut, objective=float(value), **parts))
    return out


def best_of_table(graph: ModelGraph, terms: CostTerms, objective: str, beta_s_per_j: float) -> Cut:
    """The optimum by evaluating every enumerated cut (queueing included)."""
    table = graph.cut_table()
    server_s = terms.server_latency.over(table)
    offloading = np.arange(1, table.size + 1) < table.size  # the last cut is all-local
    transfer_s = terms.transfer_latency.over(table) + np.where(offloading, terms.request_s, 0.0)
    latency = task_latency_s(
        terms.device_latency.over(table), transfer_s, server_s,
        md1_waiting_time_s(terms.arrival_rate_per_s, server_s), terms.downlink_latency.over(table),
    )  # fmt: skip
    values = objective_value(objective, latency, terms.energy.over(table), beta_s_per_j)
    return table.cut(int(np.argmin(values)))


@dataclass(frozen=True)
class Plan:
    """The optimal cut of one graph under one setting, with the two trivial cuts beside it."""

    graph: ModelGraph
    objective_name: str
    best: CutCosts
    all_local: CutCosts
    all_offloaded: CutCosts
    codec: str = "fp32"  # what offloaded tensors travel as (the link's fastest at the rate)

    def record(self) -> dict[str, Any]:
        """The plan as plain data (SI units)."""
        return {
            "model": self.graph.model_name,
            "granularity": self.graph.granularity,
            "cut_count": self.all_local.cut.index + 1,  # the all-local cut is the last
            "objective": self.objective_name,
            "codec": self.codec,
            "best": self.best.record(),
            "all_local": self.all_local.record(),
            "all_offloaded": self.all_offloaded.record(),
        }


def plan(
    graph: ModelGraph,
    setting: Setting,
    objective: str = "latency",
    beta_s_per_j: float | None = None,
) -> Plan:
    """The exact optimum of ``objective`` over every cut of ``graph``: by min-cut when the cost
    is additive (no queue, or the energy objective), else over the enumerated cuts.

    Cut indices are filled in when the graph's cuts have been enumerated (``graph.cut_table``).
    """
    beta = plan_defaults()["beta_s_per_j"] if beta_s_per_j is None else beta_s_per_j
    check_objective(objective, beta)
    terms = cost_terms(graph, setting)
    if terms.additive or objective == "energy":
        best = graph.best_cut(terms.objective(objective, beta))
    else:
        best = best_of_table(graph, terms, objective, beta)
    trivial = [cut_from_mask(graph, graph.full_mask), cut_from_mask(graph, 0)]
    best_costs, local, offloaded = evaluate_cuts(terms, [best, *trivial], objective, beta)
    if local.objective < best_costs.objective:  # the link's fixed time: the same for every
        best_costs = local  # offloading cut, so the min cut's order among them holds
    return Plan(graph, objective, best_costs, local, offloaded, setting.link.codecs[setting.codec])


@dataclass(frozen=True)
class SplitOption:
    """A learned way to split at one cut (``compress.bottleneck``, ``compress.exits``) and the
    top-1 it keeps: a bottleneck (``bits`` per task on the wire in place of what the cut's
    codec sends; ``device_s`` of encoder and coding, ``server_s`` of decoding and decoder) or
    an early exit (``exit_probability`` of tasks end on the device after ``device_s`` of exit
    head; the rest go on as the cut's plain split). ``source`` is what the runtime loads (the
    bottleneck's or exit's file or shipped name) and ``threshold`` an exit's confidence:
    ``device_options`` says how a device runs the option."""

    name: str
    cut_index: int
    top1: float
    bits: float | None = None
    device_s: float = 0.0
    server_s: float = 0.0
    exit_probability: float = 0.0
    source: str = ""
    threshold: float | None = None

    def device_options(self) -> dict[str, Any]:
        """The runtime's settings that run this option at its cut (``edgesplit device``'s
        --codec, or --exit and --exit-threshold): empty when it has no ``source``."""
        if not self.source:
            return {}
        if self.bits is not None:
            return {"codec": f"bottleneck:{self.source}"}
        return {"exit": self.source, "exit_threshold": self.threshold}

    def __post_init__(self) -> None:
        finite_in("top1", self.top1, 0.0, 1.0)
        finite_in("exit_probability", self.exit_probability, 0.0, 1.0)
        non_negative("device_s", self.device_s)
        non_negative("server_s", self.server_s)
        if self.bits is not None:
            positive("bits", self.bits)
            if self.exit_probability:
                raise InvalidParameterError(
                    "exit_probability", self.exit_probability,
                    "0 for a bottleneck (an option is a bottleneck or an exit, each with the "
                    "top-1 measured for it)",
                )  # fmt: skip


@dataclass(frozen=True)
class OptionCosts:
    """One candidate of ``best_split``: an option at its cut, or the cut's plain split (``option``
    None: the link's codec, the model's top-1)."""

    option: SplitOption | None
    cut: CutCosts
    latency_s: float
    energy_j: float
    objective: float
    top1: float

    def record(self) -> dict[str, Any]:
        return {
            "option": None if self.option is None else self.option.name,
            "cut_index": self.cut.cut.index, "latency_s": self.latency_s,
            "energy_j": self.energy_j, "objective": self.objective, "top1": self.top1,
            "device_options": {} if self.option is None else self.option.device_options(),
        }  # fmt: skip


def option_costs(
    setting: Setting,
    terms: CostTerms,
    plain: CutCosts,
    option: SplitOption,
    objective: str,
    beta_s_per_j: float,
) -> OptionCosts:
    """``option``'s expected latency and device energy per task, from ``plain``, the costs of
    its cut as a plain split. A bottleneck sends its ``bits`` at the uplink rate (the request's
    fixed time still paid) and adds its device and server work; an exit adds its head on the
    device and charges what offloading costs only to the tasks that go on (``with_exit``),
    whose lower arrival rate also shortens the queue. Device work is priced at the device's
    compute power."""
    p = option.exit_probability
    upload_s, transmit_j = plain.transfer_latency_s, plain.transmit_energy_j
    if option.bits is not None:
        airtime_s = float(transmit_s(option.bits, setting.uplink_rate_bps))
        upload_s = terms.request_s + airtime_s
        transmit_j = float(task_energy_j(0.0, 0.0, airtime_s, setting.device_transmit_power_w))
    server_s = plain.server_latency_s + option.server_s
    queue_s = float(md1_waiting_time_s(terms.arrival_rate_per_s * (1.0 - p), server_s))
    extra_j = float(task_energy_j(option.device_s, setting.device_compute_power_w, 0.0, 0.0))
    latency = with_exit(
        plain.device_latency_s + option.device_s,
        task_latency_s(0.0, upload_s, server_s, queue_s, plain.downlink_latency_s), p,
    )  # fmt: skip
    energy = with_exit(plain.compute_energy_j + extra_j, transmit_j + plain.receive_energy_j, p)
    value = objective_value(objective, latency, energy, beta_s_per_j)
    return OptionCosts(option, plain, float(latency), float(energy), float(value), option.top1)


def best_split(
    graph: ModelGraph,
    setting: Setting,
    options: list[SplitOption],
    model_top1: float,
    min_top1: float = 0.0,
    objective: str = "latency",
    beta_s_per_j: float | None = None,
    plain_top1: Callable[[int], float] | None = None,
) -> tuple[OptionCosts, list[OptionCosts]]:
    """(the chosen candidate, every candidate) among ``plan``'s optimum as a plain split and
    each of ``options`` at its cut, keeping those whose top-1 reaches ``min_top1``; the least
    ``objective`` wins (the plain split on a tie). The plain split's top-1 is ``plain_top1``
    of its cut index (what crosses it through the link's codec at this rate), or
    ``model_top1`` where the link's codec changes nothing (fp32)."""
    beta = plan_defaults()["beta_s_per_j"] if beta_s_per_j is None else beta_s_per_j
    terms = cost_terms(graph, setting)
    best = plan(graph, setting, objective, beta).best
    top1 = model_top1 if plain_top1 is None else plain_top1(best.cut.index)
    plain = OptionCosts(None, best, best.latency_s, best.energy_j, best.objective, top1)
    cuts = {o.cut_index for o in options}
    at = {
        c.cut.index: c for c in evaluate_cuts(terms, [graph.cut(i) for i in cuts], objective, beta)
    }
    candidates = [plain] + [
        option_costs(setting, terms, at[o.cut_index], o, objective, beta) for o in options
    ]
    kept = [c for c in candidates if c.top1 >= min_top1]
    if not kept:
        top = max(c.top1 for c in candidates)
        raise InvalidParameterError(
            "min_accuracy", min_top1, f"at most {top:.4f}, the best top-1 a candidate keeps"
        )
    return min(kept, key=lambda c: c.objective), candidates


@dataclass(frozen=True)
class SideSpec:
    """Where one side's latencies come from: a catalogue entry or profile file (``profile``,
    optionally at ``threads``), or, only when asked for, the placeholder MAC rate
    (``macs_per_s``)."""

    profile: str | None = None
    threads: int | None = None
    macs_per_s: float | None = None


def resolve_setting(
    model: str,
    uplink_rate_bps: float,
    device: SideSpec,
    server: SideSpec,
    predictor: str | None = None,
    compute_power_w: float | None = None,
    transmit_power_w: float | None = None,
) -> tuple[Setting, dict[str, str]]:
    """The Setting of ``model`` on a device and a server (profiles default to shi2025's test-bed,
    powers to the device's catalogue entry, then to ``plan_defaults``), with a description of
    each side: what ``edgesplit plan`` and the demo both plan with."""
    defaults = plan_defaults()
    predictor = predictor or defaults["predictor"]
    defaulted = set()
    if device.macs_per_s is None and device.profile is None:
        device = SideSpec(defaults["device_profile"], device.threads)
        defaulted.add("device")
    if server.macs_per_s is None and server.profile is None:
        threads = defaults["server_threads"] if server.threads is None else server.threads
        server = SideSpec(defaults["server_profile"], threads)
        defaulted.add("server")
    latency, about = {}, {}
    for side, spec in (("device", device), ("server", server)):
        try:
            latency[side], about[side] = resolve_latency(
                model, spec.profile, spec.macs_per_s, spec.threads, predictor, side
            )
        except ProfileError:
            if side not in defaulted or not no_profile_of(model, spec.profile):
                raise
            latency[side], about[side] = placeholder_latency(model, spec.profile, spec.threads)
    powers = {**defaults, **device_powers(device.profile)}
    compute = powers.get("compute_power_w", defaults["device_compute_power_w"])
    transmit = powers.get("transmit_power_w", defaults["device_transmit_power_w"])
    setting = Setting(
        device=latency["device"],
        server=latency["server"],
        uplink_rate_bps=uplink_rate_bps,
        device_compute_power_w=compute if compute_power_w is None else compute_power_w,
        device_transmit_power_w=transmit if transmit_power_w is None else transmit_power_w,
    )
    return setting, about


@dataclass(frozen=True)
class Cloud:
    """A third tier behind the server: its latency model and the edge-to-cloud link."""

    latency: NodeLatencyModel
    backhaul_rate_bps: float

    def __post_init__(self) -> None:
        positive("backhaul_rate_bps", self.backhaul_rate_bps)


@dataclass(frozen=True)
class TieredPlan:
    """The optimal device/edge/cloud placement (two nested cuts) with its terms."""

    graph: ModelGraph
    objective_name: str
    device_cut: Cut
    edge_cut: Cut
    objective: float
    latency_s: float
    energy_j: float
    compute_s: tuple[float, float, float]  # on the device, the edge, the cloud

    def record(self) -> dict[str, Any]:
        tiers = tiers_of(self.device_cut.device_row, self.edge_cut.device_row)
        return {
            "model": self.graph.model_name,
            "granularity": self.graph.granularity,
            "objective": self.objective_name,
            "device_cut": self.device_cut.record(),
            "edge_cut": self.edge_cut.record(),
            "nodes_per_tier": {
                name: int((tiers == k).sum()) for k, name in enumerate(("device", "edge", "cloud"))
            },
            "compute_s": dict(zip(("device", "edge", "cloud"), self.compute_s, strict=True)),
            "uplink_bits": self.device_cut.transfer_bits,
            "backhaul_bits": self.edge_cut.transfer_bits,
            "objective_value": self.objective,
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
        }


def tier_cost(graph: ModelGraph, setting: Setting, cloud: Cloud, objective: str, beta: float):
    """The three-tier cost of ``objective`` (a ``graph.tiers.TierCost``) composed from
    ``cost_terms``: the device's nodes and the uplink as in ``plan``; an edge node pays its
    compute and, producing an output, the result's download; a cloud node pays its compute and
    the result's way back over the backhaul and the radio; a value leaving the edge pays the
    backhaul (no device energy)."""
    edge_terms = cost_terms(graph, setting)
    behind = replace(  # the backhaul as the link: its latencies only, the device pays nothing
        setting, server=cloud.latency, uplink_rate_bps=cloud.backhaul_rate_bps,
        downlink_rate_bps=cloud.backhaul_rate_bps, link=LinkCosts.ideal(),
    )  # fmt: skip
    cloud_terms = cost_terms(graph, behind)
    near = edge_terms.objective(objective, beta)
    far = objective_value(
        objective,
        cloud_terms.server_latency + cloud_terms.downlink_latency + cloud_terms.transfer_latency,
        AdditiveCost.zeros(graph),
        beta,
    )
    radio_result = objective_value(
        objective, edge_terms.downlink_latency, edge_terms.receive_energy, beta
    )
    return TierCost(
        device=near.device,
        edge=near.server,
        cloud=far.server + radio_result.server,
        uplink=near.transfer,
        backhaul=far.transfer,
    )


def plan_tiers(
    graph: ModelGraph,
    setting: Setting,
    cloud: Cloud,
    objective: str = "latency",
    beta_s_per_j: float | None = None,
) -> TieredPlan:
    """The exact optimum over device, edge (the setting's server) and cloud, by one layered min
    cut (``graph.tiers.best_tiers``); latency and energy of the chosen pair beside it."""
    beta = plan_defaults()["beta_s_per_j"] if beta_s_per_j is None else beta_s_per_j
    check_objective(objective, beta)
    best = best_tiers(graph, tier_cost(graph, setting, cloud, objective, beta))
    masks = (best.device_cut.device_mask, best.edge_cut.device_mask)
    latency = tier_cost_of(graph, tier_cost(graph, setting, cloud, "latency", 0.0), *masks)
    energy = tier_cost_of(graph, tier_cost(graph, setting, cloud, "energy", 0.0), *masks)
    tiers = best.tiers()
    compute = tuple(
        float(_node_latencies(model, graph, side)[tiers == k].sum())
        for k, (model, side) in enumerate(
            ((setting.device, "device"), (setting.server, "server"), (cloud.latency, "cloud"))
        )
    )
    return TieredPlan(
        graph, objective, best.device_cut, best.edge_cut, best.cost, latency, energy, compute
    )
