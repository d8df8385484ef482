"""The device agent role (``edgesplit device MODEL --controller HOST:PORT``): it registers with
the controller, receives each decision (cut, codec, server address, threads, power), runs the
step's tasks at their arrival times through the named edge servers (``DeviceClient``: a task
whose server fails finishes on the device), measures its own uplink from its transfers (a probe
when a step sent nothing), and reports every task.

It never stops working: when the controller goes silent (its stream breaks, or a step's decision
is late by ``LATE_S``) the agent repeats the last decision on its own for the welcome's lease,
then runs every task locally, and registers again as soon as the controller answers; reports
that could not be delivered are sent then. Several agents share one process (one thread each,
one traced model per spec), so a hundred emulated devices fit on one host.

Clock: every time the agent keeps is its own monotonic clock (``clock``); a decision's start
is in the controller's clock and is converted with the offset estimated from Sync round trips.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from edgesplit.compress.accuracy import task_inputs
from edgesplit.compress.codecs import Codec
from edgesplit.errors import EdgesplitError
from edgesplit.runtime.client import (
    DeviceClient,
    DeviceModel,
    EarlyExit,
    TaskRecord,
    TokenBucket,
)
from edgesplit.runtime.control import PROTOCOL, ControlStub, best_offset
from edgesplit.runtime.links import LinkPlan
from edgesplit.runtime.proto import control_pb2 as pb
from edgesplit.runtime.transport import Security, open_channel

SYNC_ROUNDS = 4  # Sync round trips at registration
LATE_S = 1.0  # a slot's decision this late (past its start) means the controller is silent
CALL_TIMEOUT_S = 5.0  # of one control-plane call
PROBE_S, PROBE_MIN_BYTES, PROBE_MAX_BYTES = 0.02, 2**16, 2**21  # an uplink probe's size


@dataclass(frozen=True)
class AgentConfig:
    """What the agents of one process run: ``names`` (one agent each) of one model."""

    model: str
    controller: str  # HOST:PORT
    names: tuple[str, ...]
    granularity: str = "operator"
    input_size: int = 224
    timeout_s: float = 2.0  # of one data-plane request
    retry_s: float = 1.0  # between registration attempts; local after a server failed
    security: Security = field(default_factory=Security)
    seed: int = 0
    link: LinkPlan | None = None  # emulated links (loopback): each agent's token bucket follows it
    link_devices: tuple[int, ...] = ()  # each agent's row of ``link``
    places: tuple[int, ...] = ()  # the device index each agent asks for (a launcher's numbering)
    hardware: str = ""
    clock_shift_s: float = 0.0  # an agent clock off the host's (tests of the offset estimate)


class Agent:
    """One device agent (see the module notes); ``run`` returns when the run is over or
    ``stop`` is set."""

    def __init__(
        self,
        config: AgentConfig,
        name: str,
        shared: DeviceModel,
        stop: threading.Event,
        link_row: int | None = None,
        place: int | None = None,
    ) -> None:
        import torch

        self.config, self.name, self.stop = config, name, stop
        self.place = place
        self.clock: Callable[[], float] = lambda: time.monotonic() + config.clock_shift_s
        # follows the emulated link on loopback, or a task window's emulated radio; unshaped
        # (1 Tbit/s) where the link is real or the kernel shapes it (the testbed)
        self.shaper = TokenBucket(1e12)
        self.link_row = link_row
        self.client = DeviceClient(
            shared, (), timeout_s=config.timeout_s, uplink=self.shaper, retry_s=config.retry_s,
            token=config.security.token, tls_ca=config.security.tls_ca,
        )  # fmt: skip
        self.stub = ControlStub(
            open_channel(config.controller, config.security, retry_s=config.retry_s),
            config.security.metadata,
        )
        # a shipped digits classifier's agents send digits (its exits stop what they were
        # measured to); any other model's, seeded noise of its input's shape
        self.inputs = task_inputs(shared.spec, 64, config.seed)
        if self.inputs is None:
            generator = torch.Generator().manual_seed(config.seed)
            self.inputs = [torch.randn(shared.example.shape, generator=generator) for _ in range(4)]
        self.welcome: pb.Welcome | None = None
        self.inbox: queue.Queue[pb.Decision | None] = queue.Queue()
        self.samples: list[pb.ClockSample] = []
        self.pending: list[pb.StepReport] = []
        self.last: pb.Decision | None = None  # the last decision (the controller's or repeated)
        self.silent_since: float | None = None  # agent clock
        self.steps_run: set[int] = set()
        self.link_start: float | None = None  # agent clock of step 0's start
        self.done = 0
        self.lease_s = 0.0  # the last welcome's: kept for when the controller is gone
        self.finished = False

    # -- the control plane -----------------------------------------------------------------------

    def register(self) -> bool:
        """Register, sample the clock, subscribe to decisions; False if the controller did not
        answer (a refusal raises)."""
        hello = pb.DeviceHello(
            protocol=PROTOCOL, name=self.name, model=self.config.model,
            granularity=self.config.granularity, input_size=self.config.input_size,
            cut_count=self.client.cut_count, hardware=self.config.hardware,
            process_id=os.getpid(), steps_done=len(self.steps_run),
            place=0 if self.place is None else self.place + 1,
        )  # fmt: skip
        try:
            welcome = self.stub.call("RegisterDevice", hello, CALL_TIMEOUT_S)
            for _ in range(SYNC_ROUNDS):
                self.sync()
        except grpc.RpcError as error:
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                return False
            raise EdgesplitError(f"the controller refused {self.name}: {error.details()}") from None
        self.welcome = welcome
        self.lease_s = welcome.lease_s
        self.client.overhead = (welcome.request_s, welcome.transport_s_per_bit)
        for address in welcome.servers:
            self.client.server_index(address)
        subscribe = pb.Subscribe(protocol=PROTOCOL, index=welcome.index, run_id=welcome.run_id)
        stream = self.stub.Decisions(subscribe, metadata=self.stub.metadata)
        self.inbox = queue.Queue()  # an older stream's end must not reach the new one
        threading.Thread(target=_listen, args=(stream, self.inbox), daemon=True).start()
        if self.client.addresses and self.client.uplink_bps is None and self.config.link is None:
            self.probe(self.client.addresses[0])  # an emulated link is probed from step 0 on
        return True

    def sync(self) -> None:
        sent = self.clock()
        reply = self.stub.call(
            "Sync", pb.SyncRequest(protocol=PROTOCOL, sent_s=sent), CALL_TIMEOUT_S
        )
        self.samples = [
            *self.samples[-15:],
            pb.ClockSample(
                sent_s=reply.sent_s, received_s=reply.received_s, replied_s=reply.replied_s,
                returned_s=self.clock(),
            ),
        ]  # fmt: skip

    @property
    def offset_s(self) -> float:
        """The controller's clock minus this agent's (0 before any sample)."""
        best = best_offset(self.samples)
        return 0.0 if best is None else best[0]

    def flush(self) -> None:
        """Send the reports not yet delivered, in order; on silence keep them for later."""
        while self.pending and self.welcome is not None:
            report = self.pending[0]
            report.index, report.run_id = self.welcome.index, self.welcome.run_id
            try:
                self.sync()  # one clock sample per report: the controller follows any drift
                del report.clock[:]
                report.clock.extend(self.samples[-4:])
                ack = self.stub.call("Report", report, CALL_TIMEOUT_S)
            except grpc.RpcError:
                self._silent()
                return
            if not ack.known:  # a restarted controller: register again, then resend
                self._silent()
                return
            self.pending.pop(0)

    def _silent(self) -> None:
        self.welcome = None
        if self.silent_since is None:
            self.silent_since = self.clock()

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until the controller ends the run (or ``stop``); returns the tasks run."""
        next_try = 0.0
        while not self.stop.is_set() and not self.finished:
            if self.welcome is None and self.clock() >= next_try:
                if not self.register():
                    next_try = self.clock() + self.config.retry_s
                else:
                    self.flush()
            decision = self._next()
            if decision is None:
                continue
            if decision.stop:
                self.finished = True
                break
            if decision.step in self.steps_run:
                continue  # run on its own already
            self.run_step(decision)
            self.flush()
        self.pending.append(
            pb.StepReport(protocol=PROTOCOL, step=self.last.step if self.last else 0, done=True,
                          uplink_bps=self.client.uplink_bps or 0.0,
                          steps_done=len(self.steps_run))
        )  # fmt: skip
        self.flush()
        self.client.close()
        return self.done

    def _next(self) -> pb.Decision | None:
        """The next decision: the controller's, or the last one repeated when a slot's decision
        is late (None: nothing yet)."""
        due = None
        if self.last is not None and self.last.slot_s > 0:
            due = self.last.start_s + self.last.slot_s - self.offset_s  # the next slot, here
        late_s = LATE_S if self.welcome is not None else 0.0  # known silent: on time
        wait_s = 0.2 if due is None else max(0.0, min(0.2, due + late_s - self.clock()))
        try:
            decision = self.inbox.get(timeout=wait_s)
            if decision is None:  # the stream ended: the controller left
                self._silent()
        except queue.Empty:
            decision = None
        if decision is not None:
            self.silent_since = None
            return decision
        if due is not None and self.clock() >= due + late_s:
            if self.silent_since is None:
                self.silent_since = due
            return self._repeated()
        return None

    def _repeated(self) -> pb.Decision:
        """The last decision for the next slot, decided by this agent: the same tasks within the
        lease, all local after it."""
        last = self.last
        assert last is not None
        repeated = pb.Decision()
        repeated.CopyFrom(last)
        repeated.step = last.step + 1
        repeated.start_s = last.start_s + last.slot_s
        expired = self.silent_since is not None and self.clock() - self.silent_since > self.lease_s
        repeated.why = "no controller" if expired else "lease"
        if expired:
            for task in repeated.tasks:
                task.cut, task.server = self.client.cut_count - 1, ""
        return repeated

    def run_step(self, decision: pb.Decision) -> None:
        """Run one step's tasks at their arrival times and queue its report."""
        self.last = decision
        self.steps_run.add(decision.step)
        decided_by = decision.why if decision.why in ("lease", "no controller") else "controller"
        start = decision.start_s - self.offset_s
        if self.link_start is None:
            self.link_start = start - decision.step * decision.slot_s
        records = []
        for k, task in enumerate(decision.tasks):
            arrival = start + k * decision.spacing_s
            if self.stop.wait(max(0.0, arrival - self.clock())):
                break  # interrupted: the rest never arrived
            began = self.clock()
            server = self.client.server_index(task.server) if task.server else 0
            self.shaper.set_rate(self._link_rate(task, began))
            early = EarlyExit(task.exit, task.exit_threshold) if task.exit else None
            _, record = self.client.run(
                self.inputs[self.done % len(self.inputs)], task.cut, task.threads, server,
                Codec.parse(task.codec), early,
            )  # fmt: skip
            self.done += 1
            records.append(_record(decision.step, k, record, task, began - arrival, decided_by))
        if decision.tasks and not any(r.server for r in records):
            address = next((t.server for t in decision.tasks if t.server), None)
            self.probe(address or (self.client.addresses[0] if self.client.addresses else None))
        self.pending.append(
            pb.StepReport(
                protocol=PROTOCOL,
                step=decision.step,
                tasks=records,
                uplink_bps=self.client.uplink_bps or 0.0,
                steps_done=len(self.steps_run),
            )
        )

    def _link_rate(self, task: pb.Task, now: float) -> float:
        if task.radio_rate_bps > 0:
            return task.radio_rate_bps  # the emulated radio of a task window
        link = self.config.link
        if link is None or self.link_row is None or self.link_start is None:
            return 1e12
        return link.rate_bps(self.link_row, now - self.link_start)

    def probe(self, address: str | None) -> None:
        """Measure the uplink with a transfer of about ``PROBE_S`` at the rate estimated so far
        (64 KiB to 2 MiB), when no task went out: a few milliseconds of the link stand out of
        the request's own time, a few microseconds would not."""
        if address is None:
            return
        self.shaper.set_rate(self._link_rate(pb.Task(), self.clock()))
        size = int((self.client.uplink_bps or 0.0) / 8 * PROBE_S)
        self.client.probe(min(PROBE_MAX_BYTES, max(PROBE_MIN_BYTES, size)),
                          server=self.client.server_index(address))  # fmt: skip


