"""Where a device's inference should run over a model's lifetime (chukhno2023 Eq. 1-6), and a
third option the paper does not have: split inference at the best cut.

chukhno2023 compares, for a model in full or pruned form (pre-pruned in the edge's repository
or pruned on demand):

- at the edge (Eq. 1-3): per request the input goes up, the edge infers under its load, the
  result comes down; the device pays P_tx on the upload and P_rx + P_E on the result;
- at the device (Eq. 4-6): a model request goes up, the (pruned) model comes down once, then the
  device infers; it pays P_tx, (P_rx + P_E) on the download and P_d while inferring;

over Q requests per model lifetime (the model is fetched, and pruned on demand, once). The split
option runs a head on the device and the tail at the edge: the device downloads only the head's
weights and, per request, sends what crosses the cut. The edge and the device are its two extreme
cuts, so its optimum, found exactly by s-t min cut (``graph.mincut``) on the lifetime cost, is
never worse than the better of them (tests compare it with enumerating every cut).

Every per-request latency and energy comes from ``plan.cost_terms`` (the single cost module's
composers); this module adds the lifetime terms: the weights' download, the model request and
the pruning time.

Edge load (Fig. 2b, 3): ``edge_load`` L other tasks, each busy on one core, share the edge's
``edge_cores`` C with the request. The request runs at the C - L free cores' thread count (at
least one) and, once the edge is saturated, at the processor share C / (L + 1): its latency is
t(max(1, C - L) threads) x max(1, (L + 1) / C). Pruning on demand stretches by the same share.
``benchmarks/compress_variants.py`` measures both under 0..N busy workers on this machine.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from edgesplit.checks import non_negative, positive
from edgesplit.compress.prune import Variant
from edgesplit.costs.terms import load_stretch, task_energy_j, transmit_s
from edgesplit.errors import CutLimitExceededError, InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.graph.cuts import cut_from_mask
from edgesplit.graph.zoo import load_model, spec_input
from edgesplit.net.rates import UmiRates
from edgesplit.profile.catalogue import latency_model

if TYPE_CHECKING:
    from edgesplit.graph import Cut, ModelGraph
    from edgesplit.graph.mincut import AdditiveCost
    from edgesplit.profile import NodeLatencyModel

# chukhno2023 Sec. 4.1
INPUT_BITS = 300e3 * 8  # a 300 kB image
RESULT_BITS = 2e3 * 8  # a 2 kB result
REQUEST_BITS = 1e3 * 8  # the model request: the paper gives no size; 1 kB assumed
DEVICE_POWER_W = 2.8  # P_d
TRANSMIT_POWER_W = 0.01  # P_d^tx
RECEIVE_POWER_W = 0.1  # P_d^rx
CIRCUIT_POWER_W = 5.34  # P^E, paid with P_rx while receiving
EDGE_POWER_W = 131.26  # the edge server's power while pruning (Fig. 2b)
BATTERIES_WH = {"embedded": 3.7, "smartphone": 11.1, "PC": 18.5}  # Fig. 5's lines
J_PER_WH = 3600.0
WHERE = ("edge", "device", "split")


@dataclass(frozen=True)
class EdgeLoad:
    """The edge's node latencies under ``load`` busy single-core tasks on ``cores`` cores: the
    request runs at the free cores' thread count (C - L, at least 1) and, once the edge is
    saturated (L >= C), gets the processor share C / (L + 1)."""

    free: NodeLatencyModel  # at max(1, cores - load) threads
    cores: int
    load: int

    @property
    def stretch(self) -> float:
        return float(load_stretch(self.load, self.cores))

    def node_latency_s(self, graph: ModelGraph) -> np.ndarray:
        return self.free.node_latency_s(graph) * self.stretch


@dataclass(frozen=True)
class Sites:
    """Where inference may run: a device and an edge (hardware catalogue entries or profile
    folders), the edge's cores and its load (busy single-core tasks)."""

    device: str = "chukhno2023-device"
    edge: str = "chukhno2023-edge"
    edge_cores: int = 4  # the paper's VM: 4 vCPUs
    edge_load: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.edge_load, bool) or not isinstance(self.edge_load, int):
            raise InvalidParameterError("edge_load", self.edge_load, "an integer >= 0")
        non_negative("edge_load", self.edge_load)
        positive("edge_cores", self.edge_cores)

    def device_latency(self, spec: str) -> NodeLatencyModel:
        """The device's latency model of ``spec`` (a variant scales from its base's profile)."""
        return latency_model(self.device, spec)

    def edge_latency(self, spec: str) -> EdgeLoad:
        free = max(1, self.edge_cores - self.edge_load)
        return EdgeLoad(
            latency_model(self.edge, spec, threads=free), self.edge_cores, self.edge_load
        )


