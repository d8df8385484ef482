"""``edgesplit live`` and ``edgesplit testbed run``: the three roles started as processes on this
host through the same commands a user types on separate machines (``edgesplit controller``,
``edgesplit serve --controller``, ``edgesplit device --controller``): one code path, local or
distributed. On loopback every role listens on 127.0.0.1 and the agents' token buckets emulate
the links; on the testbed (``runtime.testbed``) every role runs in a network namespace of its
own, the roles talk only to the namespaces' addresses over veth links, the kernel shapes each
device's uplink and cgroups cap the CPUs.

The launcher is nature and the operator, never the decider: it draws each device's true link
(``runtime.links``; the agents' token buckets follow it), strikes the faults at their times
(``runtime.faults``), and sets the true rates beside the agents' estimates in the report. It
checks up front that the processes fit in memory, and whatever it starts dies with it (the
parent-death signal; the servers' lanes watch their server). Ctrl-C ends the run within seconds
with the report so far.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgesplit.checks import positive
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.profile.cores import available_cores
from edgesplit.runtime.faults import TESTBED_ONLY, Fault
from edgesplit.runtime.hosts import (
    DeviceSpeed,
    device_speeds,
    early_policy,
    host_hardware,
    live_scenario,
    run_servers,
    slowed_profiles,
)
from edgesplit.runtime.lifetime import available_memory_bytes, die_with_parent, tree_rss_bytes
from edgesplit.runtime.links import LinkPlan, link_plan
from edgesplit.runtime.testbed import Testbed, join_cgroup
from edgesplit.sim.scenario import Scenario, load_scenario

# What each process holds at its peak (resident, its process tree; measured with
# benchmarks/runtime_testbed.py on a 2-core EPYC, torch 2.14, live-demo's models at 224 px): a
# controller 905 MiB; a server 3075 MiB with two lanes; an agent process 1091 MiB with one
# agent, 1172 MiB with eight.
CONTROLLER_BYTES = 920 * 2**20
SERVER_BYTES = 900 * 2**20
LANE_BYTES = 1100 * 2**20
AGENT_PROCESS_BYTES = 1100 * 2**20
AGENT_BYTES = 12 * 2**20
START_TIMEOUT_S = 300.0  # a role's start-up (its models loaded)
STOP_GRACE_S = 10.0
CONTROL_PORT, DATA_PORT = 50050, 50051  # on the testbed (each host has its own addresses)
# the faults the launcher strikes
STRUCK = ("kill-server", "kill-device", "kill-controller", "link-down")


@dataclass(frozen=True)
class LiveConfig:
    """What one live run does (see ``edgesplit live``); ``scenario``: a preset's name, a YAML
    file or a ``Scenario``."""

    scenario: str | Scenario
    policy: str
    devices: int = 2
    servers: int | None = None  # None: one (slot style), the scenario's (task-window style)
    duration_s: float = 20.0
    slot_s: float = 2.0
    seed: int = 0
    faults: tuple[Fault, ...] = ()
    hysteresis: float = 0.05
    timeout_s: float = 2.0
    retry_s: float = 1.0
    hardware: str | None = None  # None: the host's measured collection
    untrained: bool = False
    lease_s: float = 6.0
    testbed: bool = False  # each role in a network namespace of its own (runtime.testbed)
    derive_first: bool = False  # no shipped profiles here: start on derived ones, measure meanwhile
    settings: tuple[tuple[str, str], ...] = ()  # the decider's --set FIELD=VALUE (text)


def memory_needed_bytes(servers: int, lanes: int, agent_processes: int, agents: int) -> int:
    """What a run's processes hold together (see the constants)."""
    return (
        CONTROLLER_BYTES
        + servers * (SERVER_BYTES + lanes * LANE_BYTES)
        + agent_processes * AGENT_PROCESS_BYTES
        + agents * AGENT_BYTES
    )


def edgesplit_command(*args: str) -> list[str]:
    """The ``edgesplit`` command line run by this interpreter."""
    return [sys.executable, "-m", "edgesplit", *args]


