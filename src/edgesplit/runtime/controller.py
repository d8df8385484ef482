"""The controller role (``edgesplit controller``): it listens on the control plane, waits for the
run's device agents and edge servers to register, then every slot (or task window) decides on
what the agents measured through the world model (``runtime.world``), pushes each agent its
decision, and collects every task the agents report; the report holds each task against its
prediction (``runtime.report``).

It is told nothing it can measure: the agents report their uplink estimates, the servers their
load and health (a server silent for ``SERVER_SILENT_S`` leaves the decisions), and each
agent's clock offset is estimated from the Sync samples it reports (``control.best_offset``).

With a journal (``--journal FILE``) it writes what it needs to continue the run: the run's id
and start, each agent and server as it first registers, each step's inputs (the servers up,
their backlog, the measured rates) and each task reported. A controller started again on the
same journal replays the steps through a fresh world model (deterministic for the seed, so the
batteries, arrivals and hysteresis come out as they were), takes the agents and servers back
under their indices, and continues with the next slot; the agents, which ran the slots between
on their own, register again and send what they kept.
"""

from __future__ import annotations

import json
import math
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from edgesplit.checks import positive
from edgesplit.costs.terms import server_work_s
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.policies.registry import is_learner, policy_from_spec
from edgesplit.profile.cores import available_cores
from edgesplit.runtime.control import PROTOCOL, best_offset, control_handler
from edgesplit.runtime.proto import control_pb2 as pb
from edgesplit.runtime.transport import Security, bind, grpc_server
from edgesplit.runtime.world import StepPlan
from edgesplit.sim.scenario import Scenario, load_scenario

HEARTBEAT_S = 0.2  # a server's heartbeat period
SERVER_SILENT_S = 0.7  # a server silent this long (3.5 heartbeats) leaves the decisions
CLOCK_SAMPLES = 16  # kept per agent


@dataclass(frozen=True)
class ControllerConfig:
    """What one run's controller does (see ``edgesplit controller``); ``scenario``: a preset's
    name, a YAML file or a ``Scenario``."""

    scenario: str | Scenario = "live-demo"
    policy: str = "optimum"
    devices: int = 2
    servers: int | None = None  # None: one (slot style), the scenario's (task-window style)
    duration_s: float = 20.0
    slot_s: float = 2.0
    seed: int = 0
    hysteresis: float = 0.05
    hardware: str | None = None  # None: the host's measured collection
    untrained: bool = False
    host: str = "127.0.0.1"
    port: int = 0
    lease_s: float = 6.0  # how long an agent keeps the last decision when the controller is gone
    join_timeout_s: float = 300.0  # the agents and servers must have registered by then
    security: Security = field(default_factory=Security)
    device_hardware: tuple[str, ...] = ()  # per device (the testbed's capped ones); (): the host
    journal: str | None = None  # continue the run it holds, and write to it
    derive_first: bool = False  # no shipped profiles here: start on derived ones while measuring
    settings: tuple[tuple[str, str], ...] = ()  # the decider's --set FIELD=VALUE (text)


@dataclass
class _Agent:
    name: str
    model: str
    hardware: str
    inbox: queue.Queue  # decisions for its current subscription (None ends the stream)
    uplink_bps: float | None = None
    clock: list[Any] = field(default_factory=list)
    reported: set[int] = field(default_factory=set)  # steps
    done: bool = False
    registrations: int = 1
    subscribed: bool = False


@dataclass
class _Server:
    address: str
    cores: int
    lanes: int
    seen_s: float
    serving: bool = True
    waiting: int = 0
    mean_tail_s: float = 0.0


