"""``edgesplit live``: the world model re-targeted to this host, the controller's rules
(hysteresis, least expected completion), a real run on 127.0.0.1 with a server killed and
brought back, and the command's refusals."""

from __future__ import annotations

import itertools
import socket

import numpy as np
import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.contract import SlotState
from edgesplit.errors import InvalidParameterError
from edgesplit.profile.catalogue import device_powers
from edgesplit.runtime.live import (
    Fault,
    LiveConfig,
    keep_cuts,
    live_scenario,
    run_live,
    server_loads,
)
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.slot import build_slot_system, slot_step


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("kill-server@3", Fault("kill-server", 3.0, None)),
        ("kill-server@3:4.5", Fault("kill-server", 3.0, 4.5)),
        ("drop@0.25", Fault("drop", 0.0, 0.25)),
        ("slow-link@10:5", Fault("slow-link", 10.0, 5.0)),
    ],
)
def test_faults_parse_and_print_back(text, fault):
    assert Fault.parse(text) == fault
    assert str(Fault.parse(text)) == text


@pytest.mark.parametrize(
    "text", ["kill-server", "drop@1.5", "slow-link@3", "slow-link@3:0", "melt@2", "drop@x"]
)
def test_bad_faults_are_refused_by_name(text):
    with pytest.raises(InvalidParameterError, match="--fault"):
        Fault.parse(text)


def test_the_live_scenario_keeps_the_task_rate_the_powers_and_each_link():
    preset = load_scenario("shi2025-wifi")
    live = live_scenario(preset, 5, 2.0, "epyc2", 2)
    kinds = [d for d in preset.devices for _ in range(d.count)]
    assert len(live.devices) == 5 and live.slot_s == 2.0
    for i, device in enumerate(live.devices):
        original = kinds[i % len(kinds)]
        assert device.model == original.model and device.hardware == "epyc2"
        low, high = original.arrivals_per_slot
        rate = np.array(device.arrivals_per_slot) / live.slot_s
        np.testing.assert_allclose(rate, np.array([low, high]) / preset.slot_s)
        powers = device_powers(original.hardware)
        assert device.compute_power_w == powers["compute_power_w"]
        assert device.transmit_power_w == powers["transmit_power_w"]
        assert device.uplink == preset.uplink and device.input_bits is None
    assert live.servers[0].threads == (2, 2)
    assert live.servers[0].min_threads_per_task * 5 <= 2  # K(t) covers k_min for everyone
    assert live.runtime is not None and live.runtime.link == "epyc2"
    with pytest.raises(InvalidParameterError, match="slot-style"):
        live_scenario(load_scenario("zhang2026"), 2, 2.0, "epyc2", 2)


def test_least_expected_completion_balances_and_avoids_a_backlog():
    world = build_slot_system(live_scenario(load_scenario("live-demo"), 4, 2.0, "epyc2", 2))
    cuts = np.zeros(4, dtype=np.int64)  # everyone sends the input
    threads = np.ones(4, dtype=np.int64)
    arrivals = np.full(4, 4.0)
    chosen = server_loads(world, cuts, threads, arrivals, [0.0, 0.0])
    work = arrivals * world.tail_s[world.row_offset + cuts, threads]
    loads = [work[chosen == s].sum() for s in (0, 1)]
    # the greedy split is within one device's work of even
    assert abs(loads[0] - loads[1]) <= work.max() + 1e-12
    assert set(chosen) == {0, 1}
    # a server whose backlog exceeds all the work gets none of it
    assert (server_loads(world, cuts, threads, arrivals, [work.sum() + 1.0, 0.0]) == 1).all()
    local = world.n_cuts - 1
    assert (server_loads(world, local, threads, arrivals, [0.0, 0.0]) == -1).all()