def _listen(stream: Any, inbox: queue.Queue) -> None:
    """Put the stream's decisions in ``inbox``; None when it ends (the controller left)."""
    try:
        for decision in stream:
            inbox.put(decision)
    except grpc.RpcError:
        pass
    inbox.put(None)


def _record(
    step: int, k: int, record: TaskRecord, task: pb.Task, wait_s: float, decided_by: str
) -> pb.TaskRecord:
    return pb.TaskRecord(
        step=step, k=k, cut=record.cut, server=task.server if record.offloaded else "",
        codec=record.codec, fallback=record.fallback or "", head_s=record.head_s,
        codec_s=record.codec_s, transfer_s=record.transfer_s, queue_s=record.queue_s,
        tail_s=record.tail_s, wait_s=max(0.0, wait_s), sent_bytes=record.sent_bytes,
        threads=record.threads, decided_by=decided_by, note=record.note or "",
        exited=record.exited, exit_s=record.exit_s,
    )  # fmt: skip


def run_agents(
    config: AgentConfig, stop: threading.Event | None = None, shared: DeviceModel | None = None
) -> dict[str, int]:
    """Run one agent per name of ``config`` in this process (threads sharing one traced model,
    ``shared`` or traced here) until the run is over or ``stop`` is set; returns the tasks each
    ran. torch.fx traces by patching every module's call for the whole process: a process that
    runs agents of several models traces them all before any runs (``shared``)."""
    import torch

    torch.set_num_threads(1)
    stop = stop or threading.Event()
    shared = shared or DeviceModel(config.model, config.granularity, config.input_size)
    agents = [
        Agent(
            _with_seed(config, i),
            name,
            shared,
            stop,
            config.link_devices[i] if i < len(config.link_devices) else None,
            config.places[i] if i < len(config.places) else None,
        )
        for i, name in enumerate(config.names)
    ]
    shared.halves(shared.cut_count - 1)  # warm the all-local path once
    done: dict[str, int] = {}
    errors: list[BaseException] = []

    def work(agent: Agent) -> None:
        try:
            done[agent.name] = agent.run()
        except BaseException as error:  # reported below, after every agent has ended
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=work, args=(a,), name=a.name) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return done


def _with_seed(config: AgentConfig, i: int) -> AgentConfig:
    import dataclasses

    row = config.link_devices[i] if i < len(config.link_devices) else i
    return dataclasses.replace(config, seed=config.seed * 1000 + row)
