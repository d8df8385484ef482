"""``edgesplit live``: the world model re-targeted to this host, the controller's rules
(hysteresis, least expected completion), real runs of the three roles launched on 127.0.0.1
with a server killed and brought back, and the command's refusals."""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.contract import SlotState
from edgesplit.errors import InvalidParameterError, ProfileError
from edgesplit.profile.catalogue import device_powers
from edgesplit.runtime.faults import Fault
from edgesplit.runtime.hosts import HOST, live_scenario  # HOST's profiles cost the same anywhere
from edgesplit.runtime.launcher import LiveConfig, run_live
from edgesplit.runtime.world import keep_cuts, server_loads
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.slot import build_slot_system, slot_step


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("kill-server@3", Fault("kill-server", 3.0)),
        ("kill-server@3:4.5", Fault("kill-server", 3.0, back_s=4.5)),
        ("kill-device@2:1", Fault("kill-device", 2.0, device=1)),
        ("kill-device@2:1:3", Fault("kill-device", 2.0, device=1, back_s=3.0)),
        ("drop@0.25", Fault("drop", value=0.25)),
        ("slow-link@10:5", Fault("slow-link", 10.0, value=5.0)),
    ],
)
def test_faults_parse_and_print_back(text, fault):
    assert Fault.parse(text) == fault
    assert str(Fault.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "kill-server",
        "drop@1.5",
        "slow-link@3",
        "slow-link@3:0",
        "melt@2",
        "drop@x",
        "kill-device@2",
        "kill-device@2:1.5",
        "kill-server@nan",
        "kill-server@-1",
    ],
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
    time_slot = load_scenario("zhang2026").model_copy(update={"style": "time_slot"})
    with pytest.raises(InvalidParameterError, match="task_window"):
        live_scenario(time_slot, 2, 2.0, "epyc2", 2)
    window = live_scenario(load_scenario("zhang2026-small"), 3, 2.0, "epyc2", 2)
    assert [d.hardware for d in window.devices] == ["epyc2"] * 3
    assert [(s.hardware, s.count) for s in window.servers] == [("epyc2", 2)]


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


def _check_accounting(report):
    """Every task decided was run and reported, in its step's order, and is counted once."""
    totals = report["totals"]
    assert totals["devices_finished"] == report["devices"]
    assert totals["not_run"] == 0 and totals["on_its_own"] == 0
    assert totals["done"] == totals["decided"] == sum(sum(d["tasks"]) for d in report["decisions"])
    assert totals["offloaded"] + totals["local"] == totals["done"]
    for device in range(report["devices"]):
        steps = [t["step"] for t in report["tasks"] if t["device"] == device]
        per_step = [d["tasks"][device] for d in report["decisions"]]
        assert [len(list(g)) for _, g in itertools.groupby(steps)] == [n for n in per_step if n]


