"""The control plane: the committed messages match their .proto, the clock offset of NTP's four
timestamps, version and token checks, and the three roles started by hand (a controller, an
edge server registering itself, device agents with a clock of their own) running a run that
accounts for every task."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest

from edgesplit.runtime.agent import AgentConfig, run_agents
from edgesplit.runtime.client import DeviceModel
from edgesplit.runtime.control import PROTOCOL, ControlStub, best_offset, clock_offset
from edgesplit.runtime.controller import Controller, ControllerConfig
from edgesplit.runtime.hosts import HOST  # the shipped profiles: a test costs the same on any CPU
from edgesplit.runtime.proto import control_pb2 as pb
from edgesplit.runtime.registration import ServerRegistration
from edgesplit.runtime.server import EdgeServer, ServerConfig
from edgesplit.runtime.transport import Security, open_channel

ROOT = Path(__file__).resolve().parents[2]
PROTO = ROOT / "src" / "edgesplit" / "runtime" / "proto"


def test_the_committed_messages_are_what_the_proto_generates(tmp_path):
    (tmp_path / "edgesplit" / "runtime" / "proto").mkdir(parents=True)
    source = tmp_path / "edgesplit" / "runtime" / "proto" / "control.proto"
    source.write_text((PROTO / "control.proto").read_text())
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{tmp_path}", f"--python_out={tmp_path}",
         f"--pyi_out={tmp_path}", str(source)],
        check=True,
    )  # fmt: skip
    for name in ("control_pb2.py", "control_pb2.pyi"):
        assert (source.parent / name).read_text() == (PROTO / name).read_text(), name


def test_the_clock_offset_of_a_round_trip_is_ntps():
    """An agent clock 1000 s behind, 30 ms out and 10 ms back, 5 ms at the controller: the
    offset is 1000 s less half the asymmetry, the delay the 40 ms on the wire."""
    sample = pb.ClockSample(sent_s=5.0, received_s=1005.03, replied_s=1005.035, returned_s=5.045)
    offset, delay = clock_offset(sample)
    assert delay == pytest.approx(0.040)
    assert offset == pytest.approx(1000.0 + (0.030 - 0.010) / 2)
    symmetric = pb.ClockSample(sent_s=5.0, received_s=1005.01, replied_s=1005.01, returned_s=5.02)
    assert best_offset([sample, symmetric]) == pytest.approx((1000.0, 0.02))
    assert best_offset([]) is None


@pytest.fixture
def controller():
    made = Controller(
        ControllerConfig("live-demo", "eo+ta", devices=2, duration_s=3.0, slot_s=1.0,
                         security=Security(token="tok"), join_timeout_s=120.0, hardware=HOST)
    )  # fmt: skip
    made.start()
    yield made
    made.close()


def test_another_protocol_version_and_a_missing_token_are_refused(controller):
    address = f"127.0.0.1:{controller.port}"
    hello = pb.DeviceHello(protocol=PROTOCOL + 1, name="x", model="mobilenet_v2")
    with open_channel(address, Security()) as channel:
        stub = ControlStub(channel, Security(token="tok").metadata)
        with pytest.raises(grpc.RpcError) as refused:
            stub.call("RegisterDevice", hello, 5.0)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert f"this controller speaks {PROTOCOL}" in refused.value.details()
        hello.protocol = PROTOCOL
        anonymous = ControlStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            anonymous.call("RegisterDevice", hello, 5.0)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        hello.cut_count = 3  # not mobilenet_v2's
        with pytest.raises(grpc.RpcError) as refused:
            stub.call("RegisterDevice", hello, 5.0)
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "cuts" in refused.value.details()


@pytest.mark.slow  # four processes: 13-17 s
def test_three_roles_started_by_hand_account_for_every_task(controller):
    """A controller, an edge server that registers itself and two agents whose clock runs
    1000 s ahead of this host's: every decided task is run and reported, the offset is
    estimated within the round trip, the uplink is measured, the servers' address known. (Both
    agents live in this process: their models are traced before either runs.)"""
    security = Security(token="tok")
    edge = EdgeServer(
        ServerConfig(models=("mobilenet_v2", "resnet34"), port=0, lanes=2, cores=2,
                     token="tok", granularities=("block",))
    )  # fmt: skip
    edge.start()
    registration = ServerRegistration(edge, f"127.0.0.1:{controller.port}", security)
    registration.start()
    done: dict[str, dict[str, int]] = {}
    agents = []
    models = {name: DeviceModel(model, "block") for model, name in
              (("mobilenet_v2", "phone"), ("resnet34", "jetson"))}  # fmt: skip
    for name, shared in models.items():
        config = AgentConfig(
            shared.spec, f"127.0.0.1:{controller.port}", (name,), "block", security=security,
            clock_shift_s=1000.0,
        )  # fmt: skip
        thread = threading.Thread(
            target=lambda c=config, n=name, m=shared: done.update({n: run_agents(c, shared=m)})
        )
        thread.start()
        agents.append(thread)
    try:
        report = controller.run()
    finally:
        for thread in agents:
            thread.join(60)
        registration.stop()
        edge.stop()
    totals = report["totals"]
    assert totals["devices_finished"] == 2 and totals["not_run"] == 0
    assert totals["done"] == totals["decided"] == sum(sum(d["tasks"]) for d in report["decisions"])
    assert totals["offloaded"] > 0  # eo+ta: the server runs the tails
    assert sum(n for counts in done.values() for n in counts.values()) == totals["done"]
    assert report["server_addresses"] == [f"127.0.0.1:{edge.port}"]
    for row in report["per_device"]:
        assert row["name"] in ("phone", "jetson")
        # the controller's clock minus the agent's: -1000 s, within half the round trip
        assert abs(row["clock_offset_s"] + 1000.0) <= row["clock_delay_s"] / 2 + 1e-6
        assert row["uplink_estimate_bps"] and row["uplink_estimate_bps"] > 0
    offloaded = [t for t in report["tasks"] if t["offloaded"]]
    assert all(t["server"] == 0 and t["decided_by"] == "controller" for t in offloaded)


@pytest.mark.slow  # a lease run out in real time: 10 s
def test_an_agent_keeps_the_last_decision_for_its_lease_then_runs_locally():
    """The controller dies after a few slots: the agent repeats its last decision (offload at
    cut 1) for the lease, then runs every task locally; every slot goes on, none is skipped, and
    each task says who decided it; its reports wait for a controller to return."""
    from edgesplit.runtime.agent import Agent

    from .conftest import wait_until

    made = Controller(
        ControllerConfig("live-demo", "eo+ta", devices=1, duration_s=60.0, slot_s=0.5,
                         lease_s=1.0, join_timeout_s=120.0, hardware=HOST)
    )  # fmt: skip
    made.start()
    address = f"127.0.0.1:{made.port}"
    edge = EdgeServer(
        ServerConfig(models=("mobilenet_v2",), port=0, lanes=1, cores=2, granularities=("block",))
    )
    edge.start()
    registration = ServerRegistration(edge, address, Security())
    registration.start()
    stop_run, stop_agent = threading.Event(), threading.Event()
    agent = Agent(
        AgentConfig("mobilenet_v2", address, ("phone",), "block", retry_s=0.2),
        "phone", DeviceModel("mobilenet_v2", "block"), stop_agent,
    )  # fmt: skip
    running = [
        threading.Thread(target=made.run, kwargs={"stop": stop_run}),
        threading.Thread(target=agent.run),
    ]
    for thread in running:
        thread.start()
    try:
        wait_until(lambda: len(agent.steps_run) >= 3, 120.0)
        made._server.stop(None)  # the controller is gone: its stream breaks, nothing answers
        stop_run.set()  # (after: its run's end must not reach the agent)
        wait_until(
            lambda: (
                any(t.decided_by == "no controller" for r in agent.pending for t in r.tasks)
                and len(agent.steps_run) >= 10
            ),
            60.0,
        )
    finally:
        stop_agent.set()
        for thread in running:
            thread.join(60)
        registration.stop()
        edge.stop()
    steps = sorted(agent.steps_run)
    assert steps == list(range(steps[0], steps[-1] + 1))  # no slot skipped
    own = [t for r in agent.pending for t in r.tasks]
    by = [t.decided_by for t in own]
    assert "lease" in by and "no controller" in by
    assert by.index("no controller") > by.index("lease")  # the lease first
    lease = [t for t in own if t.decided_by == "lease"]
    assert all(t.cut == 0 for t in lease)  # eo: the last decision sent the input
    alone = [t for t in own if t.decided_by == "no controller"]
    cut_count = agent.client.cut_count
    assert all(t.cut == cut_count - 1 and not t.server for t in alone)


def test_a_controller_started_again_on_its_journal_continues_the_run(tmp_path):
    """The journal's steps replayed through a fresh world model give the same decisions,
    predictions and batteries; the agents, servers, tasks and the run's id come back."""
    import numpy as np

    config = ControllerConfig(
        "live-demo", "optimum", devices=2, journal=str(tmp_path / "run.journal"), hardware=HOST
    )
    first = Controller(config)
    first.begin = 100.0
    first._write("begin", {"run_id": first.run_id, "begin": first.begin})
    first.RegisterServer(
        pb.ServerHello(protocol=PROTOCOL, address="10.213.1.1:50051", cores=2, lanes=2), None
    )
    for index, (model, name) in enumerate((("mobilenet_v2", "phone"), ("resnet34", "jetson"))):
        hello = pb.DeviceHello(protocol=PROTOCOL, name=name, model=model,
                               cut_count=first.world.cut_counts[index])  # fmt: skip
        assert first.RegisterDevice(hello, None).index == index
    for step in range(4):
        first.step(step, first.begin + 2.0 * step)
        done = pb.TaskRecord(step=step, k=0, cut=3, head_s=0.02, decided_by="controller")
        report = pb.StepReport(protocol=PROTOCOL, index=1, run_id=first.run_id, step=step,
                               tasks=[done], uplink_bps=30e6 + step * 1e6)  # fmt: skip
        assert first.Report(report, None).known
    first.journal.close()

    again = Controller(config)
    assert again.resumed and again.run_id == first.run_id and again.begin == 100.0
    assert again.next_step == 4
    assert [a.name for a in again.agents] == ["phone", "jetson"]
    assert [s.address for s in again.servers] == ["10.213.1.1:50051"]
    # (repr: a scenario that counts no MACs predicts with energy_per_mac_j NaN, never == itself)
    assert repr(again.decisions) == repr(first.decisions)
    assert repr(again.expected) == repr(first.expected)
    assert repr(again.tasks) == repr(first.tasks)
    np.testing.assert_array_equal(again.world.env.battery_j, first.world.env.battery_j)
    assert [d["observed_uplink_bps"][1] for d in again.decisions[1:]] == [30e6, 31e6, 32e6]
    again.journal.close()


