"""The round-based sensor network (mozib Figs. 7-9): LEACH's radio energy against its closed form,
the direct deciders against a per-sensor loop, iLEACH's round against a second implementation,
and the energy books balancing."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.errors import InvalidParameterError
from edgesplit.sim.sensors import (
    RadioEnergy,
    SensorField,
    _clustered_costs,
    simulate_sensors,
)

# a small DNN: cut 0 sends the input, the last cut (all local) the result
HEAD_J = np.array([0.0, 0.004, 0.012, 0.02])
SENT_BITS = np.array([60_000.0, 200_000.0, 20_000.0, 8_000.0])


def _field(**kw) -> SensorField:
    return SensorField(HEAD_J, SENT_BITS, sensors=30, capacity_j=0.3, **kw)


def test_radio_energy_is_leachs_first_order_model():
    radio = RadioEnergy()
    d0 = radio.crossover_m
    assert d0 == pytest.approx(np.sqrt(10e-12 / 0.0013e-12))  # about 87.7 m
    assert radio.transmit_j(1000, 50.0) == pytest.approx(1000 * (50e-9 + 10e-12 * 50**2))
    assert radio.transmit_j(1000, 120.0) == pytest.approx(1000 * (50e-9 + 0.0013e-12 * 120**4))
    # the two regimes meet at the crossover distance
    assert radio.transmit_j(1, d0 * (1 - 1e-9)) == pytest.approx(radio.transmit_j(1, d0), rel=1e-6)
    assert radio.receive_j(1000) == pytest.approx(50e-6)


def _loop_completed(net: SensorField, decider: str, rounds: int, seed: int) -> int:
    """Each sensor alone, round by round: it works while its energy covers one local
    inference; work it cannot pay drains it."""
    rng = np.random.default_rng(seed)
    positions = rng.uniform(0.0, net.side_m, (net.sensors, 2))
    energy = rng.uniform(net.capacity_j / 2, net.capacity_j, net.sensors)
    done = 0
    for i in range(net.sensors):
        d = float(np.hypot(*(positions[i] - np.asarray(net.base_station_m))))
        costs = [HEAD_J[c] + float(net.radio.transmit_j(SENT_BITS[c], d)) for c in range(4)]
        cost = {"local": costs[-1], "edge": costs[0], "edgesplit": min(costs)}[decider]
        e = float(energy[i])
        for _ in range(rounds):
            if e >= HEAD_J[-1]:
                if cost <= e:
                    done += 1
                e = max(e - cost, 0.0)
            e = min(e + net.replenish_j_per_round, net.capacity_j)
    return done


@pytest.mark.parametrize("replenish", [0.0, 0.004])
@pytest.mark.parametrize("decider", ["local", "edge", "edgesplit"])
def test_direct_deciders_match_a_per_sensor_loop(decider, replenish):
    net = _field(replenish_j_per_round=replenish)
    out = simulate_sensors(net, decider, 40, seed=3)
    assert out.completed.sum() == _loop_completed(net, decider, 40, seed=3)


def test_edgesplit_outlives_local_and_edge():
    """Its cut costs each sensor no more than local's or edge's in every round, so every
    sensor's energy stays at least as high: at least as many alive in every round."""
    net = _field()
    runs = {d: simulate_sensors(net, d, 40, seed=1) for d in ("local", "edge", "edgesplit")}
    for other in ("local", "edge"):
        assert np.all(runs["edgesplit"].alive >= runs[other].alive)
        assert runs["edgesplit"].completed.sum() >= runs[other].completed.sum()
    assert runs["edgesplit"].completed.sum() > max(r.completed.sum() for d, r in runs.items()
                                                    if d != "edgesplit")  # fmt: skip


@pytest.mark.parametrize("decider", ["local", "ileach", "edgesplit-clusters"])
def test_without_replenishment_the_energy_books_balance(decider):
    net = _field()
    rng = np.random.default_rng(5)
    rng.uniform(0.0, net.side_m, (net.sensors, 2))
    initial = rng.uniform(net.capacity_j / 2, net.capacity_j, net.sensors).sum()
    out = simulate_sensors(net, decider, 50, seed=5)
    assert initial - out.energy_j[-1].sum() == pytest.approx(out.spent_j.sum(), rel=1e-12)
    assert np.all(np.diff(out.alive) <= 0)  # nobody comes back without replenishment


def _ileach_round_by_hand(net, positions, distance, alive, energy, draws, round_, last_head):
    """iLEACH's round sensor by sensor (the same uniform draws)."""
    p, period, radio = net.cluster_head_share, round(1 / net.cluster_head_share), net.radio
    result, local = SENT_BITS[-1], HEAD_J[-1]
    heads = [
        i for i in range(net.sensors)
        if alive[i] and round_ - last_head[i] >= period
        and draws[i] < p / (1 - p * (round_ % period)) * energy[i] / net.capacity_j
    ]  # fmt: skip
    if not heads:
        heads = [max((i for i in range(net.sensors) if alive[i]), key=lambda i: energy[i])]
    cost = np.full(net.sensors, local)
    members = dict.fromkeys(heads, 0)
    for i in range(net.sensors):
        if not alive[i] or i in members:
            continue
        hops = {h: float(np.hypot(*(positions[i] - positions[h]))) for h in heads}
        head = min(hops, key=hops.get)
        if hops[head] < distance[i]:
            cost[i] += radio.transmit_j(result, hops[head])
            members[head] += 1
        else:
            cost[i] += radio.transmit_j(result, distance[i])
    for h, m in members.items():
        cost[h] += (radio.receive_j(m * result) + (m + 1) * result * radio.fusion_j_per_bit
                    + radio.transmit_j(result, distance[h]))  # fmt: skip
    return cost


def test_an_ileach_round_matches_a_second_implementation():
    net = _field()
    rng = np.random.default_rng(11)
    positions = rng.uniform(0, net.side_m, (net.sensors, 2))
    distance = np.linalg.norm(positions - np.asarray(net.base_station_m), axis=1)
    energy = rng.uniform(0.0, net.capacity_j, net.sensors)
    alive = energy >= HEAD_J[-1]
    direct = HEAD_J[None] + net.radio.transmit_j(SENT_BITS[None], distance[:, None])
    for round_ in (0, 7, 19):
        last_head = np.where(rng.random(net.sensors) < 0.3, round_ - 3, -(10**9))
        draws = np.random.default_rng(round_).random(net.sensors)
        expected = _ileach_round_by_hand(net, positions, distance, alive, energy, draws, round_,
                                         last_head)  # fmt: skip
        got = _clustered_costs(net, positions, distance, direct, alive, energy, last_head.copy(),
                               np.random.default_rng(round_), round_, choose=False)  # fmt: skip
        assert got[alive] == pytest.approx(expected[alive], rel=1e-12)


def test_same_seed_same_rounds_and_clear_refusals():
    net = _field(replenish_j_per_round=0.002)
    a, b = (simulate_sensors(net, "edgesplit-clusters", 30, seed=2) for _ in range(2))
    assert np.array_equal(a.energy_j, b.energy_j) and np.array_equal(a.alive, b.alive)
    with pytest.raises(InvalidParameterError, match="decider='leach'"):
        simulate_sensors(net, "leach", 3, 0)
    with pytest.raises(InvalidParameterError, match="replenish_j_per_round=-1"):
        _field(replenish_j_per_round=-1)
    with pytest.raises(InvalidParameterError, match="head_energy_j"):
        SensorField(HEAD_J[:2], SENT_BITS, sensors=3)