@dataclass
class Role:
    """One started process: its command line, its log, and how to start it again."""

    name: str
    command: list[str]
    log: Path
    prefix: list[str] = field(default_factory=list)  # the testbed's ``ip netns exec NS``
    cgroup: Path | None = None  # the testbed's CPU cap
    process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "COLUMNS": "1000"}  # an error stays one line in the log
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [*self.prefix, *self.command], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=die_with_parent, start_new_session=True,
                env=env,
            )  # fmt: skip
        if self.cgroup is not None:
            join_cgroup(self.cgroup, self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait()

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM, then SIGKILL after ``grace_s``."""
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def last_words(self) -> str:
        """Its error (the last line its log holds otherwise)."""
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line]
        errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
        if errors:
            return errors[-1]
        return lines[-1] if lines else f"exit status {self.process.returncode}"


def wait_for_file(path: Path, role: Role, timeout_s: float = START_TIMEOUT_S) -> dict[str, Any]:
    """The JSON a role writes once it is ready (refused with its last words if it exits)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.stat().st_size:
            with contextlib.suppress(json.JSONDecodeError):
                return json.loads(path.read_text())
        if role.process is not None and role.process.poll() is not None:
            raise EdgesplitError(f"{role.name}: {role.last_words()}")
        time.sleep(0.05)
    raise EdgesplitError(f"{role.name} was not ready in {timeout_s:g} s (log: {role.log})")


class Launcher:
    """One live run on this host (see the module notes)."""

    def __init__(self, config: LiveConfig, progress: Callable[[str], None] = lambda _: None):
        if config.devices < 1:
            raise InvalidParameterError("--devices", config.devices, "at least 1")
        positive("--duration", config.duration_s)
        positive("--slot-s", config.slot_s)
        positive("--timeout-s", config.timeout_s)
        positive("--lease-s", config.lease_s)
        if not 0 <= config.hysteresis < 1:
            raise InvalidParameterError("--hysteresis", config.hysteresis, "a share in [0, 1)")
        named = [f for f in config.faults if f.device is not None]
        wrong = [str(f) for f in named if not 0 <= f.device < config.devices]
        if wrong:
            raise InvalidParameterError(
                "--fault", wrong[0], f"a fault on a device 0..{config.devices - 1}"
            )
        needs = [str(f) for f in config.faults if f.kind in TESTBED_ONLY and not config.testbed]
        if needs:
            raise InvalidParameterError("--fault", needs[0], "the testbed (edgesplit testbed run)")
        self.config, self.progress = config, progress
        scenario = config.scenario
        self.preset = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.server_count = run_servers(self.preset, config.servers)  # before any measuring
        early_policy(  # what the controller would refuse, refused before measuring
            config.policy, self.preset, config.seed, config.untrained, dict(config.settings)
        )
        self.folder = Path(tempfile.mkdtemp(prefix="edgesplit-live-"))
        self.roles: list[Role] = []
        self.servers: list[Role] = []
        self.agents: dict[int, Role] = {}  # device -> the process running its agent
        self.controller: Role | None = None
        self.ready: dict[str, Any] = {}
        self.begin: float | None = None  # monotonic time of the run's first step
        self.struck: list[str] = []
        self.testbed: Testbed | None = None
        self.speeds: list[DeviceSpeed] = []  # the testbed's devices
        self.server_addresses: list[str] = []  # in the launcher's order (kill-server: the 1st)
        self.peak_rss: dict[str, int] = {}  # per role, with the processes it started
        self.sampled_at = 0.0
        self.shaped_step = -1  # the last slot whose rates the testbed's links took

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        if threading.current_thread() is threading.main_thread():  # killed: clean up all the same
            signal.signal(signal.SIGTERM, _terminated)
        try:
            self._check_memory()
            if self.config.testbed:
                self.testbed = Testbed(self.config.devices, self.server_count).up()
                self.progress(f"testbed {self.testbed.run} up: {len(self.testbed.hosts)} hosts")
            self._start_controller()
            self._start_servers()
            self._start_agents()
            self._watch()
            return self._report()
        finally:
            self.close()

    def close(self) -> None:
        """End every process still running (agents first, then servers, the controller), and
        remove the run's folder."""
        for role in [*self.agents.values(), *self.servers]:
            role.stop(STOP_GRACE_S if role in self.servers else 2.0)
        if self.controller is not None:
            self.controller.stop()
        if self.testbed is not None:
            self.testbed.down()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _role(self, name: str, args: list[str], host: str, cores: float | None = None) -> Role:
        """A role on ``host`` (a testbed host's name; on loopback every role shares this one),
        capped to ``cores`` on the testbed."""
        role = Role(name, edgesplit_command(*args), self.folder / f"{name}.log")
        if self.testbed is not None:
            role.prefix = self.testbed.command(host)
            if cores is not None:
                role.cgroup = self.testbed.cap_cpu(host, cores)
        self.roles.append(role)
        return role

    def _address(self, host: str) -> str:
        return "127.0.0.1" if self.testbed is None else self.testbed.host(host).address

    def _port(self, testbed_port: int) -> int:
        """A role's port: any free one on loopback, the fixed one in its own namespace."""
        return 0 if self.testbed is None else testbed_port

    def _controller_address(self) -> str:
        return f"{self._address('controller')}:{self.ready['port']}"

    def _start_controller(self) -> None:
        config = self.config
        scenario = config.scenario
        if isinstance(scenario, Scenario):
            import yaml

            path = self.folder / "scenario.yaml"
            path.write_text(yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True)))
            scenario = str(path)
        args = [
            "controller", "--scenario", scenario, "--policy", config.policy,
            "--devices", str(config.devices), "--duration", repr(config.duration_s),
            "--slot-s", repr(config.slot_s), "--seed", str(config.seed),
            "--hysteresis", repr(config.hysteresis), "--lease-s", repr(config.lease_s),
            "--listen", f"{self._address('controller')}:{self._port(CONTROL_PORT)}",
            "--ready-file", str(self.folder / "controller.json"),
            "--out", str(self.folder / "report.json"), "--events",
            "--journal", str(self.folder / "controller.journal"),
        ]  # fmt: skip
        if config.servers is not None:
            args += ["--servers", str(config.servers)]
        if config.hardware is not None:
            args += ["--hardware", config.hardware]
        else:  # measured (or derived) here, the progress shown, before the controller starts
            self._host_profiles()
            args += ["--derive-first"] if config.derive_first else []
        if config.untrained:
            args.append("--untrained")
        for key, value in config.settings:
            args += ["--set", f"{key}={value}"]
        if self.testbed is not None:
            args += self._slowed_devices()
        self.controller = self._role("controller", args, "controller")
        self.controller.start()
        self.progress("starting the controller (its world model and policy)")
        self.ready = wait_for_file(self.folder / "controller.json", self.controller)
        # restarted on the same port: the agents and servers find it again
        listen = self.controller.command.index("--listen") + 1
        host = self.controller.command[listen].rpartition(":")[0]
        self.controller.command[listen] = f"{host}:{self.ready['port']}"

    def _host_profiles(self) -> str:
        """The profiles standing for this host (``hosts.host_hardware``: measured here where
        none is shipped, or derived at first with ``derive_first``)."""
        config = self.config
        preset = self.preset
        models = tuple(dict.fromkeys(d.model for d in preset.devices))
        return host_hardware(models, preset.input_size, self.progress, config.derive_first).hardware

    def _slowed_devices(self) -> list[str]:
        """The testbed's devices as slow, relative to each other, as their catalogue hardware
        (``hosts.device_speeds``): the caps their hosts get and the profiles the controller
        predicts them with."""
        config = self.config
        preset = self.preset
        host = config.hardware or self._host_profiles()
        self.speeds = device_speeds(preset, config.devices, host)
        hardware = slowed_profiles(host, self.speeds, self.folder / "speeds")
        return [option for h in hardware for option in ("--device-hardware", h)]

    def _check_memory(self) -> None:
        """Refuse, before anything starts, a run whose processes would not fit in the free
        memory (the lanes counted at this machine's cores, at most)."""
        config = self.config
        preset = self.preset
        kinds = [d.model for d in preset.devices for _ in range(d.count)]
        models = {kinds[n % len(kinds)] for n in range(config.devices)}
        processes = (
            config.devices
            if config.testbed
            else len(models) + sum(f.kind == "kill-device" for f in config.faults)
        )
        servers, lanes = self.server_count, min(available_cores(), config.devices)
        needed = memory_needed_bytes(servers, lanes, processes, config.devices)
        free = available_memory_bytes()
        if free is not None and needed > free:
            raise InvalidParameterError(
                "--devices", config.devices,
                f"a run that fits in memory: {servers} server(s) with {lanes} lanes, a "
                f"controller and {config.devices} device agents in {processes} process(es) "
                f"need about {needed / 2**30:.1f} GiB, {free / 2**30:.1f} GiB are free",
            )  # fmt: skip

    def _lanes(self) -> int:
        return min(self.ready["cores"], self.config.devices)

    def _start_servers(self) -> None:
        ready, config = self.ready, self.config
        drop = next((f.value for f in config.faults if f.kind == "drop"), None) or 0.0
        self.progress(f"starting {ready['servers']} edge server(s)")
        for index in range(ready["servers"]):
            port = self._port(DATA_PORT)
            self.servers.append(self._server_role(index, port, drop))
            self.servers[-1].start()
        for index, role in enumerate(self.servers):
            started = wait_for_file(self.folder / f"server-{index}.json", role)
            # restarted on the same port: the devices' channels reconnect
            role.command[role.command.index("--port") + 1] = str(started["port"])
            self.server_addresses.append(f"{self._address(f'server-{index}')}:{started['port']}")

    def _server_role(self, index: int, port: int, drop: float) -> Role:
        ready, config = self.ready, self.config
        host = f"server-{index}"
        advertise = [] if self.testbed is None else ["--advertise", f"{self._address(host)}:{port}"]
        return self._role(
            host,
            [
                "serve", "--models", ",".join(dict.fromkeys(ready["device_models"])),
                "--host", self._address(host), "--port", str(port), "--cores", str(ready["cores"]),
                "--lanes", str(self._lanes()), "--queue-limit", str(4 * config.devices),
                "--input-size", str(ready["input_size"]), "--granularity", ready["granularity"],
                "--drop-replies", repr(drop), "--seed", str(config.seed),
                "--controller", self._controller_address(), *advertise,
                "--ready-file", str(self.folder / f"server-{index}.json"),
                *(arg for b in ready.get("bottlenecks", ()) for arg in ("--bottleneck", b)),
            ],
            host,
        )  # fmt: skip

    def _start_agents(self) -> None:
        ready, config = self.ready, self.config
        plan_file = None
        if ready["style"] == "slot" and self.testbed is None:  # the testbed's kernel shapes
            plan_file = self.folder / "links.json"
            plan_file.write_text(json.dumps(self.plan.record()))
        alone = {f.device for f in config.faults if f.kind == "kill-device"}
        if self.testbed is not None:  # a host, so a process, per device
            alone = set(range(config.devices))
            self._shape(0)
        groups: dict[str, list[int]] = {}
        for n, model in enumerate(ready["device_models"]):
            groups.setdefault(f"d{n}" if n in alone else model, []).append(n)
        self.progress(f"starting {config.devices} device agent(s) in {len(groups)} process(es)")
        for k, devices in enumerate(groups.values()):
            args = [
                "device", ready["device_models"][devices[0]],
                "--controller", self._controller_address(),
                "--granularity", ready["granularity"], "--input-size", str(ready["input_size"]),
                "--timeout-s", repr(config.timeout_s), "--retry-s", repr(config.retry_s),
                "--seed", str(config.seed),
            ]  # fmt: skip
            for n in devices:
                args += ["--name", f"device-{n}", "--link-device", str(n), "--place", str(n)]
            if plan_file is not None:
                args += ["--link-plan", str(plan_file)]
            cores = self.speeds[devices[0]].cores if self.speeds else None
            role = self._role(f"agents-{k}", args, f"device-{devices[0]}", cores)
            role.start()
            for n in devices:
                self.agents[n] = role

    @functools.cached_property
    def plan(self) -> LinkPlan:
        """The devices' true links (slot style), drawn once."""
        config, ready = self.config, self.ready
        preset = self.preset
        live = live_scenario(preset, config.devices, config.slot_s, ready["hardware"], 1)
        periods = math.ceil(config.duration_s / config.slot_s) + 1
        caps = tuple((f.at_s, f.value * 1e6) for f in config.faults if f.kind == "slow-link")
        steps = tuple((f.at_s, f.device, f.value * 1e6) for f in config.faults if f.kind == "rate")
        return link_plan(live, config.seed, periods, caps, steps)

    def _shape(self, step: int) -> None:
        """The testbed's links take slot ``step``'s true rates (once per slot)."""
        if self.testbed is None or self.ready["style"] != "slot" or step <= self.shaped_step:
            return
        for n in range(self.config.devices):
            self.testbed.shape(f"device-{n}", self.plan.rate_bps(n, step * self.plan.period_s))
        self.shaped_step = step

    def _watch(self) -> None:
        """Relay the controller's progress, strike the faults on time, until it ends the run;
        Ctrl-C asks it to end now."""
        events = self.folder / "controller.log"
        seen = 0
        pending = sorted(
            (f for f in self.config.faults if f.kind in STRUCK),
            key=lambda f: f.at_s,
        )
        restarts: list[tuple[float, Fault]] = []
        assert self.controller is not None
        interrupted = False
        while self.controller.alive() or any(r[1].kind == "kill-controller" for r in restarts):
            try:
                time.sleep(0.05)
                lines = events.read_text(errors="replace").splitlines()
                for line in lines[seen:]:
                    self._event(line)
                seen = len(lines)
                if self.begin is None:
                    continue
                elapsed = time.monotonic() - self.begin
                self._shape(int(elapsed // self.config.slot_s))
                self._sample_memory()
                while pending and elapsed >= pending[0].at_s:
                    fault = pending.pop(0)
                    self._strike(fault)
                    if fault.back_s is not None:
                        restarts.append((fault.at_s + fault.back_s, fault))
                for due in [r for r in restarts if elapsed >= r[0]]:
                    restarts.remove(due)
                    self._restart(due[1])
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = True
                self.progress("interrupted: the controller ends the run and reports")
                self.controller.process.send_signal(signal.SIGINT)

    def _sample_memory(self) -> None:
        """Each role's resident memory (its process tree), its peak kept; once a second."""
        if time.monotonic() - self.sampled_at < 1.0:
            return
        self.sampled_at = time.monotonic()
        for role in self.roles:
            if role.alive():
                rss = tree_rss_bytes(role.process.pid)
                self.peak_rss[role.name] = max(self.peak_rss.get(role.name, 0), rss)

    def _event(self, line: str) -> None:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        if "begin_s" in event:
            self.begin = float(event["begin_s"])
        if "progress" in event:
            self.progress(str(event["progress"]))

    def _strike(self, fault: Fault) -> None:
        self.struck.append(f"{fault} at {time.monotonic() - (self.begin or 0):.2f} s")
        if fault.kind == "kill-server":
            self.servers[0].kill()
        elif fault.kind == "kill-controller":
            assert self.controller is not None
            self.controller.kill()
        elif fault.kind == "link-down":
            assert self.testbed is not None
            self.testbed.set_link(f"device-{fault.device}", up=False)
        else:
            self.agents[fault.device].kill()

    def _restart(self, fault: Fault) -> None:
        self.struck.append(f"{fault}: back at {time.monotonic() - (self.begin or 0):.2f} s")
        if fault.kind == "link-down":
            assert self.testbed is not None
            self.testbed.set_link(f"device-{fault.device}", up=True)
            return
        if fault.kind == "kill-controller":
            assert self.controller is not None
            self.controller.start()  # on its journal: it continues the run
            return
        role = self.servers[0] if fault.kind == "kill-server" else self.agents[fault.device]
        if role is self.servers[0]:
            (self.folder / "server-0.json").unlink(missing_ok=True)
        role.start()

    def _report(self) -> dict[str, Any]:
        assert self.controller is not None
        path = self.folder / "report.json"
        if not path.is_file():
            raise EdgesplitError(
                f"the controller ended without a report: {self.controller.last_words()}"
            )
        report = json.loads(path.read_text())
        report["faults"] = [str(f) for f in self.config.faults]
        report["struck"] = self.struck
        # the controller numbers the servers as they register; the faults strike the first here
        report["launched_servers"] = self.server_addresses
        report["peak_rss_bytes"] = self.peak_rss
        if self.testbed is not None:
            report["testbed"] = {
                "run": self.testbed.run,
                "hosts": {h.name: h.address for h in self.testbed.hosts},
                "shaper": "tc tbf on each device's uplink (netem not used)",
                "cgroups": self.testbed.cgroups,
                "devices": [
                    {"catalogue": s.catalogue, "slowdown": s.slowdown, "cpu_cores": s.cores}
                    for s in self.speeds
                ],
            }
        if report["style"] == "slot":
            plan = self.plan
            for row in report["decisions"]:
                row["rate_bps"] = [
                    plan.rate_bps(n, row["step"] * plan.period_s) for n in range(report["devices"])
                ]
        return report


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(f"edgesplit: ended by signal {signum}")


def run_live(config: LiveConfig, progress: Callable[[str], None] = lambda _: None) -> dict:
    """Run the controller, the servers and the device agents for ``config.duration_s`` on this
    host and report."""
    return Launcher(config, progress).run()