def test_decisions_pushed_before_an_agent_subscribes_reach_its_stream():
    """A decision pushed to an agent that registered but has not subscribed yet (a restarted
    controller pushes before its agents reconnect), or between two subscriptions, is the first
    the new stream yields: an agent never misses a step it was decided (it once did, and the
    step's tasks were counted as not run)."""
    made = Controller(ControllerConfig("live-demo", "optimum", devices=1, hardware=HOST))
    made.begin = 0.0
    made.RegisterServer(
        pb.ServerHello(protocol=PROTOCOL, address="127.0.0.1:1", cores=2, lanes=1), None
    )
    hello = pb.DeviceHello(protocol=PROTOCOL, name="phone", model="mobilenet_v2",
                           cut_count=made.world.cut_counts[0])  # fmt: skip
    index = made.RegisterDevice(hello, None).index

    class Active:  # a live stream for at most 6 polls of its inbox (3 s): no test hangs
        polls = 0

        def is_active(self) -> bool:
            self.polls += 1
            return self.polls <= 6

    subscribe = pb.Subscribe(protocol=PROTOCOL, index=index, run_id=made.run_id)
    made.step(0, 0.0)
    first = made.Decisions(subscribe, Active())
    assert next(first).step == 0
    made.step(1, 1.0)  # pushed to the first stream's inbox, not read: the agent reconnects
    second = made.Decisions(subscribe, Active())
    assert next(second).step == 1
    with pytest.raises(StopIteration):
        next(first)  # the older stream ends


def test_an_agent_takes_the_place_it_asks_for_and_no_other():
    """Three places for two models (mobilenet_v2, resnet34, mobilenet_v2): an agent asking for
    place 2 gets it even when place 0 of its model is free; a place of another model, or a
    taken one, is refused."""
    made = Controller(ControllerConfig("live-demo", "optimum", devices=3, hardware=HOST))
    counts = made.world.cut_counts

    def hello(name: str, model: str, place: int) -> pb.DeviceHello:
        index = place - 1 if place else 0
        return pb.DeviceHello(protocol=PROTOCOL, name=name, model=model,
                              cut_count=counts[index], place=place)  # fmt: skip

    class Refused(Exception):
        pass

    class Context:
        def abort(self, code, details):
            raise Refused(details)

    assert made.RegisterDevice(hello("third", "mobilenet_v2", 3), Context()).index == 2
    assert made.RegisterDevice(hello("any", "mobilenet_v2", 0), Context()).index == 0
    with pytest.raises(Refused, match="no free place"):
        made.RegisterDevice(hello("wrong", "mobilenet_v2", 2), Context())  # resnet34's
    assert made.RegisterDevice(hello("third", "mobilenet_v2", 3), Context()).index == 2  # again
