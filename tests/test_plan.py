"""Partition planning: the optimum and its breakdown, against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.plan import OBJECTIVES, Setting, cost_terms, plan
from edgesplit.profile import ThroughputModel

from .wide import WideModel

DEVICE_RATE, SERVER_RATE = 5e9, 200e9
COMPUTE_W, TRANSMIT_W = 3.0, 1.5


def _setting(uplink_rate_bps: float) -> Setting:
    return Setting(
        ThroughputModel(DEVICE_RATE),
        ThroughputModel(SERVER_RATE),
        uplink_rate_bps,
        COMPUTE_W,
        TRANSMIT_W,
    )


def _expected_terms(cut, uplink_rate_bps: float) -> tuple[float, float, float, float]:
    """Closed forms from the cut's own sizes: latencies (s) and device energy (J)."""
    device_s = cut.device_macs / DEVICE_RATE
    transfer_s = cut.transfer_bits / uplink_rate_bps
    server_s = cut.server_macs / SERVER_RATE
    return device_s, transfer_s, server_s, COMPUTE_W * device_s + TRANSMIT_W * transfer_s


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("name", ["googlenet", "resnet50"])
def test_plan_is_the_optimum_of_the_closed_form_costs(zoo, name, objective):
    _, _, graph = zoo(name)
    for rate in (1e5, 2e7, 1e10):
        result = plan(graph, _setting(rate), objective, beta_s_per_j=0.7)
        scores = []
        for cut in graph.cuts():
            device_s, transfer_s, server_s, energy_j = _expected_terms(cut, rate)
            latency_s = device_s + transfer_s + server_s
            scores.append(
                {"latency": latency_s, "energy": energy_j, "weighted": latency_s + 0.7 * energy_j}[
                    objective
                ]
            )
        assert result.best.objective == pytest.approx(min(scores), rel=1e-6)
        for costs in (result.best, result.all_local, result.all_offloaded):
            device_s, transfer_s, server_s, energy_j = _expected_terms(costs.cut, rate)
            assert costs.device_latency_s == pytest.approx(device_s)
            assert costs.transfer_latency_s == pytest.approx(transfer_s)
            assert costs.server_latency_s == pytest.approx(server_s)
            assert costs.energy_j == pytest.approx(energy_j)
        assert result.all_local.cut.is_all_local and result.all_offloaded.cut.sends_input
        assert result.best.objective <= min(
            result.all_local.objective, result.all_offloaded.objective
        )


def test_extreme_links_pick_the_trivial_cuts(zoo):
    _, _, graph = zoo("resnet50")
    assert plan(graph, _setting(1.0)).best.cut.is_all_local
    assert plan(graph, _setting(1e15)).best.cut.sends_input


@pytest.mark.parametrize("uplink_rate_bps", [1e6, 1e12])
def test_plan_without_enumerable_cuts(uplink_rate_bps):
    """20 parallel branches joined by a cat: 2**20 cuts, too many to list, but the optimum has a
    closed form. With the cat on the device everything is local; with the cat on the server each
    branch independently runs locally (and sends its output) or remotely, and the input is sent
    once if any branch is remote."""
    graph = ModelGraph.from_module(WideModel(20), torch.randn(1, 4))
    result = plan(graph, _setting(uplink_rate_bps))
    assert result.best.cut.index is None  # not enumerated
    assert result.all_local.cut.is_all_local and result.all_offloaded.cut.sends_input
    latency = cost_terms(graph, _setting(uplink_rate_bps)).latency
    branches = [graph.index_of(f"branches_{i}") for i in range(20)]
    cat = graph.index_of("cat")
    sent = {v.name: latency.transfer[j] for j, v in enumerate(graph.values)}
    per_branch = [
        min(latency.device[b] + sent[graph.nodes[b].name], latency.server[b]) for b in branches
    ]
    remote_any = sent["x"] + sum(per_branch) + latency.server[cat]
    assert all(latency.server[b] < latency.device[b] for b in branches)  # so some branch is remote
    expected = min(latency.device.sum(), remote_any)
    assert result.best.objective == pytest.approx(expected, rel=1e-6)
    assert result.best.cut.sends_input == (uplink_rate_bps == 1e12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"uplink_rate_bps": 0.0}, "uplink_rate_bps=0.0 is invalid: a finite number > 0"),
        ({"uplink_rate_bps": float("nan")}, "uplink_rate_bps=nan"),
        (
            {"device_compute_power_w": -1.0},
            "device_compute_power_w=-1.0 is invalid: a finite number >= 0",
        ),
        ({"device_transmit_power_w": float("inf")}, "device_transmit_power_w=inf"),
    ],
)
def test_invalid_settings(kwargs, match):
    values = {
        "device": ThroughputModel(1e9),
        "server": ThroughputModel(1e9),
        "uplink_rate_bps": 1e6,
        "device_compute_power_w": 1.0,
        "device_transmit_power_w": 1.0,
    } | kwargs
    with pytest.raises(InvalidParameterError, match=match):
        Setting(**values)