class Controller:
    """One run's controller: the world model, the registry of agents and servers, the control
    plane service and the loop (see the module notes)."""

    def __init__(
        self, config: ControllerConfig, progress: Callable[[str], None] = lambda _: None
    ) -> None:
        from edgesplit.runtime.hosts import HostProfiles, early_policy, host_hardware, run_servers

        positive("--duration", config.duration_s)
        positive("--slot-s", config.slot_s)
        positive("--lease-s", config.lease_s)
        self.config = config
        self.preset = preset = (
            config.scenario
            if isinstance(config.scenario, Scenario)
            else load_scenario(config.scenario)
        )
        self.slot_style = preset.style == "slot"
        self.server_count = run_servers(preset, config.servers)
        if config.device_hardware and len(config.device_hardware) != config.devices:
            raise InvalidParameterError(
                "--device-hardware",
                list(config.device_hardware),
                f"{config.devices}: one per device",
            )
        self.learner = is_learner(config.policy.partition("=")[0].strip())
        if self.learner and config.devices != preset.device_count:
            raise InvalidParameterError(
                "--devices", config.devices,
                f"{preset.device_count}: a learner decides for the devices it was trained with",
            )  # fmt: skip
        self.models = tuple(dict.fromkeys(d.model for d in preset.devices))
        learner = early_policy(  # refused before any profile is measured
            config.policy, preset, config.seed, config.untrained, dict(config.settings)
        )
        host = (
            HostProfiles(config.hardware, f"predictions: {config.hardware}")
            if config.hardware
            else host_hardware(self.models, preset.input_size, progress, config.derive_first)
        )
        self.hardware, self.host_note, self.pending = host.hardware, host.note, host.pending
        self.switched: dict[str, Any] | None = None  # when the measured profiles took over
        self.measuring: Any = None  # the process measuring ``pending``
        if learner is not None:
            self.label = learner[0]
        self.world = self._world(self.hardware, None if learner is None else learner[1])
        self.device_models = [device.model for device in self.scenario.devices]  # count 1 each
        self.run_id = uuid.uuid4().hex[:12]
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.agents: list[_Agent | None] = [None] * config.devices
        self.servers: list[_Server] = []
        self.tasks: dict[tuple[int, int, int], dict[str, Any]] = {}  # (device, step, k)
        self.expected: dict[tuple[int, int], list[dict[str, float]]] = {}
        self.decisions: list[dict[str, Any]] = []
        self.control_s: dict[int, dict[str, float]] = {}  # per step this controller decided
        self.begin = 0.0
        self.port = 0
        self._server: grpc.Server | None = None
        self.next_step = 0
        self.resumed = False
        self.ending = False
        self.journal = None
        if config.journal is not None:
            path = Path(config.journal)
            if path.is_file() and path.stat().st_size:
                self._restore(path)
            self.journal = path.open("a")

    def _world(self, hardware: str, policy: Any = None) -> Any:
        """The world model with predictions from ``hardware`` (its scenario, cores and policy
        set on this controller); ``policy``: keep that one (a learner's, trained on the
        preset, does not depend on the hardware)."""
        from edgesplit.runtime.hosts import live_scenario, profile_cores
        from edgesplit.runtime.world import SlotWorld, WindowWorld

        config, preset = self.config, self.preset
        self.cores = profile_cores(hardware, preset.devices[0].model)
        self.scenario = live_scenario(
            preset, config.devices, config.slot_s, hardware, self.cores, config.device_hardware
        )
        if policy is None:
            self.label, policy = policy_from_spec(
                config.policy, preset if self.learner else self.scenario, config.seed,
                config.untrained, dict(config.settings),
            )  # fmt: skip
        if self.slot_style:
            return SlotWorld(
                preset, self.scenario, policy, self.learner, config.hysteresis, config.seed
            )
        return WindowWorld(self.scenario, policy, config.seed)

    # -- the profiles measured meanwhile ---------------------------------------------------------

    def _measure_pending(self) -> None:
        """Measure this host's profiles into ``pending`` in a process of its own (lower priority
        than the run's; it leaves when this controller does)."""
        import multiprocessing

        from edgesplit.runtime.hosts import host_threads, measure_in_background

        threads = host_threads(available_cores())
        context = multiprocessing.get_context("spawn")
        self.measuring = context.Process(
            target=measure_in_background,
            args=(self.models, self.preset.input_size, self.pending, threads),
            name="edgesplit-measure-host", daemon=True,
        )  # fmt: skip
        self.measuring.start()

    def _switch_when_measured(self, step: int, progress: Callable[[str], None]) -> None:
        """Before step ``step``: once the measurement has ended, predict with its profiles from
        this step on (journaled, so that a restarted controller switches where this one did)."""
        from edgesplit.runtime.hosts import host_profiles_complete, host_threads

        if self.pending is None or (self.measuring is not None and self.measuring.is_alive()):
            return
        pending = Path(self.pending)
        if not host_profiles_complete(pending, self.models, host_threads(available_cores())):
            if self.measuring is not None:
                self.pending = None
                self.host_note += f"; measuring this host failed (exit {self.measuring.exitcode})"
                progress(self.host_note)
            return
        self.pending = None
        try:
            self._switch(step, str(pending))
        except EdgesplitError as error:
            self.host_note += f"; the measured profiles were not used: {error}"
            progress(self.host_note)
            return
        self._write("switch", {"step": step, "hardware": str(pending)})
        progress(f"step {step + 1}: predictions now from this host's measured profiles")

    def _switch(self, step: int, hardware: str) -> None:
        """Predict with ``hardware`` from step ``step`` on: a world model built on it takes
        over the current one's state (batteries, arrivals, random stream, last decision)."""
        before, label = self.hardware, self.label
        world = self._world(hardware, self.world.policy if self.learner else None)
        world.adopt(self.world)
        self.world, self.hardware, self.label = world, hardware, label
        self.switched = {"step": step, "from": before, "to": hardware}
        self.host_note += f"; from step {step + 1} on its own measured profiles ({hardware})"

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> int:
        """Listen on the control plane; returns the port."""
        config = self.config
        server = grpc_server(config.devices + self.server_count + 16, config.security)
        server.add_generic_rpc_handlers((control_handler(self),))
        self.port = bind(server, config.host, config.port, config.security, "--listen")
        server.start()
        self._server = server
        return self.port

    def close(self) -> None:
        with self.lock:
            for agent in self.agents:
                if agent is not None:
                    agent.inbox.put(None)
        if self._server is not None:
            self._server.stop(1.0).wait()
            self._server = None

    def run(
        self,
        progress: Callable[[str], None] = lambda _: None,
        stop: threading.Event | None = None,
        started: Callable[[float], None] = lambda _: None,
    ) -> dict[str, Any]:
        """Wait for the agents and servers, run the steps until the time is up (or every task
        window is done, or ``stop`` is set), tell the agents the run is over, collect their last
        reports, and report; ``started(begin)`` is told when the first step begins (monotonic
        time)."""
        from edgesplit.runtime.report import live_report

        stop = stop or threading.Event()
        if self._server is None:
            self.start()
        if self.pending is not None:
            self._measure_pending()  # a complete folder is left as it is, at once
        try:
            if not self.resumed:
                self._join(progress, stop)
                self.begin = time.monotonic()
                begun = {"run_id": self.run_id, "begin": self.begin, "hardware": self.hardware}
                self._write("begin", begun)
            else:
                progress(f"continuing run {self.run_id} from its journal")
            started(self.begin)
            self._steps(progress, stop)
            self._finish(progress, stop)
        finally:
            self.close()
            if self.measuring is not None and self.measuring.is_alive():
                self.measuring.terminate()  # it keeps each thread count it finished
                self.measuring.join(5.0)
            if self.journal is not None:
                self.journal.close()
        return live_report(self)

    # -- the journal -----------------------------------------------------------------------------

    def _write(self, kind: str, data: Any) -> None:
        if self.journal is not None:
            self.journal.write(json.dumps({kind: data}) + "\n")
            self.journal.flush()

    def _restore(self, path: Path) -> None:
        """Continue the run of the journal at ``path`` (see the module notes)."""
        for line in path.read_text().splitlines():
            try:
                ((kind, data),) = json.loads(line).items()
            except (ValueError, AttributeError):
                continue  # a line cut short when the controller was killed
            if kind == "begin":
                self.run_id, self.begin = data["run_id"], data["begin"]
                if data.get("hardware", self.hardware) != self.hardware:  # began on derived ones
                    self.pending = self.pending or self.hardware
                    self.hardware = data["hardware"]
                    self.world = self._world(self.hardware)
            elif kind == "agent":
                self.agents[data["index"]] = _Agent(
                    data["name"], data["model"], data["hardware"], queue.Queue()
                )
            elif kind == "server":
                self.servers.append(_Server(data["address"], data["cores"], data["lanes"], 0.0))
            elif kind == "switch":
                self._switch(data["step"], data["hardware"])
                self.pending = None
            elif kind == "step":
                self._decide(data["step"], data["start"], data["up"], data["backlog"],
                             data["measured"])  # fmt: skip
                self.next_step = data["step"] + 1
            elif kind == "task":
                row = data
                self.tasks[(row["device"], row["step"], row["k"])] = row
        self.resumed = self.begin > 0

    def _join(self, progress: Callable[[str], None], stop: threading.Event) -> None:
        config = self.config
        deadline = time.monotonic() + config.join_timeout_s
        with self.lock:
            while not stop.is_set():
                joined = sum(a is not None and a.subscribed for a in self.agents)
                servers = len(self.servers)
                if joined == config.devices and servers >= self.server_count:
                    return
                if time.monotonic() > deadline:
                    raise EdgesplitError(
                        f"after {config.join_timeout_s:g} s, {joined} of {config.devices} device "
                        f"agents and {servers} of {self.server_count} edge servers had registered "
                        f"with the controller on port {self.port}"
                    )
                progress(
                    f"waiting on port {self.port}: {joined}/{config.devices} devices, "
                    f"{servers}/{self.server_count} servers"
                )
                self.changed.wait(0.5)

    def _steps(self, progress: Callable[[str], None], stop: threading.Event) -> None:
        config = self.config
        slots = max(1, round(config.duration_s / config.slot_s))
        begin = self.begin
        step = self.next_step
        if self.slot_style and self.resumed:  # the slots missed were the agents' own
            step = max(step, math.ceil((time.monotonic() - begin) / config.slot_s))
        while not stop.is_set():
            now = time.monotonic()
            if self.slot_style:
                if step >= slots:
                    return
                start = begin + step * config.slot_s
                stop.wait(max(0.0, start - now))
                if stop.is_set():
                    return
            elif now - begin >= config.duration_s or self.world.finished:
                return
            else:
                start = now
            self._switch_when_measured(step, progress)
            said = self.step(step, start)
            label = f"slot {step + 1}/{slots}" if self.slot_style else f"window {step + 1}"
            progress(f"{label}: {said}")
            if not self.slot_style:
                self._wait_reports(step, time.monotonic() + 600.0, stop)
            step += 1

    def step(self, step: int, start: float) -> str:
        """Decide step ``step`` (its tasks arrive from ``start``, controller clock) and push it."""
        up = self.up_servers()
        with self.lock:
            backlog = [
                float(server_work_s(self.servers[i].waiting, self.servers[i].mean_tail_s))
                for i in up
            ]
            measured = [a.uplink_bps if a is not None else None for a in self.agents]
        self._write(
            "step",
            {"step": step, "start": start, "up": up, "backlog": backlog, "measured": measured},
        )
        began = time.perf_counter()
        plan = self._decide(step, start, up, backlog, measured)
        decided = time.perf_counter()
        slot_s = self.config.slot_s if self.slot_style else 0.0
        with self.lock:
            addresses = [s.address for s in self.servers]
            for n, agent in enumerate(self.agents):
                tasks = plan.tasks[n]
                message = pb.Decision(
                    protocol=PROTOCOL, step=step, start_s=start, spacing_s=plan.spacing_s[n],
                    slot_s=slot_s, why=plan.why,
                    tasks=[
                        pb.Task(
                            cut=t.cut, codec=t.codec, threads=t.threads,
                            server=addresses[t.server] if t.server >= 0 else "",
                            power_w=t.power_w, radio_rate_bps=t.radio_rate_bps,
                            exit=t.exit, exit_threshold=t.exit_threshold,
                        )
                        for t in tasks
                    ],
                )  # fmt: skip
                if agent is not None:
                    agent.inbox.put(message)
            # the control plane's own time: the world model's step, then building and queueing
            # the decisions (the streams send them on their own threads)
            self.control_s[step] = {
                "decide_s": decided - began,
                "push_s": time.perf_counter() - decided,
            }
        count = sum(len(row) for row in plan.tasks)
        return f"{count} tasks, {plan.why}, servers up {len(up)}/{len(self.servers)}"

    def _decide(
        self,
        step: int,
        start: float,
        up: list[int],
        backlog: list[float],
        measured: list[float | None],
    ) -> StepPlan:
        """Step the world model; keep what it predicts of each task and the decision's record."""
        plan = self.world.step(up, backlog, measured)
        with self.lock:
            for n, tasks in enumerate(plan.tasks):
                self.expected[(n, step)] = [t.predicted for t in tasks]
            self.decisions.append(
                {"step": step, "t_s": round(start - self.begin, 3), "healthy_servers": up,
                 **plan.record}
            )  # fmt: skip
        return plan

    def _wait_reports(self, step: int, until: float, stop: threading.Event) -> None:
        with self.lock:
            while not stop.is_set() and time.monotonic() < until:
                if all(
                    agent is None or agent.done or step in agent.reported for agent in self.agents
                ):
                    return
                self.changed.wait(0.2)

    def _finish(self, progress: Callable[[str], None], stop: threading.Event) -> None:
        """Tell every agent the run is over; wait until each has sent its last report."""
        progress("the devices finish their tasks")
        with self.lock:
            self.ending = True  # an agent that subscribes from now on is told at once
            for agent in self.agents:
                if agent is not None:
                    agent.inbox.put(pb.Decision(protocol=PROTOCOL, stop=True))
            grace_s = 3.0 if stop.is_set() else max(30.0, 4 * self.config.slot_s)
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline:
                if all(agent is None or agent.done for agent in self.agents):
                    return
                self.changed.wait(0.2)

    def up_servers(self) -> list[int]:
        """The servers that reported serving within ``SERVER_SILENT_S``."""
        now = time.monotonic()
        with self.lock:
            return [
                i
                for i, s in enumerate(self.servers)
                if s.serving and now - s.seen_s <= SERVER_SILENT_S
            ]

    def clock_offsets(self) -> list[tuple[float, float] | None]:
        """Per agent: (offset of its clock to this one's, the round trip bounding its error)."""
        with self.lock:
            return [None if a is None else best_offset(a.clock) for a in self.agents]

    # -- the control plane service ---------------------------------------------------------------

    def _welcome(self, index: int) -> pb.Welcome:
        link = self.world.system.link
        return pb.Welcome(
            protocol=PROTOCOL, index=index, run_id=self.run_id, lease_s=self.config.lease_s,
            slot_s=self.config.slot_s if self.slot_style else 0.0,
            servers=[s.address for s in self.servers], request_s=link.request_s,
            transport_s_per_bit=link.transport_s_per_bit,
        )  # fmt: skip

    def RegisterDevice(self, hello: pb.DeviceHello, context: grpc.ServicerContext) -> pb.Welcome:
        with self.lock:
            known = [n for n, a in enumerate(self.agents) if a is not None and a.name == hello.name]
            free = [
                n
                for n, a in enumerate(self.agents)
                if a is None and self.device_models[n] == hello.model and hello.place in (0, n + 1)
            ]
            if not known and not free:
                wanted = ", ".join(
                    f"{n}: {m}" for n, m in enumerate(self.device_models) if self.agents[n] is None
                )
                context.abort(
                    grpc.StatusCode.RESOURCE_EXHAUSTED,
                    f"device {hello.name!r} ({hello.model}): no free place in this run "
                    f"(free: {wanted or 'none'})",
                )
            index = known[0] if known else free[0]
            if hello.cut_count != self.world.cut_counts[index]:
                context.abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"device {hello.name!r}: {hello.model} at {hello.granularity} has "
                    f"{hello.cut_count} cuts, the controller's table "
                    f"{self.world.cut_counts[index]} (granularity "
                    f"{self.scenario.granularity}, input {self.scenario.input_size})",
                )
            agent = self.agents[index]
            if agent is None:
                self.agents[index] = _Agent(hello.name, hello.model, hello.hardware, queue.Queue())
                self._write(
                    "agent",
                    {"index": index, "name": hello.name, "model": hello.model,
                     "hardware": hello.hardware},
                )  # fmt: skip
            else:
                agent.registrations += 1
                agent.done = False
            self.changed.notify_all()
            return self._welcome(index)

    def _agent(self, index: int, run_id: str) -> _Agent | None:
        if run_id != self.run_id or not 0 <= index < len(self.agents):
            return None
        return self.agents[index]

    def Decisions(self, subscribe: pb.Subscribe, context: grpc.ServicerContext):
        with self.lock:
            agent = self._agent(subscribe.index, subscribe.run_id)
            if agent is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "unknown agent: register first")
            # a new stream takes over the decisions pushed while the agent was away (after a
            # controller's restart, before it subscribed), then the older stream is ended
            older, inbox = agent.inbox, queue.Queue()
            agent.inbox = inbox
            while not older.empty():
                decision = older.get_nowait()
                if decision is not None:
                    inbox.put(decision)
            older.put(None)
            if self.ending:  # it came back after the run's end was told
                inbox.put(pb.Decision(protocol=PROTOCOL, stop=True))
            agent.subscribed = True
            self.changed.notify_all()
        while context.is_active():
            try:
                decision = inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if decision is None:
                return
            yield decision
            if decision.stop:
                return

    def Report(self, report: pb.StepReport, context: grpc.ServicerContext) -> pb.Ack:
        with self.lock:
            agent = self._agent(report.index, report.run_id)
            if agent is None:
                return pb.Ack(protocol=PROTOCOL, known=False)
            n = report.index
            if report.uplink_bps > 0:
                agent.uplink_bps = report.uplink_bps
            agent.clock = [*agent.clock, *report.clock][-CLOCK_SAMPLES:]
            addresses = [s.address for s in self.servers]
            expected = self.expected.get((n, report.step), [])
            for task in report.tasks:
                key = (n, task.step, task.k)
                if key in self.tasks:
                    continue  # sent again after a reconnect
                decided = task.decided_by == "controller" and task.k < len(expected)
                predicted = expected[task.k] if decided else None
                self.tasks[key] = row = _task_row(n, task, addresses, predicted)
                self._write("task", row)
            agent.reported.add(report.step)
            agent.done = agent.done or report.done
            self.changed.notify_all()
        return pb.Ack(protocol=PROTOCOL, known=True)

    def Sync(self, request: pb.SyncRequest, context: grpc.ServicerContext) -> pb.SyncReply:
        received = time.monotonic()
        return pb.SyncReply(
            protocol=PROTOCOL, sent_s=request.sent_s, received_s=received,
            replied_s=time.monotonic(),
        )  # fmt: skip

    def RegisterServer(self, hello: pb.ServerHello, context: grpc.ServicerContext) -> pb.Welcome:
        address = hello.address or f"{_peer_host(context.peer())}:{hello.port}"
        with self.lock:
            for index, server in enumerate(self.servers):
                if server.address == address:
                    server.seen_s, server.serving = time.monotonic(), True
                    return self._welcome(index)
            self.servers.append(_Server(address, hello.cores, hello.lanes, time.monotonic()))
            self._write("server", {"address": address, "cores": hello.cores, "lanes": hello.lanes})
            self.changed.notify_all()
            return self._welcome(len(self.servers) - 1)

    def ServerHeartbeat(self, load: pb.ServerLoad, context: grpc.ServicerContext) -> pb.Ack:
        with self.lock:
            if load.run_id != self.run_id or not 0 <= load.index < len(self.servers):
                return pb.Ack(protocol=PROTOCOL, known=False)
            server = self.servers[load.index]
            server.seen_s, server.serving = time.monotonic(), load.serving
            server.waiting, server.mean_tail_s = load.waiting, load.mean_tail_s
        return pb.Ack(protocol=PROTOCOL, known=True)