def test_hysteresis_keeps_the_previous_cuts_unless_the_gain_exceeds_the_margin():
    world = build_slot_system(live_scenario(load_scenario("live-demo"), 2, 2.0, "epyc2", 2))
    state = SlotState(np.array([4.0, 4.0]), world.capacity_j.copy(), np.array([15e6, 1e9]), 2)
    local = (world.n_cuts - 1, np.array([0, 2]))
    offload = (np.array([world.n_cuts[0] - 1, 0]), np.array([0, 2]))

    def reward(candidate):
        cuts, threads = candidate
        return slot_step(world, state.battery_j, cuts, threads, state.arrivals,
                         state.uplink_bps, state.uplink_bps, 0.0).reward  # fmt: skip

    gain = (reward(offload) - reward(local)) / abs(reward(offload))
    assert gain > 0  # at 1 Gbit/s the server's two threads beat the device's one
    below, above = gain * 1.01, gain * 0.99
    assert keep_cuts(world, state, local, offload, below)[1]
    chosen, kept = keep_cuts(world, state, local, offload, above)
    assert not kept and np.array_equal(chosen[0], offload[0])
    assert not keep_cuts(world, state, None, offload, 1.0)[1]  # nothing to keep yet


def test_a_live_run_accounts_for_every_task_through_a_server_killed_and_restarted():
    """Edge-only decisions; the server dies at 3 s (tasks in flight finish locally) and comes
    back 1 s later (it then needs seconds to load its models); offloading resumes."""
    config = LiveConfig(
        "live-demo", "eo+ta", devices=2, duration_s=24.0, slot_s=2.0, seed=3,
        faults=(Fault.parse("kill-server@3:1"),), hysteresis=0.0, timeout_s=2.0, retry_s=0.5,
    )  # fmt: skip
    report = run_live(config)
    totals = report["totals"]
    assert totals["devices_finished"] == 2
    assert totals["done"] == totals["arrived"] == sum(sum(d["tasks"]) for d in report["decisions"])
    assert totals["offloaded"] + totals["local"] == totals["done"]
    tasks = report["tasks"]
    for device in (0, 1):
        slots = [t["slot"] for t in tasks if t["device"] == device]
        per_slot = [d["tasks"][device] for d in report["decisions"]]
        assert [len(list(g)) for _, g in itertools.groupby(slots)] == [n for n in per_slot if n]
    decisions = report["decisions"]
    down = [d["slot"] for d in decisions if not d["healthy_servers"]]
    assert down and down[0] == 2  # the first slot after the kill
    assert all(d["cut"] == [1, 1] for d in decisions if d["healthy_servers"])
    failed = [t for t in tasks if t["fallback"] is not None]
    assert failed and {t["fallback"] for t in failed} <= {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    assert all(t["slot"] == 1 for t in failed)  # only the slot the server died in
    back = [d["slot"] for d in decisions if d["healthy_servers"] and d["slot"] > down[0]]
    assert back, "the restarted server never answered its health check"
    resumed = [t for t in tasks if t["slot"] >= back[0]]
    assert resumed and all(t["offloaded"] for t in resumed)


def _code_and_output(args):
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["live", "--scenario", "zhang2026"], "slot-style"),
        (["live", "--fault", "melt@2"], "--fault"),
        (["live", "--devices", "0"], "--devices"),
        (["live", "--policy", "nosuch"], "policy"),
        (["live", "--policy", "ddp+ta"], "policy.pt"),
        (["live", "--duration", "-1"], "--duration"),
        (["serve", "--models", "resnet18", "--token-file", "/nonexistent/token"], "token"),
        (["serve"], "--models"),
        (["serve", "--config", "/nonexistent.yaml"], "--config"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(args, says):
    code, output = _code_and_output(args)
    assert code == 1
    assert says in output and "Traceback" not in output


def test_a_checkpoint_for_another_scenario_is_refused(tmp_path):
    from edgesplit.policies.ddpg import DDPPolicy

    path = tmp_path / "policy.pt"
    DDPPolicy("shi2025-5g").save(path)
    code, output = _code_and_output(
        ["live", "--scenario", "live-demo", "--devices", "2", "--policy", f"ddp+ta={path}"]
    )
    assert code == 1 and "checkpoint" in output and "Traceback" not in output


def test_serve_on_a_port_in_use_is_one_line_and_exit_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, output = _code_and_output(
            ["serve", "--models", "resnet18", "--port", str(port), "--input-size", "64"]
        )
    assert code == 1 and "--port" in output and "Traceback" not in output