def _killed(restart: str, duration_s: float):
    """Edge-only decisions on live-demo; the server dies at 3 s (mid-slot 2)."""
    config = LiveConfig(
        "live-demo", "eo+ta", devices=2, duration_s=duration_s, slot_s=2.0, seed=3, hardware=HOST,
        faults=(Fault.parse(f"kill-server@3{restart}"),), hysteresis=0.05, timeout_s=2.0,
        retry_s=0.5,
    )  # fmt: skip
    report = run_live(config)
    _check_accounting(report)
    decisions, tasks = report["decisions"], report["tasks"]
    down = [d["step"] for d in decisions if not d["healthy_servers"]]
    assert down and down[0] == 2  # the first slot after the kill
    assert all(d["cut"] == [0, 0] for d in decisions if d["healthy_servers"])
    assert all(d["cut"] == [25, 22] for d in decisions if not d["healthy_servers"])
    failed = [t for t in tasks if t["fallback"] is not None]
    assert failed and {t["fallback"] for t in failed} <= {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
    assert all(t["step"] == 1 for t in failed)  # only the slot the server died in
    return report, down


@pytest.mark.slow  # test_faults kills a server under a client, test_control the three roles
def test_a_live_run_accounts_for_every_task_through_a_killed_server():
    _, down = _killed("", 8.0)
    assert down == [2, 3]  # it stays down


@pytest.mark.slow  # a restarted server loads its models: seconds, more on a busy machine
def test_offloading_resumes_when_the_killed_server_is_back():
    """The forced all-local cuts of the outage never become the decision hysteresis keeps:
    once the server answers again, the policy's cuts (edge only) come back."""
    report, down = _killed(":1", 40.0)
    decisions, tasks = report["decisions"], report["tasks"]
    back = [d["step"] for d in decisions if d["healthy_servers"] and d["step"] > down[0]]
    assert back, "the restarted server never answered"
    assert all(decisions[s]["why"] == "policy" for s in back)
    resumed = [t for t in tasks if t["step"] >= back[0]]
    assert resumed and all(t["offloaded"] for t in resumed)


@pytest.mark.slow  # a restarted controller loads its world model: seconds
def test_a_killed_controller_comes_back_on_its_journal_and_no_task_is_lost():
    """The controller dies at 5 s and is back 3 s later: the agents repeat the last decision
    for the lease, then run locally, register again and send what they kept; the controller
    decides the later slots; every decided task was run."""
    report = run_live(
        LiveConfig("live-demo", "eo+ta", devices=2, duration_s=24.0, seed=4, hysteresis=0.0,
                   hardware=HOST, faults=(Fault.parse("kill-controller@5:3"),))
    )  # fmt: skip
    totals, tasks = report["totals"], report["tasks"]
    assert totals["not_run"] == 0 and totals["devices_finished"] == 2
    steps = [d["step"] for d in report["decisions"]]
    assert steps[:3] == [0, 1, 2] and max(steps) == 11  # decided before and after
    by = {t["decided_by"] for t in tasks}
    assert {"controller", "lease"} <= by
    assert all(row["registrations"] >= 2 for row in report["per_device"])
    for device in (0, 1):  # every slot of the run has its device's tasks, whoever decided
        ran = {t["step"] for t in tasks if t["device"] == device}
        assert ran == set(range(12)), sorted(ran)


def _code_and_output(args):
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["live", "--scenario", "zhang2026-small", "--servers", "1"], "--servers"),
        (["live", "--fault", "melt@2"], "--fault"),
        (["live", "--devices", "0"], "--devices"),
        (["live", "--policy", "nosuch"], "policy"),
        (["live", "--policy", "ddp+ta"], "policy.pt"),
        (["live", "--duration", "-1"], "--duration"),
        (
            [
                "live",
                "--scenario",
                "zhang2026-small",
                "--policy",
                "planner",
                "--set",
                "budget_s=-1",
            ],
            "--set budget_s",
        ),
        (["live", "--set", "budget_s=1"], "--set budget_s"),
        (["testbed", "run", "--set", "nope"], "--set"),
        (
            ["controller", "--policy", "planner", "--scenario", "zhang2026", "--set", "x=1"],
            "--set x",
        ),
        (["serve", "--models", "resnet18", "--token-file", "/nonexistent/token"], "token"),
        (["serve"], "--models"),
        (["serve", "--config", "/nonexistent.yaml"], "--config"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(args, says):
    code, output = _code_and_output(args)
    assert code == 1
    assert says in output and "Traceback" not in output


def test_a_deciders_setting_reaches_the_controllers_policy_and_label():
    """`--set budget_s=0.25` of `live`, `testbed` and `controller` is the planner's budget
    where the controller builds it, and the report's label says so."""
    from edgesplit.runtime.controller import Controller, ControllerConfig

    made = Controller(
        ControllerConfig(
            "zhang2026-small", "planner", devices=2, settings=(("budget_s", "0.25"),), hardware=HOST
        )
    )
    assert made.label == "planner (budget_s=0.25)"
    assert made.world.policy.budget_s == 0.25


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


@pytest.mark.slow  # two servers with their lanes: the heaviest of the loopback runs
def test_a_live_task_window_run_moves_tasks_off_a_dead_server_and_accounts_for_all():
    """zhang2026's windows on two servers: the first launched dies at 1 s; tasks in flight finish
    locally, later windows put its tasks on the other; every dispatched task is done and
    the rest are counted as not dispatched."""
    config = LiveConfig(
        "zhang2026-small", "agilenn", devices=2, duration_s=12.0, seed=2, hardware=HOST,
        faults=(Fault.parse("kill-server@1"),), timeout_s=2.0, retry_s=0.5,
    )  # fmt: skip
    report = run_live(config)
    assert report["style"] == "task_window" and report["servers"] == 2
    _check_accounting(report)
    totals, decisions, tasks = report["totals"], report["decisions"], report["tasks"]
    assert totals["not_dispatched"] == sum(decisions[-1]["remaining"])
    for t in tasks:  # each task ran as pushed: its cut, and its server when it offloaded
        decided = decisions[t["step"]]
        position = [u for u in tasks if u["device"] == t["device"] and u["step"] == t["step"]]
        k = position.index(t)
        assert t["cut"] == decided["cut"][t["device"]][k]
        if t["offloaded"]:
            assert t["server"] == decided["server"][t["device"]][k]
    # the killed server, as the controller numbers the servers (in the order they registered)
    dead = report["server_addresses"].index(report["launched_servers"][0])
    after = [d for d in decisions if d["healthy_servers"] == [1 - dead]]
    assert after, "the killed server was never seen down"
    for d in after:
        assert all(s == 1 - dead for row in d["server"] for s in row)
    failed = {t["fallback"] for t in tasks if t["fallback"] is not None}
    assert failed <= {"UNAVAILABLE", "DEADLINE_EXCEEDED"}


def test_a_learner_decides_live_in_its_own_units_with_the_live_servers_threads(tmp_path):
    """A policy file trained on the preset: its cuts come from the preset's observation (its
    slot's arrivals, its server's threads); the threads from its allocator on this server."""
    from edgesplit.policies.ddpg import DDPPolicy
    from edgesplit.runtime.controller import Controller, ControllerConfig

    path = tmp_path / "policy.pt"
    DDPPolicy("live-demo", seed=4).save(path)
    config = ControllerConfig("live-demo", f"ddp+ta={path}", slot_s=1.0, hardware=HOST)
    controller = Controller(config)
    world = controller.world
    state = world.observe([None, None])
    cuts, threads, why = world.decide(state, [0])
    preset = load_scenario("live-demo")
    seen = SlotState(state.arrivals * preset.slot_s / 1.0, state.battery_j, state.uplink_bps, 2)
    assert np.array_equal(cuts, world.policy.decide(seen.encode()).cut)
    assert threads.sum() == controller.cores and why == "policy"


@pytest.fixture
def another_cpu(tmp_path, monkeypatch):
    """This machine as a CPU without shipped profiles, with an empty cache."""
    import edgesplit.profile.measure as measure
    import edgesplit.runtime.hosts as hosts

    real = measure.machine_description
    for module in (measure, hosts):  # where it is defined and where live asks
        monkeypatch.setattr(
            module, "machine_description", lambda device: {**real(device), "cpu": "Another CPU"}
        )
    monkeypatch.setenv("EDGESPLIT_CACHE", str(tmp_path))
    return tmp_path


def test_another_machine_gets_its_own_profiles_measured_once(another_cpu):
    """On a CPU other than the profiled one, live measures this machine's profiles of the
    scenario's models into the cache, once, and only what predictions use (every node and the
    whole model at each thread count, no cut's head and tail); cost tables build from them."""
    from edgesplit.costs import TableSpec, load_table
    from edgesplit.profile.catalogue import hardware_profile
    from edgesplit.profile.measure import available_cores
    from edgesplit.runtime.hosts import host_hardware

    said: list[str] = []
    host = host_hardware(("resnet18",), 32, said.append)
    assert host.hardware.startswith(str(another_cpu / "profiles" / "host-")) and not host.pending
    assert "Another CPU" in host.note
    assert said and all(line.startswith("profiling this machine: resnet18 (1/1)") for line in said)
    profile, device = hardware_profile(host.hardware, "resnet18")
    assert device == "cpu" and profile.machine["cpu"] == "Another CPU" and not profile.cuts
    cores = available_cores()
    assert set(profile.cpu) == {2**i for i in range(8) if 2**i <= cores} | {cores}
    assert all(m.per_node_s is not None and not m.head for m in profile.cpu.values())
    noisy = [k for k, measured in profile.cpu.items() if measured.noisy]
    said.clear()
    again = host_hardware(("resnet18",), 32, said.append)
    assert again.hardware == host.hardware
    assert bool(said) == bool(noisy)  # a noisy setting is measured again, nothing else
    profile, _ = hardware_profile(host.hardware, "resnet18")
    spec = TableSpec("resnet18", host.hardware, 1, host.hardware, "block", "nodes", 32)
    if any(measured.noisy for measured in profile.cpu.values()):  # still noisy: refused
        with pytest.raises(ProfileError, match=r"flagged noisy.*measure it again"):
            load_table(spec)
        return
    table = load_table(spec)
    assert table.n_cuts > 2 and np.isfinite(table.head_s).all()


def test_an_interrupted_measurement_keeps_each_thread_count_it_finished(another_cpu):
    from edgesplit.profile.data import load_profile_file
    from edgesplit.profile.measure import available_cores
    from edgesplit.runtime.hosts import measure_host_profiles

    if available_cores() < 2:
        pytest.skip("needs 2 cores (two thread counts)")
    folder = another_cpu / "host"
    said: list[str] = []

    def interrupt_at_two_threads(line: str) -> None:
        said.append(line)
        if "2 threads" in line:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        measure_host_profiles(("resnet18",), 32, folder, (1, 2), interrupt_at_two_threads)
    kept = load_profile_file(folder / "resnet18.json")
    assert set(kept.cpu) == {1} and any("1 threads" in line for line in said)
    said.clear()
    measure_host_profiles(("resnet18",), 32, folder, (1, 2), said.append)
    assert said and not any("1 threads" in line for line in said)
    assert any("2 threads" in line for line in said)
    done = load_profile_file(folder / "resnet18.json")
    assert set(done.cpu) == {1, 2} and done.cpu[1] == kept.cpu[1]


def test_profile_resume_continues_the_file_and_refuses_another_model(tmp_path):
    from edgesplit.profile.data import load_profile_file

    out = tmp_path / "p.json"
    base = ["profile", "resnet18", "--input-size", "32", "--repeats", "1", "--warmup", "0",
            "--cuts", "2", "--out", str(out)]  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(app, [*base, "--threads", "1"]).exit_code == 0
    first = load_profile_file(out)
    result = runner.invoke(app, [*base, "--threads", "1,2", "--resume"])
    assert result.exit_code == 0, result.output
    both = load_profile_file(out)
    assert set(both.cpu) == {1, 2} and both.cpu[1] == first.cpu[1]
    other = runner.invoke(
        app,
        ["profile", "mobilenet_v2", "--input-size", "32", "--repeats", "1", "--warmup", "0",
         "--cuts", "2", "--out", str(out), "--resume"],
    )  # fmt: skip
    assert other.exit_code != 0 and "it is of resnet18" in other.output


def _derived_controller(folder):
    """A --derive-first controller on a CPU without shipped profiles, three slots into its run
    (journaled), with the profiles it waits for not measured yet."""
    from edgesplit.runtime.controller import Controller, ControllerConfig

    preset = load_scenario("live-demo").model_copy(update={"input_size": 32})
    config = ControllerConfig(
        preset, "optimum", 2, journal=str(folder / "journal"), derive_first=True
    )
    controller = Controller(config)
    derived = controller.hardware
    controller._write("begin", {"run_id": controller.run_id, "begin": 1.0, "hardware": derived})
    for step in range(3):
        controller._write("step", {"step": step, "start": 1.0 + step, "up": [], "backlog": [],
                                   "measured": [None, None]})  # fmt: skip
        controller._decide(step, 1.0 + step, [], [], [None, None])
    controller._switch_when_measured(3, lambda _: None)
    assert controller.switched is None  # nothing measured yet
    return config, controller


def test_a_controller_starts_on_derived_profiles_and_switches_to_the_measured_ones(another_cpu):
    """--derive-first: the world model starts at once on profiles derived from the shipped
    ones; once this host's are complete it takes them over mid-run with the run's state, says
    so, and a controller restarted on the journal switches at the same step. (The "measured"
    profiles here are the derived ones times 2, written by the test, so that the switched
    predictions can be checked against an independent number.)"""
    from edgesplit.costs import TableSpec, load_table
    from edgesplit.profile.catalogue import hardware_profile
    from edgesplit.profile.data import save_profile
    from edgesplit.runtime.controller import Controller

    config, controller = _derived_controller(another_cpu)
    derived, pending = controller.hardware, controller.pending
    assert derived.endswith("derived") and pending and "derived from epyc2" in controller.host_note
    for model in controller.models:
        profile, _ = hardware_profile(derived, model)
        assert profile.source == "derived" and "derived_from" in profile.machine
        save_profile(profile.scaled(2.0, profile.machine, "x2"), Path(pending) / f"{model}.json")
    before = controller.world.env.get_state()
    said: list[str] = []
    controller._switch_when_measured(3, said.append)
    assert controller.switched == {"step": 3, "from": derived, "to": pending}
    assert controller.hardware == pending and "from step 4 on its own measured" in (
        controller.host_note
    )
    after = controller.world.env.get_state()
    assert after["slot"] == before["slot"] == 3
    assert np.array_equal(after["battery_j"], before["battery_j"])
    table = controller.world.system.tables[0]
    spec = TableSpec("mobilenet_v2", derived, 1, derived, "block", "nodes", 32)
    assert np.allclose(table.head_s, 2.0 * load_table(spec).head_s)
    controller.journal.close()
    again = Controller(config)
    assert again.resumed and again.switched == controller.switched
    assert again.hardware == pending and again.pending is None
    assert again.world.env.get_state()["slot"] == 3
    assert np.array_equal(again.world.system.tables[0].head_s, table.head_s)


@pytest.mark.slow  # measures two models in a process of its own: seconds, more when loaded
def test_the_measurement_beside_a_run_is_a_process_of_its_own(another_cpu):
    """What a --derive-first run starts beside itself measures this host's profiles to the end
    in its own process; the controller switches to them only if planning accepts them (a
    setting measured noisy on a loaded machine is not)."""
    from edgesplit.profile.data import load_profile_file
    from edgesplit.profile.measure import available_cores
    from edgesplit.runtime.hosts import host_profiles_complete, host_threads

    _, controller = _derived_controller(another_cpu)
    pending = Path(controller.pending)
    controller._measure_pending()
    controller._switch_when_measured(3, lambda _: None)  # still measuring: nothing changes
    assert controller.switched is None and controller.pending == str(pending)
    controller.measuring.join(300)
    assert controller.measuring.exitcode == 0
    threads = host_threads(available_cores())
    for model in controller.models:
        assert set(load_profile_file(pending / f"{model}.json").cpu) == set(threads)
    trusted = host_profiles_complete(pending, controller.models, threads)
    controller._switch_when_measured(3, lambda _: None)
    assert (controller.switched is not None) == trusted
    assert trusted or "measuring this host failed" in controller.host_note


def test_a_run_that_cannot_fit_in_memory_is_refused_before_anything_starts(monkeypatch):
    import edgesplit.runtime.launcher as launcher

    monkeypatch.setattr(launcher, "available_memory_bytes", lambda: 2**30)
    started = []
    monkeypatch.setattr(launcher.Role, "start", lambda role: started.append(role.name))
    with pytest.raises(InvalidParameterError, match=r"fits in memory.*1\.0 GiB are free"):
        run_live(LiveConfig("live-demo", "optimum", devices=3, hardware=HOST))
    assert started == []


_FORKS_WHILE_BUSY = """
import subprocess, threading, time
import edgesplit  # noqa: F401  (sets gRPC's fork support off before grpc is imported)
import grpc
from concurrent import futures
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

server = grpc.server(futures.ThreadPoolExecutor(4))
health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
port = server.add_insecure_port("127.0.0.1:0")
server.start()
channel = grpc.insecure_channel(f"127.0.0.1:{port}")
stub = health_pb2_grpc.HealthStub(channel)
stop = threading.Event()

def busy():
    while not stop.is_set():
        stub.Check(health_pb2.HealthCheckRequest(), timeout=2)

threads = [threading.Thread(target=busy) for _ in range(2)]
for thread in threads:
    thread.start()
failed = 0
for _ in range(400):
    done = subprocess.run(["/bin/true"], preexec_fn=lambda: None, capture_output=True)
    failed += done.returncode != 0 or b"epoll" in done.stderr
stop.set()
for thread in threads:
    thread.join()
channel.close()
server.stop(0)
print(failed)
"""


def test_children_started_while_grpc_is_busy_reach_exec():
    """The launcher starts every role with subprocess.Popen(preexec_fn=...) from a process whose
    gRPC channels are busy. With gRPC's fork support on, its handlers restart the poller in the
    child before exec and about 3 % of such children die of "epoll_wait error: Bad file
    descriptor" (grpc/grpc#43055; measured: 134 of 4,698), and this script hangs. Importing
    edgesplit turns it off: 400 children, none lost, in about 2 s."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _FORKS_WHILE_BUSY], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
