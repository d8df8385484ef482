"""Sweeps give each task's own result, in task order, whichever backend and however many
workers ran them: against the same episodes run one by one in this process."""

from __future__ import annotations

import pytest

from edgesplit.errors import InvalidParameterError
from edgesplit.experiments.harness import scenario_episode
from edgesplit.experiments.sweep import SweepError, run_sweep

TASKS = [
    {"scenario": "zhang2026-small", "policy": policy, "seed": seed}
    for policy in ("local", "repeated-optimum")
    for seed in (0, 3)
]


@pytest.fixture(scope="module")
def serial():
    return [scenario_episode(task) for task in TASKS]


def test_local_workers_give_each_tasks_own_result_in_order(serial):
    assert len({round(r["reward"], 9) for r in serial}) == len(TASKS)  # tasks that differ
    for workers in (1, 2):
        assert run_sweep(scenario_episode, TASKS, workers, show_progress=False) == serial


@pytest.mark.slow  # starts a local Ray instance (seconds)
def test_a_two_task_sweep_on_a_local_ray_instance_equals_the_local_one(serial):
    pytest.importorskip("ray")
    tasks = TASKS[1:3]
    assert run_sweep(scenario_episode, tasks, 2, "ray", show_progress=False) == serial[1:3]


def test_a_failing_task_is_named_and_bad_settings_are_refused():
    bad = {"scenario": "zhang2026-small", "policy": "no-such-policy", "seed": 1}
    with pytest.raises(SweepError, match=r"task .*no-such-policy.* failed"):
        run_sweep(scenario_episode, [TASKS[0], bad], 2, show_progress=False)
    with pytest.raises(InvalidParameterError, match="backend='spark'"):
        run_sweep(scenario_episode, TASKS, backend="spark")
    with pytest.raises(InvalidParameterError, match="workers=0"):
        run_sweep(scenario_episode, TASKS, workers=0)


def test_a_ray_address_that_does_not_answer_is_refused_in_one_line(monkeypatch):
    """Ray retries an address that refuses for minutes; the sweep checks that it accepts a
    connection first (a loopback port nothing listens on) and names RAY_ADDRESS."""
    pytest.importorskip("ray")
    import socket

    import ray

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}", "no-port"):
        monkeypatch.setenv("RAY_ADDRESS", address)
        with pytest.raises(InvalidParameterError, match="RAY_ADDRESS"):
            run_sweep(scenario_episode, TASKS[:1], 1, "ray", show_progress=False)
    assert not ray.is_initialized()
