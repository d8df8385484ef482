"""The certified bound on a task-window episode's return against independent computations:
its window-size programme against enumerating every sequence of sizes, each window's bound
against the env's cost of good and random decisions (continuous powers, shared channels), the
episode bound against the best episode enumerated on a tiny instance, and against every
registered decider's return."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from edgesplit.contract import Decision
from edgesplit.errors import InvalidParameterError
from edgesplit.policies.evaluate import run_episode
from edgesplit.policies.planner import WindowPlanner, anytime_plan
from edgesplit.policies.registry import is_learner, make_policy, policy_names
from edgesplit.sim import decision_env
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.window import window_step
from edgesplit.sim.window_bound import WindowBound, cheapest_sizes, episode_bound
from edgesplit.sim.window_env import TaskWindowMECEnv


def _enumerated(costs, tasks) -> float:
    """The least cost over every sequence of window sizes, by recursion."""
    width = costs[0].shape[0] - 1

    def best(t, left):
        if not any(left):
            return 0.0
        if t == len(costs):
            return np.inf
        ranges = [range(1, min(width, q) + 1) if q else range(1) for q in left]
        return min(
            costs[t][w] + best(t + 1, tuple(q - s for q, s in zip(left, w, strict=True)))
            for w in itertools.product(*ranges)
        )

    return best(0, tuple(int(q) for q in tasks))


@pytest.mark.parametrize("trial", range(4))
def test_the_size_programme_equals_every_sequence_enumerated(trial):
    rng = np.random.default_rng(trial)
    tasks = rng.integers(0, 5, 2) + np.array([1, 0])
    costs = [rng.uniform(0.1, 2.0, (4, 4)) for _ in range(int(tasks.max()))]
    for cost in costs:
        cost[0, 0] = 0.0
    assert cheapest_sizes(costs, tasks) == pytest.approx(_enumerated(costs, tasks), rel=1e-12)


def _cost(system, decision, sizes, gain) -> float:
    return -window_step(system, sizes, decision, gain).reward


@pytest.mark.parametrize("preset", ["zhang2026-small", "zhang2026"])
def test_each_window_bound_is_below_good_and_random_decisions(preset):
    """For window sizes w, the env's cost of the planner's plan at the true gains (within a few
    percent of the best), of that plan with its powers moved anywhere, and of random decisions
    (any power, channels shared) is never below the window's bound b(w)."""
    env = TaskWindowMECEnv(preset)
    env.reset(seed=3)
    system, n = env.system, env.system.n_devices
    planner = WindowPlanner(preset)
    rng = np.random.default_rng(0)
    radio = system.scenario.radio
    for gain in env.upcoming_gains(2):
        bound = WindowBound(system, gain).costs()
        for w in [(5,) * n, (1,) * n, tuple(rng.integers(1, 6, n))]:
            sizes = np.array(w)
            problem = planner.known_problem(gain, sizes)
            local = np.zeros((n, 5), dtype=np.int64)
            plan = anytime_plan(problem, [local], None, True, False, 8, None)
            good = problem.decision(sizes, plan.choice)
            assert -plan.value >= bound[w] - 1e-12
            assert _cost(system, good, sizes, gain) >= bound[w] - 1e-12
            for _ in range(30):
                moved = replace(good, power_w=good.power_w * rng.uniform(0.3, 3.0, (n, 5)))
                assert _cost(system, moved, sizes, gain) >= bound[w] - 1e-12
                randomly = Decision(
                    cut=rng.integers(0, system.n_cuts[:, None], (n, 5)), window=sizes,
                    channel=rng.integers(0, radio.channels, (n, 5)),
                    server=rng.integers(0, system.n_servers, (n, 5)),
                    power_w=rng.uniform(0, radio.max_transmit_power_w, (n, 5)),
                )  # fmt: skip
                assert _cost(system, randomly, sizes, gain) >= bound[w] - 1e-12


def _tiny():
    scenario = load_scenario("zhang2026-small")
    devices = [d.model_copy(update={"mean_tasks": 2.5}) for d in scenario.devices]
    reward = scenario.window_reward.model_copy(update={"window_max": 2})
    return scenario.model_copy(update={"devices": devices, "window_reward": reward})