def test_invalid_objective_and_beta(zoo):
    _, _, graph = zoo("resnet34")
    with pytest.raises(InvalidParameterError, match="objective='speed' is invalid: one of latency"):
        plan(graph, _setting(1e6), "speed")
    with pytest.raises(InvalidParameterError, match=r"beta_s_per_j=-2\.0"):
        plan(graph, _setting(1e6), "weighted", beta_s_per_j=-2.0)


@pytest.mark.parametrize("energy_per_mac_j", [None, 1e-11])
def test_plan_and_the_simulator_agree_on_every_cut(energy_per_mac_j):
    """One device of chukhno2023 (MobileNet-V2 over 5G NR: an 8-bit image up, a 2 kB result
    down, receive power, M/D/1 queueing at its arrival rate): `plan` on the traced graph and the
    simulator's slot step on its cost table give the same latency and device energy for every
    cut, and plan's optimum is the simulator's best cut."""
    from edgesplit.graph.zoo import build_model, example_input
    from edgesplit.plan import evaluate
    from edgesplit.profile.catalogue import latency_model
    from edgesplit.sim.scenario import load_scenario
    from edgesplit.sim.slot import build_slot_system, slot_step

    scenario = load_scenario("chukhno2023")
    devices = [
        d.model_copy(update={"energy_per_mac_j": energy_per_mac_j}) for d in scenario.devices
    ]
    scenario = scenario.model_copy(update={"devices": devices})
    system = build_slot_system(scenario)
    spec, n, k = scenario.devices[1], 1, 4
    uplink, downlink, arrivals = np.array([3e7] * 3), np.array([9e7] * 3), np.array([1.0, 40, 1])
    graph = ModelGraph.from_module(
        build_model(spec.model), example_input(spec.model), scenario.granularity
    )
    setting = Setting(
        latency_model(spec.hardware, spec.model), latency_model("chukhno2023-edge", spec.model,
                                                                threads=k),
        uplink[n], spec.compute_power_w, spec.transmit_power_w, spec.receive_power_w,
        downlink[n], spec.result_bits, spec.input_bits, energy_per_mac_j,
        arrivals[n] / scenario.slot_s,
    )  # fmt: skip
    terms = cost_terms(graph, setting)
    latency, energy = [], []
    for c in range(system.n_cuts[n]):
        cuts = np.array([0, c, 0])
        step = slot_step(
            system, system.capacity_j, cuts, np.full(3, k), arrivals, uplink, downlink, 0.0
        )
        planned = evaluate(terms, graph.cut(c), "latency")
        assert planned.latency_s == pytest.approx(step.latency_s[n], rel=1e-9)
        assert planned.energy_j == pytest.approx(step.task_energy_j[n], rel=1e-9)
        latency.append(step.latency_s[n])
        energy.append(step.task_energy_j[n])
    assert plan(graph, setting, "latency").best.latency_s == pytest.approx(min(latency))
    assert plan(graph, setting, "energy").best.energy_j == pytest.approx(min(energy))


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_plan_with_the_runtime_overheads_is_the_brute_force_optimum(zoo, objective):
    """With a link profile every offloading cut pays a request's fixed time and each crossing
    bit the fastest codec's per-bit costs: not additive over the graph as a whole (the fixed
    time), yet plan's optimum must equal the brute force over every cut, written out here."""
    from edgesplit.costs.link import load_link

    link = load_link("epyc2", ("fp32", "fp16", "int8", "int8+zstd"))
    _, _, graph = zoo("resnet50")
    for rate in (3e5, 2e7, 1e10):
        setting = Setting(
            ThroughputModel(DEVICE_RATE), ThroughputModel(SERVER_RATE), rate, COMPUTE_W,
            TRANSMIT_W, link=link,
        )  # fmt: skip
        codec = min(
            range(len(link.codecs)),
            key=lambda i: link.encode_s_per_bit[i] + link.decode_s_per_bit[i]
            + link.wire_ratio[i] * (link.transport_s_per_bit + 1 / rate),
        )  # fmt: skip
        scores = []
        for cut in graph.cuts():
            device_s, _, server_s, _ = _expected_terms(cut, rate)
            bits, ratio = cut.transfer_bits, link.wire_ratio[codec]
            transfer_s = 0.0 if cut.is_all_local else link.request_s + bits * (
                link.encode_s_per_bit[codec] + link.decode_s_per_bit[codec]
                + ratio * link.transport_s_per_bit + ratio / rate
            )  # fmt: skip
            energy_j = COMPUTE_W * (device_s + link.encode_s_per_bit[codec] * bits)
            energy_j += TRANSMIT_W * ratio * bits / rate
            latency_s = device_s + transfer_s + server_s
            scores.append({"latency": latency_s, "energy": energy_j,
                           "weighted": latency_s + 0.7 * energy_j}[objective])  # fmt: skip
        result = plan(graph, setting, objective, beta_s_per_j=0.7)
        assert result.best.objective == pytest.approx(min(scores), rel=1e-6)
        assert result.codec == link.codecs[codec]


