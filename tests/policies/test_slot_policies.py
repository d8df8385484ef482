"""Slot-style deciders against independent computations: brute force over every joint decision,
the min-cut of the graph layer, and the env's own accounting."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import yaml

from edgesplit.contract import Decision, SlotState
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.slot import Dads, EdgeOnly, LocalOnly, Neurosurgeon, SlotOptimum
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario, parse_scenario
from edgesplit.sim.slot import slot_step


def _small(threads: int = 6, k_min: int = 1, **device) -> object:
    return parse_scenario(
        yaml.safe_load(
            f"""
name: small
style: slot
granularity: block
devices:
  - {{model: resnet34, hardware: jetson-orin-nano, battery_capacity_j: 40}}
  - {{model: mobilenet_v2, hardware: jetson-agx-xavier, battery_capacity_j: 40}}
servers: [{{hardware: i7-12700kf-workstation, threads: [{threads}, {threads}],
            min_threads_per_task: {k_min}}}]
"""
        ),
        "test",
    )


@pytest.mark.parametrize("seed", range(4))
def test_optimum_equals_brute_force(seed):
    scenario = _small(threads=6, k_min=1)
    policy = SlotOptimum(scenario)
    system, rng = policy.system, np.random.default_rng(seed)
    state = SlotState(
        arrivals=rng.uniform(5, 40, 2),
        battery_j=rng.uniform(0, 40, 2),  # small batteries: energy limits bind
        uplink_bps=rng.uniform(2e6, 4e7, 2),
        threads_total=6,
    )
    cuts, threads = policy.solve(state)
    args = (state.arrivals, state.uplink_bps, state.uplink_bps, 0.0)
    best = -np.inf
    for c0, c1 in itertools.product(range(system.n_cuts[0]), range(system.n_cuts[1])):
        for k0 in range(1, 6):
            outcome = slot_step(
                system, state.battery_j, np.array([c0, c1]), np.array([k0, 6 - k0]), *args
            )
            best = max(best, outcome.reward)
    got = slot_step(system, state.battery_j, cuts, threads, *args).reward
    assert threads.sum() == 6 and (threads >= 1).all()
    assert got == pytest.approx(best, abs=1e-12)


def test_dads_is_the_min_cut_of_the_graph():
    from edgesplit.graph import ModelGraph
    from edgesplit.graph.zoo import build_model, example_input
    from edgesplit.plan import Setting, cost_terms
    from edgesplit.profile.catalogue import latency_model

    scenario = _small(threads=12)
    policy = Dads(scenario)
    state = SlotState(np.full(2, 20.0), np.full(2, 40.0), np.array([8e6, 8e6]), 12)
    cuts = policy.cuts(state)
    for n, (model, device) in enumerate(
        [("resnet34", "jetson-orin-nano"), ("mobilenet_v2", "jetson-agx-xavier")]
    ):
        graph = ModelGraph.from_module(build_model(model), example_input(model), "block")
        setting = Setting(
            latency_model(device, model),
            latency_model("i7-12700kf-workstation", model, threads=6),  # the equal share
            8e6,
            0.0,
            0.0,
        )
        best = graph.best_cut(cost_terms(graph, setting).latency)
        table_latency = (
            policy.system.head_s + policy.system.transfer_bits / 8e6 + policy.system.tail_s[:, 6]
        )[policy.system.row_offset[n] : policy.system.row_offset[n] + policy.system.n_cuts[n]]
        # the same optimum (ties: the same latency)
        index = graph.cut_table().index_of(best.device_mask)
        assert table_latency[index] == pytest.approx(table_latency[cuts[n]], rel=1e-9)


def test_neurosurgeon_takes_single_tensor_cuts_only():
    scenario = _small(threads=12).model_copy(update={"granularity": "operator"})
    policy = Neurosurgeon(scenario)
    system = policy.system
    state = SlotState(np.full(2, 20.0), np.full(2, 40.0), np.array([3e7, 3e7]), 12)
    cuts = policy.cuts(state)
    rows = system.row_offset + cuts
    assert (system.crossing_count[rows] <= 1).all()
    assert (system.crossing_count > 1).any()  # operator granularity has multi-tensor cuts
    for n in range(2):
        own = np.arange(system.row_offset[n], system.row_offset[n] + system.n_cuts[n])
        single = own[system.crossing_count[own] <= 1]
        latency = (
            system.head_s[single] + system.transfer_bits[single] / 3e7 + system.tail_s[single, 12]
        )
        assert system.head_s[rows[n]] + system.transfer_bits[rows[n]] / 3e7 + system.tail_s[
            rows[n], 12
        ] == pytest.approx(latency.min())


@pytest.mark.parametrize("allocator", ["ta", "bs", "equal", "utility"])
def test_policies_drive_the_env_and_respect_the_constraints(allocator):
    env = decision_env(load_scenario("shi2025-5g"))
    obs, _ = env.reset(seed=1)
    k_min = env.unwrapped.scenario.servers[0].min_threads_per_task
    for policy in (LocalOnly, EdgeOnly, Dads):
        decider = policy("shi2025-5g", allocator=allocator)
        decision = decider.decide(obs)
        assert decision.threads.sum() == obs[-1] and (decision.threads >= k_min).all()
        obs, _, _, _, info = env.step(decision)
        assert np.array_equal(info["cut"], decision.cut)
        assert np.array_equal(info["threads"], decision.threads)


def test_optimum_beats_every_baseline_each_slot():
    env = decision_env(load_scenario("shi2025-wifi"))
    system = env.unwrapped.system
    obs, _ = env.reset(seed=3)
    policies = [p("shi2025-wifi") for p in (LocalOnly, EdgeOnly, Dads, Neurosurgeon)]
    policies += [Dads("shi2025-wifi", allocator="utility")]
    optimum = SlotOptimum("shi2025-wifi")
    for _ in range(5):
        state = SlotState.decode(obs, 3)
        args = (state.arrivals, state.uplink_bps, state.uplink_bps, 0.0)
        best = optimum.decide(obs)
        best_u = slot_step(system, state.battery_j, best.cut, best.threads, *args).reward
        for p in policies:
            d = p.decide(obs)
            u = slot_step(system, state.battery_j, d.cut, d.threads, *args).reward
            assert u <= best_u + 1e-12
        obs, *_ = env.step(best)


def test_bad_decisions_are_refused_clearly():
    env = decision_env(load_scenario("shi2025-wifi"))
    env.reset(seed=0)
    with pytest.raises(InvalidParameterError, match=r"decision='no threads'"):
        env.step(Decision(cut=np.array([0, 1, 1])))
    with pytest.raises(InvalidParameterError, match=r"action.threads=\[-1, 1, 1\].*one count per"):
        env.step(Decision(cut=np.array([1, 1, 1]), threads=np.array([-1, 1, 1])))
    with pytest.raises(InvalidParameterError, match="slot for policy local"):
        LocalOnly("zhang2026")
