"""``edgesplit live``: edge servers, device processes and a controller on 127.0.0.1, driven step
by step by the same policy objects the simulator uses.

The controller keeps the *world model*: the scenario re-targeted to this host (``live_scenario``:
every device and server takes the host's measured profiles, the task rate per second is kept
when the slot is shortened, the runtime's link profile prices every offload) and its env
(``SlotMECEnv``, which draws arrivals, link rates and the modelled batteries; or
``TaskWindowMECEnv``). Every slot of a slot-style scenario (shi2025) it

1. observes: arrivals and batteries from the world model, each device's uplink as the device
   measured it (EWMA of its own transfers; the shaped target before it has sent anything) and
   the threads of the servers that answer their health check;
2. decides: ``policy.decide`` on that observation (a learner trained on the preset sees the
   preset's units and the live server's threads are allocated by its allocator), then
   hysteresis (a device keeps its cut unless the new one is better by ``hysteresis`` of its
   Eq. 10 term) and a least-expected-completion server per offloading device;
3. pushes the cut, threads, server, codec and shaping rate to every device, which runs the slot's
   tasks at their arrival times through the real servers and reports every task;
4. predicts the slot with the cost model (``slot_step`` at the rates applied) and advances the
   modelled batteries.

A task-window scenario (zhang2026) is stepped window by window: the policy's window, cut,
channel, server and power per task, tasks of a server that does not answer moved to a healthy
one, each task shaped to its predicted rate; the next window when every device has reported.

The report holds every task: offloaded, local by decision, or local because the server failed
(and why), measured against predicted latency per component, and modelled energy.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

import numpy as np

from edgesplit.contract import SLOT_FIELDS, WINDOW_FIELDS, Decision, SlotState
from edgesplit.costs import task_energy_j
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.sim.scenario import Runtime, Scenario, Server
from edgesplit.sim.slot import SlotSystem
from edgesplit.sim.window import MIN_POWER_SHARE

FAULT_KINDS = ("kill-server", "drop", "slow-link")
HOST = "epyc2"  # the shipped link profile and profile collection of the development host
LIVE_STYLES = ("slot", "task_window")
FAULT_TICK_S = 0.1  # faults strike within this of their time, mid-slot too


@dataclass(frozen=True)
class Fault:
    """``kill-server@T[:BACK]`` (server 0 killed at T s, back at T + BACK s when given),
    ``drop@P`` (servers withhold a share P of replies), ``slow-link@T:MBPS`` (from T s every
    device's link is capped at MBPS)."""

    kind: str
    at_s: float = 0.0
    value: float | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        kind, _, rest = text.partition("@")
        usage = "kill-server@T[:BACK_S], drop@P (0..1) or slow-link@T:MBPS"
        if kind not in FAULT_KINDS or not rest:
            raise InvalidParameterError("--fault", text, usage)
        first, _, second = rest.partition(":")
        try:
            numbers = [float(first), *([float(second)] if second else [])]
        except ValueError:
            raise InvalidParameterError("--fault", text, usage) from None
        if kind == "drop":
            if second or not 0 <= numbers[0] <= 1:
                raise InvalidParameterError("--fault", text, "drop@P with a share P in 0..1")
            return cls(kind, 0.0, numbers[0])
        if numbers[0] < 0 or (kind == "slow-link" and (len(numbers) < 2 or numbers[1] <= 0)):
            raise InvalidParameterError("--fault", text, usage)
        return cls(kind, numbers[0], numbers[1] if len(numbers) > 1 else None)

    def __str__(self) -> str:
        if self.kind == "drop":
            return f"drop@{self.value:g}"
        back = "" if self.value is None else f":{self.value:g}"
        return f"{self.kind}@{self.at_s:g}{back}"


def host_hardware(
    models: tuple[str, ...], input_size: int, progress: Callable[[str], None] = lambda _: None
) -> tuple[str, str]:
    """The measured profiles standing for this machine, and a note: the shipped ``epyc2``
    collection on the machine it was measured on; on any other, this machine's own profiles of
    ``models`` (1 thread up to all cores, in powers of two), measured once into the cache
    (``<cache>/profiles/host-<digest of CPU, cores, torch, input size>``) and kept."""
    import hashlib

    import torch

    from edgesplit.profile.catalogue import hardware_profile
    from edgesplit.profile.data import cache_root
    from edgesplit.profile.measure import machine_description

    profiled = hardware_profile(HOST, "mobilenet_v2")[0].machine
    here = machine_description("cpu")
    cpu, cores = here["cpu"], here["cores"]
    if (cpu, cores) == (profiled.get("cpu"), profiled.get("cores")) and input_size == 224:
        return HOST, f"this machine ({cpu}, {cores} cores) is the profiled {HOST}"
    identity = json.dumps([cpu, cores, torch.__version__, input_size])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    folder = cache_root() / "profiles" / f"host-{digest}"
    missing = [m for m in models if not (folder / f"{m}.json").is_file()]
    for index, model in enumerate(missing):
        progress(f"profiling this machine once: {model} ({index + 1}/{len(missing)})")
        measure_host_profile(model, input_size, folder / f"{model}.json")
    return str(folder), f"this machine ({cpu}, {cores} cores): its own profiles in {folder}"


def measure_host_profile(model: str, input_size: int, path: Any, repeats: int = 5) -> None:
    """Measure ``model`` on this machine as ``edgesplit profile`` does (16 cuts, 1 thread up to
    all cores in powers of two) and write the profile to ``path``."""
    from edgesplit.graph.zoo import load_traced
    from edgesplit.profile.data import save_profile
    from edgesplit.profile.measure import available_cores, measure_profile, select_cuts

    cores = available_cores()
    threads = sorted({1, cores, *(2**i for i in range(cores.bit_length()) if 2**i <= cores)})
    net, example, graph = load_traced(model, "operator", input_size)
    command = (
        f"edgesplit profile {model} --threads {','.join(map(str, threads))} --repeats {repeats} "
        f"--warmup 2 --cuts 16 --input-size {input_size} (by edgesplit live)"
    )
    profile, _ = measure_profile(
        net, graph, example, threads, "cpu", repeats, 2, select_cuts(graph, 16), command
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    save_profile(profile, path)


def live_scenario(
    scenario: Scenario, devices: int, slot_s: float | None, hardware: str, server_threads: int
) -> Scenario:
    """The scenario re-targeted to the machines that run it live: ``devices`` devices (the
    scenario's device types in turn), each on ``hardware`` at one thread with the powers of its
    original hardware and its own link; the servers on ``hardware`` (slot style: one with
    ``server_threads`` and slots of ``slot_s``, arrivals scaled to keep tasks per second;
    task-window style: the scenario's servers, among which the policy chooses); the runtime's
    overheads priced by the scenario's link profile, else this host's."""
    from edgesplit.profile.catalogue import device_powers

    if scenario.style not in LIVE_STYLES:
        raise InvalidParameterError(
            "--scenario", scenario.name,
            f"a slot (shi2025) or task_window (zhang2026) scenario; {scenario.name} is "
            f"{scenario.style}",
        )  # fmt: skip
    if devices < 1:
        raise InvalidParameterError("--devices", devices, "at least 1")
    slot_s = scenario.slot_s if slot_s is None or scenario.style != "slot" else slot_s
    scale = slot_s / scenario.slot_s
    kinds = [d for d in scenario.devices for _ in range(d.count)]
    made = []
    for i in range(devices):
        original = kinds[i % len(kinds)]
        powers = device_powers(original.hardware)
        low, high = original.arrivals_per_slot
        made.append(
            original.model_copy(
                update={
                    "hardware": hardware,
                    "threads": 1,
                    "count": 1,
                    "compute_power_w": original.compute_power_w
                    if original.compute_power_w is not None
                    else powers.get("compute_power_w", 0.0),
                    "transmit_power_w": original.transmit_power_w
                    if original.transmit_power_w is not None
                    else powers.get("transmit_power_w", 0.0),
                    "input_bits": None,  # what the runtime really sends: the fp32 input
                    "arrivals_per_slot": (low * scale, high * scale),
                    "uplink": original.uplink or scenario.uplink,
                }
            )
        )
    k_min = min(scenario.servers[0].min_threads_per_task, server_threads // devices)
    servers = [
        Server(
            hardware=hardware, threads=(server_threads, server_threads), min_threads_per_task=k_min
        )
    ]
    if scenario.style == "task_window":  # the policy chooses among the scenario's servers
        servers = [s.model_copy(update={"hardware": hardware}) for s in scenario.servers]
    runtime = scenario.runtime or Runtime(link=HOST, codecs=("fp32",))
    return scenario.model_copy(
        update={
            "name": f"{scenario.name}-live",
            "devices": made,
            "servers": servers,
            "slot_s": slot_s,
            "runtime": runtime,
        }
    )


# -- processes ---------------------------------------------------------------------------------


def _server_main(settings: dict[str, Any], ports: Any) -> None:
    from edgesplit.runtime.server import ServerConfig, serve

    serve(ServerConfig(**settings), lambda port: ports.put(port))


def _send(conn: Connection, message: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(message).encode())  # JSON: nothing crosses as a pickle


def _receive(conn: Connection) -> dict[str, Any]:
    return json.loads(conn.recv_bytes())


def _device_main(conn: Connection, options: dict[str, Any]) -> None:
    """One device: wait for step commands, run each step's tasks in order (the k-th not before
    ``start + k * spacing_s``: a slot's arrivals; a window's tasks follow each other), report
    every task; stop after the steps queued before ``stop``."""
    import torch

    from edgesplit.compress.codecs import Codec
    from edgesplit.runtime.client import DeviceClient, TokenBucket

    torch.set_num_threads(1)
    shaper = TokenBucket(options["rate_bps"])
    client = DeviceClient(
        options["model"], options["servers"], timeout_s=options["timeout_s"],
        granularity=options["granularity"], input_size=options["input_size"], uplink=shaper,
        retry_s=options["retry_s"], overhead=tuple(options["overhead"]),
    )  # fmt: skip
    generator = torch.Generator().manual_seed(options["seed"])
    inputs = [torch.randn(client.example.shape, generator=generator) for _ in range(4)]
    for server in range(len(options["servers"])):
        client.connected(server, timeout_s=30.0)
    client.run(inputs[0], client.cut_count - 1)  # warm the all-local path
    commands: queue.Queue[dict[str, Any]] = queue.Queue()

    def listen() -> None:
        while True:
            try:
                commands.put(_receive(conn))
            except (EOFError, OSError):
                commands.put({"stop": True})
                return

    threading.Thread(target=listen, daemon=True).start()
    _send(conn, {"ready": client.cut_count})
    done = 0
    while True:
        command = commands.get()
        if command.get("stop"):
            break
        records = []
        for k, task in enumerate(command["tasks"]):
            arrival = command["start"] + k * command["spacing_s"]
            pause = arrival - time.monotonic()
            if pause > 0:
                time.sleep(pause)  # the task arrives then
            began = time.monotonic()
            shaper.set_rate(task["rate_bps"])
            _, record = client.run(
                inputs[done % len(inputs)], task["cut"], task["threads"], task["server"],
                Codec.parse(task["codec"]),
            )  # fmt: skip
            done += 1
            records.append({**record.record(), "wait_s": max(0.0, began - arrival)})
        if command["tasks"] and not any(r["offloaded"] for r in records):
            client.probe(server=command["tasks"][0]["server"])  # keep the uplink estimate current
        _send(conn, {"step": command["step"], "tasks": records, "uplink_bps": client.uplink_bps})
    client.close()
    _send(conn, {"done": done})


@dataclass
class _ServerHandle:
    settings: dict[str, Any]
    process: Any = None
    ports: Any = None
    port: int = 0
    healthy: bool = False
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class _Servers:
    """The edge server processes: start, kill, restart on the same port, health and state."""

    def __init__(self, context: Any, count: int, settings: dict[str, Any]) -> None:
        self.context = context
        self.handles = [_ServerHandle(dict(settings)) for _ in range(count)]

    def start(self, index: int, timeout_s: float = 120.0) -> None:
        """Start server ``index`` and wait until it listens."""
        ports = self.launch(index)
        try:
            self.handles[index].port = ports.get(timeout=timeout_s)
        except queue.Empty:
            self.handles[index].process.kill()
            raise EdgesplitError(f"edge server {index} did not start in {timeout_s:g} s") from None

    def launch(self, index: int) -> Any:
        """Start server ``index`` on its port (0: any) without waiting; returns the queue its
        port arrives on. A restarted server counts again once it answers its health check."""
        handle = self.handles[index]
        handle.ports = ports = self.context.Queue()  # held: the child opens it after start()
        settings = {**handle.settings, "port": handle.port}
        handle.process = self.context.Process(
            target=_server_main, args=(settings, ports), name=f"edgesplit-server-{index}"
        )
        handle.process.start()
        return ports

    def kill(self, index: int) -> None:
        process = self.handles[index].process
        if process is not None and process.is_alive():
            process.kill()
            process.join()
        self.handles[index].healthy = False

    def check(self) -> None:
        """Health (gRPC's health service) and state (queue, threads) of every server."""
        from edgesplit.runtime.client import healthy, server_state

        for handle in self.handles:
            alive = handle.process is not None and handle.process.is_alive()
            handle.healthy = alive and healthy(handle.address)
            state = server_state(handle.address) if handle.healthy else None
            handle.state = state or {}
            handle.healthy = handle.healthy and state is not None

    def stop(self) -> None:
        for handle in self.handles:
            process = handle.process
            if process is not None and process.is_alive():
                process.terminate()  # SIGTERM: the server finishes what is in flight
        for handle in self.handles:
            if handle.process is not None:
                handle.process.join(timeout=30)
                if handle.process.is_alive():
                    handle.process.kill()
                    handle.process.join()


# -- the controller ----------------------------------------------------------------------------


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


def server_loads(
    world: SlotSystem,
    cuts: np.ndarray,
    threads: np.ndarray,
    arrivals: np.ndarray,
    busy_s: list[float],
) -> np.ndarray:
    """Least expected completion: each offloading device (most work first) goes to the server
    whose queued and assigned tail work (seconds this slot) is least. ``busy_s`` holds each
    healthy server's current backlog; returns the server per device (-1: nothing offloaded)."""
    from edgesplit.policies.window import least_expected_completion
    from edgesplit.sim.slot import cut_rows

    work = arrivals * world.tail_s[cut_rows(world, cuts), threads]
    offloading = np.flatnonzero(cuts < world.n_cuts - 1)
    chosen = np.full(len(cuts), -1)
    same_everywhere = np.repeat(work[offloading, None], len(busy_s), axis=1)  # identical servers
    chosen[offloading] = least_expected_completion(same_everywhere, np.asarray(busy_s))
    return chosen


def keep_cuts(
    world: SlotSystem,
    state: SlotState,
    previous: tuple[np.ndarray, np.ndarray] | None,
    decided: tuple[np.ndarray, np.ndarray],
    margin: float,
) -> tuple[tuple[np.ndarray, np.ndarray], bool]:
    """Hysteresis: the previous slot's cuts (with ``previous``'s threads re-allocated for this
    slot) stay unless the decided cuts and threads raise the slot's utility (Eq. 10, on the
    observed state) by more than ``margin`` of its size, so that cuts of near-equal value do
    not flap. Returns the cuts and threads to run, and whether the previous ones were kept."""
    from edgesplit.sim.slot import slot_step

    if previous is None or margin <= 0 or np.array_equal(previous[0], decided[0]):
        return decided, False

    def utility(candidate: tuple[np.ndarray, np.ndarray]) -> float:
        cuts, threads = candidate
        return slot_step(
            world, state.battery_j, cuts, threads, state.arrivals, state.uplink_bps,
            state.uplink_bps, 0.0,
        ).reward  # fmt: skip

    new, old = utility(decided), utility(previous)
    if old >= new - margin * abs(new):
        return previous, True
    return decided, False


class Controller:
    """The world model, the policy and the processes of one live run (see the module notes)."""

    def __init__(
        self, config: LiveConfig, progress: Callable[[str], None] = lambda _: None
    ) -> None:
        from edgesplit.checks import positive
        from edgesplit.policies.registry import is_learner, policy_from_spec
        from edgesplit.policies.threads import make_allocator
        from edgesplit.sim.scenario import load_scenario
        from edgesplit.sim.slot_env import SlotMECEnv
        from edgesplit.sim.window_env import TaskWindowMECEnv

        positive("--duration", config.duration_s)
        positive("--slot-s", config.slot_s)
        self.config = config
        self.preset = preset = (
            config.scenario
            if isinstance(config.scenario, Scenario)
            else load_scenario(config.scenario)
        )
        self.slot_style = preset.style == "slot"
        wanted = 1 if self.slot_style else preset.server_count
        self.server_count = config.servers or wanted
        if self.server_count < 1 or (not self.slot_style and self.server_count != wanted):
            allowed = "at least 1" if self.slot_style else f"{wanted}: the scenario's servers"
            raise InvalidParameterError("--servers", self.server_count, allowed)
        if config.hardware:
            self.hardware, self.host_note = config.hardware, f"predictions: {config.hardware}"
        else:
            models = tuple(dict.fromkeys(d.model for d in preset.devices))
            self.hardware, self.host_note = host_hardware(models, preset.input_size, progress)
        self.cores = _profile_cores(self.hardware, preset.devices[0].model)
        self.scenario = live_scenario(
            preset, config.devices, config.slot_s, self.hardware, self.cores
        )
        self.env = (SlotMECEnv if self.slot_style else TaskWindowMECEnv)(self.scenario)
        self.world = self.env.system
        self.learner = is_learner(config.policy.partition("=")[0].strip())
        if self.learner and config.devices != preset.device_count:
            raise InvalidParameterError(
                "--devices", config.devices,
                f"{preset.device_count}: a learner decides for the devices it was trained with",
            )  # fmt: skip
        self.label, self.policy = policy_from_spec(
            config.policy, preset if self.learner else self.scenario, config.seed,
            config.untrained,
        )  # fmt: skip
        if self.slot_style:
            self.allocator = make_allocator(
                getattr(self.policy, "allocator_name", "utility"), self.world
            )
        self.faults = list(config.faults)
        self.context = multiprocessing.get_context("spawn")
        drop = next((f.value for f in self.faults if f.kind == "drop"), None) or 0.0
        self.device_models = [device.model for device in self.scenario.devices]  # count 1 each
        self.models = tuple(dict.fromkeys(self.device_models))
        self.servers = _Servers(
            self.context,
            self.server_count,
            {
                "models": self.models,
                "host": "127.0.0.1",
                "port": 0,
                "granularities": (self.scenario.granularity,),
                "input_size": self.scenario.input_size,
                "cores": self.cores,
                "lanes": min(self.cores, config.devices),
                "drop_replies": drop,
                "seed": config.seed,
                "queue_limit": 4 * config.devices,
            },
        )
        self.devices: list[tuple[Any, Connection]] = []
        self.tasks: list[dict[str, Any]] = []
        self.decisions: list[dict[str, Any]] = []
        self.expected: dict[tuple[int, int], list[dict[str, float]]] = {}  # (device, step)
        self.reported: set[tuple[int, int]] = set()
        self.measured_bps: list[float | None] = [None] * config.devices
        self.previous: np.ndarray | None = None
        self.begin = 0.0  # monotonic time of the first step
        self.finished: dict[int, int] = {}  # device -> tasks it ran, once it has stopped

    # -- processes -----------------------------------------------------------------------------

    def start(self, progress: Callable[[str], None]) -> None:
        config, world = self.config, self.world
        progress(f"starting {self.server_count} edge server(s) ({', '.join(self.models)})")
        for index in range(self.server_count):
            self.servers.start(index)
        progress(f"starting {config.devices} device(s)")
        self.env.reset(seed=config.seed)
        first_rates = self.env.uplink_bps if self.slot_style else np.full(config.devices, 1e6)
        for n in range(config.devices):
            ours, theirs = self.context.Pipe()
            options = {
                "model": self.device_models[n],
                "servers": [h.address for h in self.servers.handles],
                "timeout_s": config.timeout_s,
                "granularity": self.scenario.granularity,
                "input_size": self.scenario.input_size,
                "retry_s": config.retry_s,
                "rate_bps": float(first_rates[n]),
                "seed": config.seed * 1000 + n,
                "overhead": [world.link.request_s, world.link.transport_s_per_bit],
            }
            process = self.context.Process(
                target=_device_main, args=(theirs, options), name=f"edgesplit-device-{n}"
            )
            process.start()
            self.devices.append((process, ours))
        for n, (_, conn) in enumerate(self.devices):
            if not conn.poll(300):
                raise EdgesplitError(f"device {n} did not start in 300 s")
            cuts = _receive(conn).get("ready")
            if cuts != world.n_cuts[n]:
                raise EdgesplitError(
                    f"device {n}: {self.device_models[n]} has {cuts} cuts on the device and "
                    f"{world.n_cuts[n]} in the cost table"
                )

    def stop(self) -> None:
        for process, conn in self.devices:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
            conn.close()
        self.servers.stop()

    def healthy(self, elapsed_s: float) -> list[int]:
        """Strike the faults that are due; the servers that answer their health check."""
        _apply_faults(self.faults, elapsed_s, self.servers)
        self.servers.check()
        return [i for i, handle in enumerate(self.servers.handles) if handle.healthy]

    def push(self, step: int, start: float, spacing_s: list[float], tasks: list[list[dict]]):
        """Send every device its tasks of this step; keep what the model predicts of each."""
        for n, (_, conn) in enumerate(self.devices):
            commands = [{k: t[k] for k in TASK_FIELDS} for t in tasks[n]]
            self.expected[(n, step)] = [
                {k: t[k] for k in (*PREDICTED, *ENERGY_FIELDS)} for t in tasks[n]
            ]
            message = {"step": step, "start": start, "spacing_s": spacing_s[n], "tasks": commands}
            _send(conn, message)

    # -- one slot (shi2025) ---------------------------------------------------------------------

    def observe(self, elapsed_s: float) -> tuple[SlotState, np.ndarray]:
        """The slot's state as the controller sees it, and the link rates the devices get."""
        rates = self.env.uplink_bps.copy()
        cap = _slow_link(self.faults, elapsed_s)
        if cap is not None:  # the slow link, both ways
            rates = np.minimum(rates, cap)
            self.env.downlink_bps = np.minimum(self.env.downlink_bps, cap)
        seen = np.array(
            [r if m is None else m for r, m in zip(rates, self.measured_bps, strict=True)]
        )
        state = SlotState(self.env.arrivals.copy(), self.env.battery_j.copy(), seen, self.cores)
        return state, rates

    def decide(self, state: SlotState, up: list[int]) -> tuple[np.ndarray, np.ndarray, str]:
        """Cuts and threads for the slot, and what decided them."""
        from edgesplit.sim.slot import allocate_threads

        world = self.world
        if not up:
            cuts = world.n_cuts - 1
            why = "no server answers its health check: all local"
            return cuts, allocate_threads(world, state, cuts, self.allocator), why
        observation = state
        if self.learner:  # the preset's units: arrivals per its slot, its server's threads
            observation = SlotState(
                state.arrivals * self.preset.slot_s / self.config.slot_s, state.battery_j,
                state.uplink_bps, _preset_threads(self.preset),
            )  # fmt: skip
        decision = self.policy.decide(observation.encode())
        cuts = np.asarray(decision.cut, dtype=np.int64)
        if self.learner or decision.threads is None:  # threads for this server
            threads = allocate_threads(world, state, cuts, self.allocator)
        else:
            threads = np.asarray(decision.threads, dtype=np.int64)
        before = None
        if self.previous is not None:
            before = (self.previous, allocate_threads(world, state, self.previous, self.allocator))
        (cuts, threads), kept = keep_cuts(
            world, state, before, (cuts, threads), self.config.hysteresis
        )
        return cuts, threads, "kept (hysteresis)" if kept else "policy"

    def run_slot(self, step: int, start: float, elapsed_s: float) -> str:
        """Observe, decide, predict the slot, push the decision to the devices."""
        world, env = self.world, self.env
        up = self.healthy(elapsed_s)
        state, rates = self.observe(elapsed_s)
        cuts, threads, why = self.decide(state, up)
        busy = [_backlog_s(self.servers.handles[i].state) for i in up]
        chosen = server_loads(world, cuts, threads, state.arrivals, busy) if up else None
        server = np.full(len(cuts), -1) if chosen is None else np.array(
            [up[s] if s >= 0 else -1 for s in chosen]
        )  # fmt: skip
        counts = np.rint(env.arrivals).astype(int)
        env.uplink_bps = rates.copy()  # the prediction takes the rates the links really have
        action = Decision(cut=cuts, threads=threads).as_action(SLOT_FIELDS)
        info = env.step(action)[-1]
        codecs = [world.link.codecs[c] for c in info["codec"]]  # the fastest at each rate
        tasks = []
        for n in range(len(cuts)):
            task = {
                "cut": int(cuts[n]), "threads": int(threads[n]), "server": int(max(server[n], 0)),
                "codec": codecs[n], "rate_bps": float(rates[n]), "local_s": info["local_s"][n],
                "transmit_s": info["transmit_s"][n], "queue_s": info["queue_s"][n],
                "server_s": info["server_s"][n], "latency_s": info["latency_s"][n],
                "energy_j": info["task_energy_j"][n],
                "compute_power_w": world.compute_power_w[n],
                "transmit_power_w": world.transmit_power_w[n],
                "device_macs": world.device_macs[world.row_offset[n] + cuts[n]],
                "energy_per_mac_j": world.energy_per_mac_j[n],
            }  # fmt: skip
            tasks.append([task] * int(counts[n]))
        spacing = [self.config.slot_s / max(int(c), 1) for c in counts]
        self.push(step, start, spacing, tasks)
        self.decisions.append(
            {
                "step": step,
                "t_s": round(elapsed_s, 3),
                "why": why,
                "healthy_servers": up,
                "cut": (cuts + 1).tolist(),  # 1-based, as the CLI shows cuts
                "threads": threads.tolist(),
                "server": server.tolist(),
                "codec": codecs,
                "rate_bps": rates.tolist(),
                "observed_uplink_bps": state.uplink_bps.tolist(),
                "tasks": counts.tolist(),
            }
        )
        self.previous = cuts
        return (
            f"cuts {(cuts + 1).tolist()}, {int(counts.sum())} tasks, "
            f"servers up {len(up)}/{self.server_count}"
        )

    # -- one task window (zhang2026) -------------------------------------------------------------

    def run_window(self, step: int, start: float, elapsed_s: float) -> str:
        """Decide a window for every device on the world's state, put tasks meant for a server
        that does not answer on the healthy one with the fewest of this window's tasks (or on
        the device when none answers), predict, push."""
        world, env = self.world, self.env
        up = self.healthy(elapsed_s)
        decision = self.policy.decide(env.observation())
        window = np.minimum(decision.window, env.remaining)
        cut, server = decision.cut.copy(), decision.server.copy()
        active = np.arange(cut.shape[1])[None, :] < window[:, None]
        offloaded = active & (cut < world.n_cuts[:, None] - 1)
        why = "policy"
        if not up:
            cut[offloaded] = np.broadcast_to(world.n_cuts[:, None] - 1, cut.shape)[offloaded]
            why = "no server answers its health check: all local"
        elif offloaded[~np.isin(server, up)].any():
            load = {s: int((offloaded & (server == s)).sum()) for s in up}
            for n, k in zip(*np.nonzero(offloaded & ~np.isin(server, up)), strict=True):
                server[n, k] = best = min(load, key=load.get)
                load[best] += 1
            why = "policy; tasks of servers that do not answer moved"
        chosen = Decision(
            cut=cut, window=decision.window, channel=decision.channel, server=server,
            power_w=decision.power_w,
        )  # fmt: skip
        info = env.step(chosen.as_action(WINDOW_FIELDS))[-1]
        radio = self.scenario.radio
        power = np.clip(  # as the radio model takes it
            decision.power_w, MIN_POWER_SHARE * radio.max_transmit_power_w,
            radio.max_transmit_power_w,
        )  # fmt: skip
        cap = _slow_link(self.faults, elapsed_s)
        rates = info["task_rate_bps"] if cap is None else np.minimum(info["task_rate_bps"], cap)
        tasks = []
        for n in range(len(window)):
            tasks.append(
                [
                    {
                        "cut": int(cut[n, k]), "threads": 0, "server": int(server[n, k]),
                        "codec": world.link.codecs[int(info["task_codec"][n, k])],
                        "rate_bps": float(rates[n, k]) if offloaded[n, k] else 1e9,
                        "local_s": info["task_local_s"][n, k],
                        "transmit_s": info["task_transmit_s"][n, k], "queue_s": 0.0,
                        "server_s": info["task_server_s"][n, k],
                        "latency_s": info["task_latency_s"][n, k],
                        "energy_j": info["task_energy_j"][n, k],
                        "compute_power_w": world.compute_power_w[n],
                        "transmit_power_w": power[n, k],
                        "device_macs": world.device_macs[world.row_offset[n, server[n, k]]
                                                         + cut[n, k]],
                        "energy_per_mac_j": world.energy_per_mac_j[n],
                    }
                    for k in range(int(info["window"][n]))
                ]
            )  # fmt: skip
        self.push(step, start, [0.0] * len(window), tasks)
        self.decisions.append(
            {
                "step": step,
                "t_s": round(elapsed_s, 3),
                "why": why,
                "healthy_servers": up,
                "cut": [[t["cut"] + 1 for t in row] for row in tasks],
                "server": [[t["server"] for t in row] for row in tasks],
                "codec": [[t["codec"] for t in row] for row in tasks],
                "rate_bps": [[t["rate_bps"] for t in row] for row in tasks],
                "tasks": [len(row) for row in tasks],
                "remaining": env.remaining.tolist(),
            }
        )
        return (
            f"windows {[len(row) for row in tasks]}, {int(env.remaining.sum())} tasks left, "
            f"servers up {len(up)}/{self.server_count}"
        )

    # -- the run ---------------------------------------------------------------------------------

    def run(self, progress: Callable[[str], None]) -> dict:
        """Start everything, run the steps (slots, or windows until every task is done or the
        time is up), drain the devices, stop everything, report."""
        config = self.config
        slots = max(1, round(config.duration_s / config.slot_s))
        try:
            self.start(progress)
            self.begin = begin = time.monotonic()
            step = 0
            while True:
                now = time.monotonic()
                if self.slot_style:
                    if step == slots:
                        break
                    start = begin + step * config.slot_s
                    said = self.run_slot(step, start, now - begin)
                    progress(f"slot {step + 1}/{slots}: {said}")
                    self.collect(start + config.slot_s)
                else:
                    if now - begin >= config.duration_s or not self.env.remaining.any():
                        break
                    said = self.run_window(step, now, now - begin)
                    progress(f"window {step + 1}: {said}")
                    while not self.step_reported(step) and time.monotonic() < now + 600:
                        self.collect(time.monotonic() + 1.0)
                step += 1
            for _, conn in self.devices:
                _send(conn, {"stop": True})  # each finishes its queued steps first
            progress("the devices finish their tasks")
            deadline = time.monotonic() + max(60.0, 10 * config.slot_s)
            while len(self.finished) < config.devices and time.monotonic() < deadline:
                self.collect(time.monotonic() + 1.0)
        finally:
            self.stop()
        return self.report()

    def step_reported(self, step: int) -> bool:
        return all((n, step) in self.reported for n in range(self.config.devices))

    def collect(self, until: float) -> None:
        """Gather the devices' step reports (and their last word) until ``until``
        (monotonic); each task gets what the model predicted of it."""
        connections = {
            conn: n for n, (_, conn) in enumerate(self.devices) if n not in self.finished
        }
        while connections:
            left = until - time.monotonic()
            if left <= 0:
                break
            _apply_faults(self.faults, time.monotonic() - self.begin, self.servers)  # on time
            for conn in wait(list(connections), timeout=min(left, FAULT_TICK_S)):
                try:
                    report = _receive(conn)
                except (EOFError, OSError):
                    connections.pop(conn)
                    continue
                n = connections[conn]
                if "done" in report:
                    self.finished[n] = report["done"]
                    connections.pop(conn)
                    continue
                if report["uplink_bps"] is not None:
                    self.measured_bps[n] = report["uplink_bps"]
                step = report["step"]
                self.reported.add((n, step))
                expected = self.expected[(n, step)]
                self.tasks.extend(
                    {"device": n, "step": step, **task, "predicted": expected[k]}
                    for k, task in enumerate(report["tasks"])
                )

    def report(self) -> dict:
        """Per device: tasks (offloaded, local by decision, local because of a failure and
        why), measured and predicted latency per component over the tasks that ran as
        decided, and the modelled energy of the measured tasks against the predicted."""
        config = self.config
        rows = []
        for n in range(config.devices):
            mine = [t for t in self.tasks if t["device"] == n]
            as_decided = [t for t in mine if t["fallback"] is None]
            measured, predicted = {}, {}
            for ours, theirs in COMPONENTS:
                values = [_component(t, ours) for t in as_decided]
                expected = [t["predicted"][theirs] for t in as_decided]
                measured[ours] = statistics.mean(values) if values else None
                predicted[ours] = statistics.mean(expected) if expected else None
            local = Counter(t["fallback"] or "decided" for t in mine if not t["offloaded"])
            sent = [t for (device, _), step in self.expected.items() if device == n for t in step]
            rows.append(
                {
                    "device": n,
                    "model": self.device_models[n],
                    "link": _link_name(self.scenario.devices[n].uplink)
                    if self.slot_style
                    else "zhang2026 radio",
                    "arrived": len(sent),
                    "done": len(mine),
                    "offloaded": sum(t["offloaded"] for t in mine),
                    "local": dict(local),
                    "device_wait_s": statistics.mean(t["wait_s"] for t in mine) if mine else None,
                    "measured": measured,
                    "predicted": predicted,
                    "energy_j_modelled": sum(_energy_j(t) for t in mine),
                    "predicted_energy_j": sum(t["predicted"]["energy_j"] for t in mine),
                }
            )
        tasks = self.tasks
        return {
            "scenario": self.preset.name,
            "style": self.preset.style,
            "policy": self.label,
            "devices": config.devices,
            "servers": self.server_count,
            "duration_s": config.duration_s,
            "slot_s": config.slot_s if self.slot_style else None,
            "seed": config.seed,
            "hardware": self.hardware,
            "host": self.host_note,
            "faults": [str(f) for f in config.faults],
            "hysteresis": config.hysteresis if self.slot_style else None,
            "decisions": self.decisions,
            "per_device": rows,
            "totals": {
                "arrived": sum(row["arrived"] for row in rows),
                "done": len(tasks),
                "offloaded": sum(t["offloaded"] for t in tasks),
                "local": sum(not t["offloaded"] for t in tasks),
                "devices_finished": len(self.finished),
                "not_dispatched": int(self.env.remaining.sum()) if not self.slot_style else 0,
            },
            "tasks": tasks,
        }


def run_live(config: LiveConfig, progress: Callable[[str], None] = lambda _: None) -> dict:
    """Run servers, devices and the controller for ``config.duration_s`` and report."""
    return Controller(config, progress).run(progress)


def _profile_cores(hardware: str, model: str) -> int:
    from edgesplit.profile.catalogue import hardware_profile

    profile, _ = hardware_profile(hardware, model)
    return max(profile.cpu) if profile.cpu else 1


def _preset_threads(preset: Scenario) -> int:
    threads = preset.servers[0].threads
    return threads[1] if threads else 1


def _backlog_s(state: dict[str, Any]) -> float:
    """A server's backlog in seconds: waiting requests times the mean tail it has run."""
    waiting = state.get("waiting", 0)
    mean_tail = state.get("mean_tail_s", 0.0)
    return float(waiting) * float(mean_tail)


def _apply_faults(faults: list[Fault], elapsed_s: float, servers: _Servers) -> None:
    for fault in list(faults):
        if fault.kind != "kill-server" or elapsed_s < fault.at_s:
            continue
        servers.kill(0)
        faults.remove(fault)
        if fault.value is not None:  # it comes back: a restart fault at T + BACK
            faults.append(Fault("restart-server", fault.at_s + fault.value))
    for fault in list(faults):
        if fault.kind == "restart-server" and elapsed_s >= fault.at_s:
            servers.launch(0)  # on its old port: the devices' channels reconnect
            faults.remove(fault)


def _slow_link(faults: list[Fault], elapsed_s: float) -> float | None:
    caps = [f.value * 1e6 for f in faults if f.kind == "slow-link" and elapsed_s >= f.at_s]
    return min(caps) if caps else None


# (measured, predicted): the task record's components against the cost model's
COMPONENTS = (
    ("head_s", "local_s"),
    ("link_s", "transmit_s"),
    ("queue_s", "queue_s"),
    ("tail_s", "server_s"),
    ("latency_s", "latency_s"),
)
PREDICTED = ("local_s", "transmit_s", "queue_s", "server_s", "latency_s", "energy_j")
TASK_FIELDS = ("cut", "threads", "server", "codec", "rate_bps")  # what a device is told
ENERGY_FIELDS = ("compute_power_w", "transmit_power_w", "device_macs", "energy_per_mac_j")


def _component(task: dict[str, Any], name: str) -> float:
    if name == "link_s":
        return task["codec_s"] + task["transfer_s"]
    if name == "head_s" and not task["offloaded"]:
        return task["head_s"] + task["tail_s"]  # an all-local cut: the whole model
    if name == "tail_s" and not task["offloaded"]:
        return 0.0
    return task[name]


def _energy_j(task: dict[str, Any]) -> float:
    """Modelled device energy of a measured task (``costs.task_energy_j`` with the measured
    times and the task's powers and MACs): the device computes the head, and the tail when it
    ran locally (or zeta x MACs where the scenario counts MACs); it transmits for the whole
    transfer."""
    model = task["predicted"]
    compute_s = task["head_s"] + (0.0 if task["offloaded"] else task["tail_s"])
    return float(
        task_energy_j(
            compute_s, model["compute_power_w"], task["transfer_s"], model["transmit_power_w"],
            device_macs=model["device_macs"], energy_per_mac_j=model["energy_per_mac_j"],
        )
    )  # fmt: skip


def _link_name(uplink: Any) -> str:
    if uplink is None:
        return "scenario"
    if uplink.kind == "uniform":
        return f"uniform {uplink.low_bps / 1e6:g}-{uplink.high_bps / 1e6:g} Mbit/s"
    if uplink.kind == "umi":
        return f"5G UMi {uplink.frequency_hz / 1e9:g} GHz"
    return f"trace {os.path.basename(uplink.trace_file or '')}"