@dataclass(frozen=True)
class Radio:
    """chukhno2023's link: the rates at one distance, from the simulator's 3GPP UMi model."""

    uplink_bps: float
    downlink_bps: float
    distance_m: float

    @classmethod
    def umi(cls, distance_m: float = 50.0, draws: int = 10_000, seed: int = 0) -> Radio:
        """The mean Shannon rates over ``draws`` LOS/NLOS and shadowing draws at ``distance_m``
        (``net.UmiRates``: 3.5 GHz, 100 MHz, device 10 dBm, BS 23 dBm; 4x4 arrays taken as 12 dB
        of array gain and a 7 dB noise figure, as the chukhno2023 preset assumes)."""
        positive("distance_m", distance_m)
        rates = UmiRates(
            frequency_hz=3.5e9, bandwidth_hz=100e6, device_power_dbm=10.0,
            server_power_dbm=23.0, antenna_gain_db=12.0, noise_figure_db=7.0,
            distance_m=(float(distance_m), float(distance_m)),
        )  # fmt: skip
        up, down = rates.draw(np.random.default_rng(seed), 0, draws)
        return cls(float(up.mean()), float(down.mean()), float(distance_m))


@dataclass(frozen=True)
class Powers:
    """The device's powers (chukhno2023 Sec. 4.1) and the edge's while pruning."""

    compute_w: float = DEVICE_POWER_W
    transmit_w: float = TRANSMIT_POWER_W
    receive_w: float = RECEIVE_POWER_W
    circuit_w: float = CIRCUIT_POWER_W
    edge_w: float = EDGE_POWER_W

    @property
    def receiving_w(self) -> float:
        """P_rx + P_E: what receiving costs the device (Eq. 3, 6)."""
        return self.receive_w + self.circuit_w


@dataclass(frozen=True)
class Model:
    """One form of the model: its graph on the device and the bits its weights travel as."""

    name: str  # "full", "pruned"
    graph: ModelGraph
    weights_bits: float  # the whole model's download (sparse-encoded when that is smaller)
    prune_s: float = 0.0  # pruning it on an idle edge (0 for the full model)


@dataclass(frozen=True)
class Option:
    """One placement and its lifetime totals over Q requests."""

    where: str  # edge, device, split
    model: str  # full, pruned
    on_demand: bool  # pruned at the edge on request (else pre-pruned or full)
    cut: Cut
    latency_s: float  # the total cycle delay over Q requests
    first_s: float  # the first request's delay (Eq. 2 / Eq. 5 when Q = 1)
    energy_j: float  # device energy over Q requests
    data_bits: float  # exchanged over the radio over Q requests
    edge_energy_j: float  # the edge's pruning energy
    objective: float

    @property
    def label(self) -> str:
        form = "pruned on demand" if self.on_demand else self.model
        return f"{self.where} ({form})"

    def record(self) -> dict[str, Any]:
        return {
            "where": self.where,
            "model": self.model,
            "on_demand": self.on_demand,
            "cut_index": self.cut.index,
            "device_nodes": len(self.cut.device_nodes),
            "latency_s": self.latency_s,
            "first_request_s": self.first_s,
            "energy_j": self.energy_j,
            "data_bits": self.data_bits,
            "edge_energy_j": self.edge_energy_j,
            "objective": self.objective,
        }