CLOUD_RATE = 2000e9


def _tiered_closed_form(graph, tiers, uplink_bps, backhaul_bps, result_bits, downlink_bps):
    """Latency and device energy of a tier assignment from the graph's own sizes."""
    macs = np.array([n.macs for n in graph.nodes], dtype=float)
    rates = np.array([DEVICE_RATE, SERVER_RATE, CLOUD_RATE])
    latency = float((macs / rates[tiers]).sum())
    energy = COMPUTE_W * float(macs[tiers == 0].sum() / DEVICE_RATE)
    for value in graph.values:
        if not value.consumers:
            continue
        made = 0 if value.producer is None else tiers[value.producer]
        furthest = max(tiers[c] for c in value.consumers)
        if made == 0 and furthest >= 1:
            latency += value.size_bits / uplink_bps
            energy += TRANSMIT_W * value.size_bits / uplink_bps
        if made <= 1 and furthest == 2:
            latency += value.size_bits / backhaul_bps
    (output,) = [v for v in graph.values if v.to_output]
    where = tiers[output.producer]
    latency += (where >= 1) * result_bits / downlink_bps + (where == 2) * result_bits / backhaul_bps
    return latency, energy


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("uplink,backhaul", [(2e7, 1e9), (1e9, 1e7), (1e5, 1e10)])
def test_three_tiers_are_the_optimum_of_the_closed_form(zoo, objective, uplink, backhaul):
    from edgesplit.graph.tiers import brute_force_tiers, tier_cost_of
    from edgesplit.plan import Cloud, plan_tiers, tier_cost

    _, _, graph = zoo("googlenet", "block")
    setting = Setting(
        ThroughputModel(DEVICE_RATE), ThroughputModel(SERVER_RATE), uplink, COMPUTE_W,
        TRANSMIT_W, result_bits=8000.0, downlink_rate_bps=2 * uplink,
    )  # fmt: skip
    cloud = Cloud(ThroughputModel(CLOUD_RATE), backhaul)
    result = plan_tiers(graph, setting, cloud, objective, beta_s_per_j=0.7)
    enumerated = brute_force_tiers(graph, tier_cost(graph, setting, cloud, objective, 0.7))
    assert result.objective == pytest.approx(enumerated.cost, rel=1e-8)
    tiers = 2 - result.device_cut.device_row.astype(int) - result.edge_cut.device_row.astype(int)
    latency, energy = _tiered_closed_form(graph, tiers, uplink, backhaul, 8000.0, 2 * uplink)
    assert result.latency_s == pytest.approx(latency, rel=1e-9)
    assert result.energy_j == pytest.approx(energy, rel=1e-9)
    # the composition agrees with the closed form on a nested pair that uses all three tiers
    cuts = graph.cuts()
    outer = cuts[2 * len(cuts) // 3]
    inner = next(c for c in cuts[1:] if c.device_mask & ~outer.device_mask == 0)
    pair = 2 - inner.device_row.astype(int) - outer.device_row.astype(int)
    assert set(pair) == {0, 1, 2}
    direct = tier_cost_of(
        graph, tier_cost(graph, setting, cloud, "latency", 0.0), inner.device_mask,
        outer.device_mask,
    )  # fmt: skip
    expected = _tiered_closed_form(graph, pair, uplink, backhaul, 8000.0, 2 * uplink)[0]
    assert direct == pytest.approx(expected, rel=1e-9)


def test_a_far_cloud_leaves_the_two_tier_plan(zoo):
    from edgesplit.plan import Cloud, plan_tiers

    _, _, graph = zoo("resnet50")
    setting = _setting(2e7)
    tiered = plan_tiers(graph, setting, Cloud(ThroughputModel(CLOUD_RATE), 1.0), "latency")
    two = plan(graph, setting, "latency")
    assert tiered.edge_cut.device_mask == graph.full_mask  # nothing goes to the cloud
    assert tiered.latency_s == pytest.approx(two.best.latency_s, rel=1e-8)
