"""chukhno2023 placement: Eq. 1-6 against a hand composition, and the split option's min cut
against enumerating every cut."""

import pytest

from edgesplit.compress.placement import (
    CIRCUIT_POWER_W,
    DEVICE_POWER_W,
    INPUT_BITS,
    RECEIVE_POWER_W,
    REQUEST_BITS,
    RESULT_BITS,
    TRANSMIT_POWER_W,
    Model,
    Radio,
    Sites,
    best_split,
    evaluate_option,
    lifetime,
    model_forms,
    place,
)
from edgesplit.compress.prune import Variant
from edgesplit.errors import InvalidParameterError
from edgesplit.graph.cuts import cut_from_mask
from edgesplit.profile.catalogue import latency_model

NAME = "mobilenet_v2"


@pytest.fixture(scope="module")
def forms():
    full, pruned = model_forms(NAME, Variant("structured", 0.5), "block")
    # a fixed pruning time keeps the numbers reproducible
    return [full, Model(pruned.name, pruned.graph, pruned.weights_bits, 0.25)]


def _sites(load):
    return Sites(edge_load=load)


def test_radio_is_the_umi_channel_and_seeded():
    near, far = Radio.umi(20), Radio.umi(200)
    assert near == Radio.umi(20)
    assert near.uplink_bps > far.uplink_bps > 0
    assert near.downlink_bps > near.uplink_bps  # 23 dBm down, 10 dBm up, same path


def test_edge_and_device_follow_eq_1_to_6(forms):
    full = forms[0]
    radio = Radio(50e6, 200e6, 50.0)
    life = lifetime(full, _sites(0), radio, requests=1)
    graph = full.graph
    # the profiles' own sums: the 4-thread edge (idle) and the 1-thread device
    t_edge_inf = float(
        latency_model("chukhno2023-edge", NAME, threads=4).node_latency_s(graph).sum()
    )
    t_dev_inf = float(latency_model("chukhno2023-device", NAME).node_latency_s(graph).sum())
    at_edge = evaluate_option(life, cut_from_mask(graph, 0), False, "latency", 0.0)
    # Eq. 1-3 by hand
    t_in, t_res = INPUT_BITS / 50e6, RESULT_BITS / 200e6
    assert at_edge.latency_s == pytest.approx(t_in + t_edge_inf + t_res, rel=1e-12)
    energy = TRANSMIT_POWER_W * t_in + (RECEIVE_POWER_W + CIRCUIT_POWER_W) * t_res
    assert at_edge.energy_j == pytest.approx(energy, rel=1e-12)
    assert at_edge.data_bits == pytest.approx(INPUT_BITS + RESULT_BITS)
    # Eq. 4-6 by hand: the model request, the download of the whole model, the inference
    at_device = evaluate_option(life, cut_from_mask(graph, graph.full_mask), False, "latency", 0.0)
    t_req, t_model = REQUEST_BITS / 50e6, full.weights_bits / 200e6
    assert at_device.latency_s == pytest.approx(t_req + t_model + t_dev_inf, rel=1e-9)
    energy = (
        TRANSMIT_POWER_W * t_req
        + (RECEIVE_POWER_W + CIRCUIT_POWER_W) * t_model
        + DEVICE_POWER_W * t_dev_inf
    )
    assert at_device.energy_j == pytest.approx(energy, rel=1e-9)
    assert at_device.data_bits == pytest.approx(REQUEST_BITS + full.weights_bits, rel=1e-9)


def test_q_requests_and_on_demand_pruning(forms):
    pruned = forms[1]
    radio = Radio(50e6, 200e6, 50.0)
    one = lifetime(pruned, _sites(7), radio, 1)
    many = lifetime(pruned, _sites(7), radio, 30)
    graph = pruned.graph
    edge_cut, local = cut_from_mask(graph, 0), cut_from_mask(graph, graph.full_mask)
    e1, e30 = (evaluate_option(x, edge_cut, True, "latency", 0.0) for x in (one, many))
    d1, d30 = (evaluate_option(x, local, True, "latency", 0.0) for x in (one, many))
    stretch = (7 + 1) / 4  # 7 busy tasks on 4 cores: the processor share 4 / 8
    assert e1.latency_s - evaluate_option(one, edge_cut, False, "latency", 0).latency_s == (
        pytest.approx(0.25 * stretch)
    )
    assert e1.edge_energy_j == pytest.approx(131.26 * 0.25 * stretch)
    # the edge repeats everything but the pruning; the device repeats only its inference
    assert e30.latency_s - 0.5 == pytest.approx(30 * (e1.latency_s - 0.5))
    t_inf = float(Sites().device_latency(graph.model_name).node_latency_s(graph).sum())
    assert d30.latency_s == pytest.approx(d1.latency_s + 29 * t_inf)
    assert e30.data_bits == pytest.approx(30 * (INPUT_BITS + RESULT_BITS))
    assert d30.data_bits == pytest.approx(d1.data_bits)


@pytest.mark.parametrize("objective,beta", [("latency", 0.0), ("energy", 0.0), ("weighted", 5.0)])
@pytest.mark.parametrize("load,requests", [(0, 1), (12, 1), (40, 20), (100, 300)])
@pytest.mark.parametrize("rates", [(20e6, 60e6), (400e6, 1e9)])
def test_split_is_the_best_cut(forms, objective, beta, load, requests, rates):
    radio = Radio(*rates, 50.0)
    for model in forms:
        life = lifetime(model, _sites(load), radio, requests)
        for on_demand in (False, True):
            split = best_split(life, on_demand, objective, beta)
            every = [
                evaluate_option(life, cut, on_demand, objective, beta) for cut in model.graph.cuts()
            ]
            best = min(o.objective for o in every)
            assert split.objective == pytest.approx(best, rel=1e-9, abs=1e-12)
            edge, local = every[0], every[-1]
            assert split.objective <= min(edge.objective, local.objective) * (1 + 1e-9)


def test_place_ranks_every_option(forms):
    placement = place(forms, _sites(20), Radio(50e6, 200e6, 50.0), 10, "latency")
    labels = [o.label for o in placement.options]
    assert len(labels) == 3 + 3 * 2  # full: edge, device, split; pruned: x pre-pruned, on demand
    assert placement.best.objective == min(o.objective for o in placement.options)
    assert [o.objective for o in placement.options] == sorted(
        o.objective for o in placement.options
    )
    record = placement.record()
    assert record["best"]["where"] == placement.best.where
    battery = placement.requests_per_battery(placement.best)
    assert battery["embedded"] < battery["smartphone"] < battery["PC"]


def test_pruned_forms_are_faster_where_pruning_shrinks_work(forms):
    """Structured pruning shrinks the device's inference (the variant's profile scales with
    its MACs); the forms differ only by their graphs' names."""
    full, pruned = forms
    sites = Sites()
    t_full = sites.device_latency(full.graph.model_name).node_latency_s(full.graph).sum()
    t_pruned = sites.device_latency(pruned.graph.model_name).node_latency_s(pruned.graph).sum()
    macs = sum(n.macs for n in pruned.graph.nodes) / sum(n.macs for n in full.graph.nodes)
    assert t_pruned < 0.7 * t_full
    assert t_pruned / t_full == pytest.approx(macs, abs=0.25)


def test_bad_requests(forms):
    with pytest.raises(InvalidParameterError, match="edge_load"):
        Sites(edge_load=-1)
    for requests in (0, -3, 2.5, True):
        with pytest.raises(InvalidParameterError, match="requests"):
            place(forms, _sites(0), Radio(50e6, 200e6, 50.0), requests)