@dataclass(frozen=True)
class Placement:
    """Every option, the best by the objective first."""

    options: list[Option]
    objective_name: str
    requests: int
    edge_load: int
    radio: Radio
    batteries_wh: dict[str, float] = field(default_factory=lambda: dict(BATTERIES_WH))

    @property
    def best(self) -> Option:
        return self.options[0]

    def requests_per_battery(self, option: Option) -> dict[str, int]:
        """How many requests each battery of Fig. 5 affords with ``option`` (lifetimes of Q)."""
        per_request = option.energy_j / self.requests
        return {
            name: int(wh * J_PER_WH // per_request) if per_request > 0 else -1
            for name, wh in self.batteries_wh.items()
        }

    def record(self) -> dict[str, Any]:
        return {
            "objective": self.objective_name,
            "requests": self.requests,
            "edge_load": self.edge_load,
            "uplink_bps": self.radio.uplink_bps,
            "downlink_bps": self.radio.downlink_bps,
            "distance_m": self.radio.distance_m,
            "best": self.best.record(),
            "options": [
                {**o.record(), "requests_per_battery": self.requests_per_battery(o)}
                for o in self.options
            ],
        }


@dataclass(frozen=True)
class Lifetime:
    """The lifetime costs of one model form under one setting: additive latency and energy
    (per request x Q, plus the weights' download) and the constants of a model request."""

    model: Model
    latency: AdditiveCost
    energy: AdditiveCost
    first_latency: AdditiveCost  # one request plus the download
    data: AdditiveCost
    request_s: float
    request_j: float
    prune_s: float  # under the edge's load

    @property
    def weighted(self) -> np.ndarray:
        """The nodes holding weights: a head with any of them is fetched (a model request)."""
        return np.array([n.param_bytes > 0 for n in self.model.graph.nodes])


def model_forms(
    name: str, variant: Variant, granularity: str = "block", input_size: int = 224, seed: int = 0
) -> list[Model]:
    """The full model and its ``variant`` (pruned now: ``prune_s`` is measured on this machine),
    traced at ``granularity``, with the bits their weights travel as (``compress.sparse``: dense,
    or sparse where that is smaller)."""
    from edgesplit.compress.prune import apply_variant
    from edgesplit.compress.sparse import weights_size_bits

    x = spec_input(name, input_size, seed=seed)
    forms = []
    for label, spec in (("full", name), ("pruned", f"{name}@{variant}")):
        model = load_model(name, seed)
        prune_s = apply_variant(model, (x,), variant) if label == "pruned" else 0.0
        graph = ModelGraph.from_module(model, x, granularity, model_name=spec)
        with contextlib.suppress(CutLimitExceededError):  # cut indices, where they can be had
            graph.cut_table()
        forms.append(Model(label, graph, weights_size_bits(model.state_dict(), "sparse"), prune_s))
    return forms


def lifetime(
    model: Model,
    sites: Sites,
    radio: Radio,
    requests: int,
    powers: Powers = Powers(),
) -> Lifetime:
    """The additive lifetime costs of ``model`` (``plan.cost_terms`` per request)."""
    from edgesplit.graph.mincut import AdditiveCost
    from edgesplit.plan import Setting, cost_terms, wire_bits

    edge = sites.edge_latency(model.graph.model_name)
    device = sites.device_latency(model.graph.model_name)
    setting = Setting(
        device=device,
        server=edge,
        uplink_rate_bps=radio.uplink_bps,
        downlink_rate_bps=radio.downlink_bps,
        device_compute_power_w=powers.compute_w,
        device_transmit_power_w=powers.transmit_w,
        device_receive_power_w=powers.receiving_w,
        input_bits=INPUT_BITS,
        result_bits=RESULT_BITS,
    )
    terms = cost_terms(model.graph, setting)
    graph = model.graph
    param_bits = np.array([8.0 * n.param_bytes for n in graph.nodes])
    # the weights' encoding shrinks every node's parameters alike (the model's overall ratio)
    node_bits = param_bits * (model.weights_bits / max(param_bits.sum(), 1.0))
    nodes, values = np.zeros(len(graph.nodes)), np.zeros(len(graph.values))
    download_s = transmit_s(node_bits, radio.downlink_bps)  # the weights, fetched once
    download = AdditiveCost(download_s, nodes, values)
    download_j = AdditiveCost(
        task_energy_j(0.0, 0.0, 0.0, 0.0, receive_s=download_s, receive_power_w=powers.receiving_w),
        nodes,
        values,
    )
    bits, result = wire_bits(graph, INPUT_BITS, RESULT_BITS)
    per_request_data = AdditiveCost(nodes, result, bits)
    data = requests * per_request_data + AdditiveCost(node_bits, nodes, values)
    request_s = float(transmit_s(REQUEST_BITS, radio.uplink_bps))
    return Lifetime(
        model=model,
        latency=requests * terms.latency + download,
        energy=requests * terms.energy + download_j,
        first_latency=terms.latency + download,
        data=data,
        request_s=request_s,
        request_j=float(
            task_energy_j(0.0, 0.0, transmit_s=request_s, transmit_power_w=powers.transmit_w)
        ),
        prune_s=model.prune_s * edge.stretch,
    )


def evaluate_option(
    life: Lifetime,
    cut: Cut,
    on_demand: bool,
    objective: str,
    beta_s_per_j: float,
    powers: Powers = Powers(),
) -> Option:
    """One option's totals: the additive part at ``cut`` plus the model request (when the head
    holds weights to fetch) and the pruning (when pruned on demand)."""
    from edgesplit.plan import objective_value

    fetches = bool((cut.device_row & life.weighted).any())
    prune_s = life.prune_s if on_demand else 0.0
    request_s = life.request_s if fetches else 0.0
    latency_s = life.latency.of(cut) + request_s + prune_s
    energy_j = life.energy.of(cut) + (life.request_j if fetches else 0.0)
    where = "edge" if cut.device_mask == 0 else "device" if cut.is_all_local else "split"
    return Option(
        where=where,
        model=life.model.name,
        on_demand=on_demand,
        cut=cut,
        latency_s=float(latency_s),
        first_s=float(life.first_latency.of(cut) + request_s + prune_s),
        energy_j=float(energy_j),
        data_bits=float(life.data.of(cut) + (REQUEST_BITS if fetches else 0.0)),
        edge_energy_j=powers.edge_w * prune_s,
        objective=float(objective_value(objective, latency_s, energy_j, beta_s_per_j)),
    )


def best_split(
    life: Lifetime, on_demand: bool, objective: str, beta_s_per_j: float, powers: Powers = Powers()
) -> Option:
    """The exact best cut of the lifetime objective, by two min cuts: one over every cut (the
    model request charged to all), one with the weighted nodes kept at the edge (no request).
    The better of the two is optimal: a best cut that fetches weights costs at least the first's
    additive optimum plus the request; one that does not is a cut of the second problem."""
    from edgesplit.graph.mincut import AdditiveCost
    from edgesplit.plan import objective_value

    graph = life.model.graph
    cost = objective_value(objective, life.latency, life.energy, beta_s_per_j)
    total = float(cost.device.sum() + cost.server.sum() + cost.transfer.sum()) + 1.0
    pinned = cost + AdditiveCost(
        life.weighted * total, np.zeros(len(graph.nodes)), np.zeros(len(graph.values))
    )
    candidates = [graph.best_cut(cost), graph.best_cut(pinned)]
    options = [
        evaluate_option(life, c, on_demand, objective, beta_s_per_j, powers) for c in candidates
    ]
    return replace(min(options, key=lambda o: o.objective), where="split")


def place(
    models: list[Model],
    sites: Sites,
    radio: Radio,
    requests: int,
    objective: str = "latency",
    beta_s_per_j: float = 0.0,
    powers: Powers = Powers(),
) -> Placement:
    """Every option of chukhno2023 (edge or device; full, pre-pruned or pruned on demand) and
    the best split of each model form, sorted by ``objective``."""
    from edgesplit.plan import check_objective

    check_objective(objective, beta_s_per_j)
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
        raise InvalidParameterError("requests", requests, "an integer Q >= 1")
    options = []
    for model in models:
        life = lifetime(model, sites, radio, requests, powers)
        graph = model.graph
        forms = [False, True] if model.prune_s > 0 else [False]
        for on_demand in forms:
            for cut in (cut_from_mask(graph, 0), cut_from_mask(graph, graph.full_mask)):
                option = evaluate_option(life, cut, on_demand, objective, beta_s_per_j, powers)
                options.append(option)
            options.append(best_split(life, on_demand, objective, beta_s_per_j, powers))
    options.sort(key=lambda o: (o.objective, WHERE.index(o.where)))
    return Placement(options, objective, requests, sites.edge_load, radio)
