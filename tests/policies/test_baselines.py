"""The rules a practitioner writes first (``fixed-assignment``, ``near-offload``, ``greedy``):
valid decisions on every zhang2026 preset, each doing what its docstring says, checked against
the simulator's own cost functions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgesplit.contract import WindowState
from edgesplit.policies.registry import make_policy, policy_names
from edgesplit.policies.window import GreedyMarginal
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.window import efficient_cuts, median_gains, task_costs, window_rewards

RULES = ("fixed-assignment", "near-offload", "greedy")


def _first_observation(scenario, seed=0):
    return decision_env(scenario).reset(seed=seed)[0]


def _window_reward(policy, decision, observation):
    """Eq. 8 of a full window of ``decision``'s first position, at the median shadowing."""
    system = policy.system
    state = WindowState.decode(observation, system.n_devices)
    sizes = np.minimum(policy.width, state.remaining)
    costs = task_costs(
        system, np.ones((system.n_devices, 1), bool), decision.cut[:, :1],
        decision.channel[:, :1], decision.server[:, :1], decision.power_w[:, :1],
        median_gains(system, state.distance_m),
    )  # fmt: skip
    energy = (costs.energy_j * sizes[:, None]).sum(axis=0)
    return float(
        window_rewards(policy.scenario, costs.latency_s * sizes[:, None], sizes, energy)[0][0]
    )


@pytest.mark.parametrize("preset", ["zhang2026-small", "zhang2026", "zhang2026-100"])
def test_the_rules_are_registered_and_their_decisions_run(preset):
    assert set(RULES) <= set(policy_names("task_window"))
    scenario = load_scenario(preset)
    for name in RULES:
        env = decision_env(scenario)
        observation, _ = env.reset(seed=1)
        policy = make_policy(name, scenario)
        decision = policy.decide(observation)
        _, reward, *_ = env.step(decision)
        assert np.isfinite(reward), name


def test_fixed_assignment_and_near_offload_do_what_they_say():
    scenario = load_scenario("zhang2026")
    observation = _first_observation(scenario, seed=2)
    fixed, near = make_policy("fixed-assignment", scenario), make_policy("near-offload", scenario)
    system, n = fixed.system, fixed.system.n_devices
    distance = WindowState.decode(observation, n).distance_m
    decided = fixed.decide(observation)
    devices = np.arange(n)
    assert np.array_equal(decided.channel[:, 0], devices % scenario.radio.channels)
    assert np.array_equal(decided.server[:, 0], devices % system.n_servers)
    deepest = [cuts[-1] for cuts in efficient_cuts(system)]
    assert np.array_equal(decided.cut[:, 0], deepest)
    power = decided.power_w[:, 0]
    assert power[np.argmax(distance)] == pytest.approx(scenario.radio.max_transmit_power_w)
    assert np.all(np.diff(power[np.argsort(distance)]) >= 0)  # grows with the distance
    split = near.decide(observation)
    far = distance > np.median(distance)
    assert far.any() and (~far).any()
    assert np.array_equal(split.cut[far, 0], system.n_cuts[far] - 1)  # local
    assert np.array_equal(split.cut[~far, 0], decided.cut[~far, 0])
    assert np.array_equal(split.power_w[~far, 0], power[~far])


@pytest.mark.parametrize("preset", ["zhang2026-small", "zhang2026"])
def test_greedy_improves_on_all_local_and_each_pass_keeps_what_it_had(preset):
    scenario = load_scenario(preset)
    for seed in range(3):
        observation = _first_observation(scenario, seed)
        local = make_policy("local", scenario)
        rewards = []
        for passes in (1, 2, 3):
            greedy = GreedyMarginal(scenario)
            greedy.passes = passes
            rewards.append(_window_reward(greedy, greedy.decide(observation), observation))
        baseline = _window_reward(local, local.decide(observation), observation)
        assert rewards[0] >= baseline - 1e-12
        assert rewards[1] >= rewards[0] - 1e-12 and rewards[2] >= rewards[1] - 1e-12


def test_a_deciders_settings_come_from_text_and_are_checked():
    """``--set budget_s=...`` sets the planner's budget (checked: a finite number > 0); a setting
    a decider does not have is refused naming the decider's settings; evaluate applies --set to
    the listed deciders that have it and refuses one that none has."""
    from typer.testing import CliRunner

    from edgesplit.cli import app
    from edgesplit.errors import InvalidParameterError

    planner = make_policy("planner", "zhang2026-small", settings={"budget_s": "0.25"})
    assert planner.budget_s == 0.25
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(InvalidParameterError, match="--set budget_s"):
            make_policy("planner", "zhang2026-small", settings={"budget_s": bad})
    with pytest.raises(InvalidParameterError, match="planner's settings: budget_s"):
        make_policy("planner", "zhang2026-small", settings={"rounds": "3"})
    with pytest.raises(InvalidParameterError, match="has no settings"):
        make_policy("greedy", "zhang2026-small", settings={"budget_s": "1"})
    runner = CliRunner()
    base = ["evaluate", "--scenario", "zhang2026-small", "--episodes", "1", "--json"]
    ran = runner.invoke(app, [*base, "--policies", "local,planner", "--set", "budget_s=0.5"])
    assert ran.exit_code == 0, ran.output
    labels = [row["policy"] for row in json.loads(ran.stdout)["rows"]]
    assert labels == ["local", "planner (budget_s=0.5)"]
    refused = runner.invoke(app, [*base, "--policies", "local", "--set", "budget_s=0.5"])
    assert refused.exit_code == 1 and "--set" in refused.stderr