def _best_episode(scenario, seed: int) -> float:
    """The best return over every decision of a tiny instance whose per-task options are local
    only and the planner's first cut on each channel and server at 1 % and 100 % of P_limit:
    every window size and choice at every position, every window, by recursion over the tasks
    left."""
    env = TaskWindowMECEnv(scenario)
    env.reset(seed=seed)
    planner = WindowPlanner(scenario)
    rows = planner.options[0, : planner.n_options[0]]
    power = scenario.radio.max_transmit_power_w
    first = (rows[:, 0] == rows[1, 0]) & np.isin(rows[:, 3], np.float32([0.01 * power, power]))
    pick = np.concatenate([[0], np.flatnonzero(first)])
    keep = len(pick)
    gains = env.upcoming_gains(int(env.remaining.max()))
    memo = {}

    def window_value(t, w):
        problem = replace(
            planner.known_problem(gains[t], np.array(w)),
            options=planner.options[:, pick],
            n_options=np.array([keep, keep]),
        )
        combos = np.array(list(itertools.product(range(keep), repeat=sum(w))))
        choice = np.zeros((len(combos), 2, 2), dtype=np.int64)
        choice[:, 0, : w[0]] = combos[:, : w[0]]
        choice[:, 1, : w[1]] = combos[:, w[0] :]
        return float(problem.evaluate(np.repeat(np.array([w]), len(combos), 0), choice).max())

    def best(t, left):
        if not any(left):
            return 0.0
        if (t, left) not in memo:
            ranges = [range(1, min(2, q) + 1) if q else range(1) for q in left]
            memo[t, left] = max(
                window_value(t, w) + best(t + 1, (left[0] - w[0], left[1] - w[1]))
                for w in itertools.product(*ranges)
            )
        return memo[t, left]

    return best(0, tuple(int(q) for q in env.remaining))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_bound_is_at_least_the_best_episode_enumerated(seed):
    """Two devices with a few tasks, windows of at most 2: the bound is at least the best
    return over every decision built from nine options per task."""
    scenario = _tiny()
    best = _best_episode(scenario, seed)
    bound = episode_bound(scenario, seed).reward
    assert bound >= best - 1e-12
    assert bound < 0


def _deciders(scenario) -> list[str]:
    return [n for n in policy_names("task_window") if not is_learner(n)]


def _bounded(preset: str, seeds) -> None:
    scenario = load_scenario(preset)
    env = decision_env(scenario)
    deciders = {name: make_policy(name, scenario) for name in _deciders(scenario)}
    for seed in seeds:
        bound = episode_bound(scenario, seed).reward
        for name, policy in deciders.items():
            reward = run_episode(policy, env, seed)["reward"]
            assert reward <= bound + 1e-9, (preset, seed, name, reward, bound)


def test_no_decider_scores_above_the_bound():
    """Every registered decider that needs no training, on zhang2026-small seeds 0-1."""
    _bounded("zhang2026-small", range(2))


@pytest.mark.slow  # every decider on 100 + 50 seeds: minutes
@pytest.mark.parametrize(
    ("preset", "first"),
    [("zhang2026-small", s) for s in range(0, 100, 25)]
    + [("zhang2026", s) for s in range(0, 50, 10)],
)
def test_no_decider_scores_above_the_bound_on_many_seeds(preset, first):
    _bounded(preset, range(first, first + (25 if preset == "zhang2026-small" else 10)))


def test_untrained_learners_score_below_the_bound():
    """The learners' untrained networks decide too (seed 0 of zhang2026-small)."""
    scenario = load_scenario("zhang2026-small")
    env = decision_env(scenario)
    bound = episode_bound(scenario, 0).reward
    for name in (n for n in policy_names("task_window") if is_learner(n)):
        assert run_episode(make_policy(name, scenario), env, 0)["reward"] <= bound + 1e-9


def test_a_scenario_the_bound_does_not_cover_is_refused():
    with pytest.raises(InvalidParameterError, match=r"scenario\.devices.*at most 4"):
        episode_bound("zhang2026-100", 0)