def _peer_host(peer: str) -> str:
    """The host of a gRPC peer string (``ipv4:10.0.0.2:5000``, ``ipv6:[::1]:5000``)."""
    kind, _, rest = peer.partition(":")
    host = rest.rpartition(":")[0]
    return host if kind in ("ipv4", "ipv6") and host else "127.0.0.1"


def _task_row(
    device: int, task: pb.TaskRecord, addresses: list[str], predicted: dict[str, float] | None
) -> dict[str, Any]:
    """One reported task as the report keeps it (times in seconds, the server as an index)."""
    times = ("head_s", "codec_s", "transfer_s", "queue_s", "tail_s")
    row: dict[str, Any] = {
        "device": device,
        "step": task.step,
        "k": task.k,
        "cut": task.cut,
        "server": addresses.index(task.server) if task.server in addresses else None,
        "codec": task.codec,
        "fallback": task.fallback or None,
        **{name: getattr(task, name) for name in times},
        "wait_s": task.wait_s,
        "sent_bytes": task.sent_bytes,
        "threads": task.threads,
        "decided_by": task.decided_by,
        "note": task.note or None,
        "offloaded": bool(task.server),
        "predicted": predicted,
        "exit_s": task.exit_s,
        "exited": task.exited,
    }
    row["latency_s"] = sum(row[name] for name in times) + task.exit_s
    return row
