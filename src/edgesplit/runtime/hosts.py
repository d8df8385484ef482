"""The machines a live run stands on: the measured profiles that stand for this host (the shipped
collection of the CPU it was measured on, else this host's own: measured once, only what the
run's predictions use, and cached; or derived in seconds while they are measured), and the
scenario re-targeted to the hosts that run it live."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.graph.zoo import load_traced
from edgesplit.policies.registry import check_policy_name, is_learner, policy_from_spec
from edgesplit.profile.catalogue import device_powers, hardware_profile, whole_latency_s
from edgesplit.profile.data import cache_root, load_profile_file, save_profile, shipped_models
from edgesplit.profile.measure import (
    available_cores,
    machine_description,
    measure_profile,
    resume_problem,
    time_call,
)
from edgesplit.sim.scenario import Runtime, Scenario, Server

HOST = "epyc2"  # the shipped link profile and profile collection of the development host
LIVE_STYLES = ("slot", "task_window")


@dataclass(frozen=True)
class HostProfiles:
    """The profiles standing for this machine in a run: ``hardware`` (a shipped collection or a
    folder) is what predictions use from the start; ``pending``, where set, is the folder of
    this machine's own profiles still being measured, to switch to once ``complete``."""

    hardware: str
    note: str
    pending: str | None = None


def run_servers(preset: Scenario, servers: int | None) -> int:
    """A live run's edge servers: ``servers`` (any count from 1 for the slot style, the
    scenario's for the task-window style, whose decisions name its servers), else one (slot
    style) or the scenario's."""
    wanted = 1 if preset.style == "slot" else preset.server_count
    count = wanted if servers is None else servers
    if count < 1 or (preset.style != "slot" and count != wanted):
        allowed = "at least 1" if preset.style == "slot" else f"{wanted}: the scenario's servers"
        raise InvalidParameterError("--servers", count, allowed)
    return count


def early_policy(
    spec: str, preset: Scenario, seed: int, untrained: bool, settings: dict[str, str]
) -> tuple[str, Any] | None:
    """What a live run can check of its policy before any profile is measured: a learner's
    whole policy (label, policy), built on the preset it was trained on (no hardware enters
    it), with its checkpoint; a rule's name only (its cost tables need the run's hardware),
    and then None."""
    name = spec.partition("=")[0].strip()
    if is_learner(name):
        return policy_from_spec(spec, preset, seed, untrained, settings)
    check_policy_name(name, preset.style)
    return None


def host_threads(cores: int) -> tuple[int, ...]:
    """The thread counts a run on ``cores`` cores can use and its predictions interpolate
    between: 1 up to all cores, in powers of two."""
    return tuple(sorted({1, cores, *(2**i for i in range(cores.bit_length()) if 2**i <= cores)}))


def host_hardware(
    models: tuple[str, ...],
    input_size: int,
    progress: Callable[[str], None] = lambda _: None,
    derive_first: bool = False,
) -> HostProfiles:
    """The measured profiles standing for this machine: the shipped ``epyc2`` collection on the
    machine it was measured on; on any other, this machine's own profiles of ``models``,
    measured into the cache (``<cache>/profiles/host-<digest of CPU, cores, torch, input
    size>``) with only what a run's predictions use (``measure_host_profiles``) and kept,
    an interrupted measurement included. ``derive_first``: where they are not complete yet,
    measure nothing now: predictions start on profiles derived from the shipped ones
    (``derive_host_profiles``, seconds) and the measured folder is ``pending``."""
    import hashlib

    import torch

    profiled = hardware_profile(HOST, "mobilenet_v2")[0].machine
    here = machine_description("cpu")
    cpu, cores = here["cpu"], here["cores"]
    if (cpu, cores) == (profiled.get("cpu"), profiled.get("cores")) and input_size == 224:
        return HostProfiles(HOST, f"this machine ({cpu}, {cores} cores) is the profiled {HOST}")
    identity = json.dumps([cpu, cores, torch.__version__, input_size])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    folder = cache_root() / "profiles" / f"host-{digest}"
    threads = host_threads(available_cores())
    own = f"this machine ({cpu}, {cores} cores): its own profiles in {folder}"
    unshipped = set(models) - set(shipped_models(HOST))
    if not derive_first or unshipped or host_profiles_complete(folder, models, threads):
        measure_host_profiles(models, input_size, folder, threads, progress)
        if derive_first and unshipped:
            own += f" (measured first: {HOST} has no {', '.join(sorted(unshipped))} to derive from)"
        return HostProfiles(str(folder), own)
    derived = folder / "derived"
    derive_host_profiles(models, input_size, derived, threads, progress)
    note = (
        f"this machine ({cpu}, {cores} cores): predictions start on profiles derived from "
        f"{HOST} ({derived}) while its own are measured into {folder}"
    )
    return HostProfiles(str(derived), note, str(folder))


def host_profiles_complete(folder: Path, models: tuple[str, ...], threads: tuple[int, ...]) -> bool:
    """Whether ``folder`` holds a profile of every model at every thread count."""
    for model in models:
        path = folder / f"{model}.json"
        try:
            if not path.is_file() or not set(threads) <= _trusted(load_profile_file(path)):
                return False
        except EdgesplitError:
            return False
    return True


def _trusted(profile: Any) -> set[int]:
    """The thread counts of a profile that planning accepts (a setting flagged noisy is
    measured again)."""
    return {k for k, measured in profile.cpu.items() if not measured.noisy}


def measure_host_profiles(
    models: tuple[str, ...],
    input_size: int,
    folder: Path,
    threads: tuple[int, ...],
    progress: Callable[[str], None] = lambda _: None,
    repeats: int = 5,
) -> None:
    """Measure on this machine what a run's predictions use of ``models``: the whole model
    and every node at each of ``threads`` (the cost tables' per-node predictor needs nothing
    else; no cut's head and tail is timed), into ``folder/<model>.json``, each thread count
    written as it ends and a file there continued (``measure_profile``'s resume)."""
    for index, model in enumerate(models):
        path = folder / f"{model}.json"
        earlier = None
        if path.is_file():
            try:
                earlier = load_profile_file(path)
            except EdgesplitError:
                earlier = None  # unreadable (e.g. cut off while written): measured again
        if earlier is not None and set(threads) <= _trusted(earlier):
            continue
        label = f"profiling this machine: {model} ({index + 1}/{len(models)})"
        progress(label)
        net, example, graph = load_traced(model, "operator", input_size)
        if earlier is not None:
            kept = {k: m for k, m in earlier.cpu.items() if k in _trusted(earlier)}
            earlier = None if resume_problem(earlier, graph, []) else replace(earlier, cpu=kept)
        command = (
            f"edgesplit profile {model} --threads {','.join(map(str, threads))} "
            f"--repeats {repeats} --warmup 2 --cuts 0 --input-size {input_size} --resume "
            "(by edgesplit live: what its predictions use)"
        )
        folder.mkdir(parents=True, exist_ok=True)
        measure_profile(
            net, graph, example, threads, "cpu", repeats, 2, (), command,
            lambda step, label=label: progress(f"{label}: {step}"), earlier,
            lambda so_far, path=path: save_profile(so_far, path),
        )  # fmt: skip


def measure_in_background(
    models: tuple[str, ...], input_size: int, folder: str, threads: tuple[int, ...]
) -> None:
    """``measure_host_profiles`` as a process of its own beside a running controller: at a lower
    priority than the run's processes, leaving when its parent does."""
    import os

    from edgesplit.runtime.lifetime import watch_parent

    watch_parent()
    os.nice(10)
    measure_host_profiles(models, input_size, Path(folder), threads)


def derive_host_profiles(
    models: tuple[str, ...],
    input_size: int,
    folder: Path,
    threads: tuple[int, ...],
    progress: Callable[[str], None] = lambda _: None,
) -> None:
    """Profiles of ``models`` for this machine derived in seconds: the shipped ``epyc2`` profile
    (its setting at k threads, or at its most where it has fewer), every latency times this
    machine's whole-model median at k threads over that setting's (3 timed runs each), into
    ``folder/<model>.json`` marked derived."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    previous = torch.get_num_threads()
    try:
        for model in models:
            progress(f"deriving this machine's {model} profile from {HOST}")
            net, example, graph = load_traced(model, "operator", input_size)
            base, _ = hardware_profile(HOST, model)
            settings, factors = {}, []
            with torch.no_grad():
                for k in threads:
                    torch.set_num_threads(k)
                    here_s = time_call(lambda n=net, x=example: n(x), 1, 3, "cpu").median_s
                    setting = base.cpu.get(k) or base.cpu[max(base.cpu)]
                    factor = here_s / setting.whole.median_s
                    settings[k] = setting.scaled(factor)
                    factors.append(f"{k} threads x {factor:.3g}")
            how = (
                f"derived from {HOST}: each thread count's latencies times this machine's "
                f"whole-model median over {HOST}'s ({', '.join(factors)})"
            )
            machine = {**machine_description("cpu"), "derived_from": HOST}
            shape = tuple(int(d) for d in graph.input_shapes[0])  # the factor has the size in
            derived = replace(base.scaled(1.0, machine, how), cpu=settings, input_shape=shape)
            save_profile(derived, folder / f"{model}.json")
    finally:
        torch.set_num_threads(previous)


def live_scenario(
    scenario: Scenario,
    devices: int,
    slot_s: float | None,
    hardware: str,
    server_threads: int,
    device_hardware: tuple[str, ...] = (),
) -> Scenario:
    """The scenario re-targeted to the machines that run it live: ``devices`` devices (the
    scenario's device types in turn), each on ``hardware`` (or its own of ``device_hardware``:
    the testbed's capped devices) at one thread with the powers of its original hardware and
    its own link; the servers on ``hardware`` (slot style: one with
    ``server_threads`` and slots of ``slot_s``, arrivals scaled to keep tasks per second;
    task-window style: the scenario's servers, among which the policy chooses); the runtime's
    overheads priced by the scenario's link profile, else this host's."""
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
                    "hardware": device_hardware[i] if device_hardware else hardware,
                    "threads": 1,
                    "count": 1,
                    "compute_power_w": original.compute_power_w
                    if original.compute_power_w is not None
                    else powers.get("compute_power_w", 0.0),
                    "transmit_power_w": original.transmit_power_w
                    if original.transmit_power_w is not None
                    else powers.get("transmit_power_w", 0.0),
                    "input_bits": None,  # what the runtime really sends: the fp32 input
                    "macs_per_s": None,  # the device is this host
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


def profile_cores(hardware: str, model: str) -> int:
    """The most threads ``hardware``'s profile of ``model`` was measured with (its cores)."""
    profile, _ = hardware_profile(hardware, model)
    return max(profile.cpu) if profile.cpu else 1


MIN_CORES = 0.1  # the smallest CPU cap a cgroup gets (1 ms of each 10-ms period)


@dataclass(frozen=True)
class DeviceSpeed:
    """How fast the testbed makes one device: ``slowdown`` times this host (its catalogue
    hardware's whole-model latency over this host's, each machine at all its cores, divided by
    the fastest device's where a device is faster than this host, so that the devices keep their
    catalogue's ratios), held by a CPU cap of ``cores`` (None: uncapped)."""

    catalogue: str
    model: str
    slowdown: float
    cores: float | None


def device_speeds(preset: Scenario, devices: int, host: str) -> list[DeviceSpeed]:
    """Each of ``devices`` devices' speed on the testbed (the scenario's device types in turn;
    see ``DeviceSpeed``)."""
    kinds = [d for d in preset.devices for _ in range(d.count)]
    ratios = []
    for i in range(devices):
        kind = kinds[i % len(kinds)]
        if kind.hardware == host:
            ratios.append(1.0)
            continue
        catalogue, device = hardware_profile(kind.hardware, kind.model)
        here, here_device = hardware_profile(host, kind.model)
        ratios.append(whole_latency_s(catalogue, device) / whole_latency_s(here, here_device))
    fastest = min(1.0, *ratios)
    speeds = []
    for i, ratio in enumerate(ratios):
        kind = kinds[i % len(kinds)]
        slowdown = ratio / fastest
        cores = None if slowdown <= 1.0 + 1e-9 else max(MIN_CORES, 1.0 / slowdown)
        speeds.append(DeviceSpeed(kind.hardware, kind.model, slowdown, cores))
    return speeds


def slowed_profiles(host: str, speeds: list[DeviceSpeed], folder: Path) -> tuple[str, ...]:
    """Per device, the hardware the controller predicts it with: this host's, or for a capped
    device a folder holding this host's profile of its model times its slowdown."""
    made = []
    for i, speed in enumerate(speeds):
        if speed.cores is None:
            made.append(host)
            continue
        place = folder / f"device-{i}"
        place.mkdir(parents=True, exist_ok=True)
        profile, _ = hardware_profile(host, speed.model)
        how = (
            f"{host} x {speed.slowdown:.3g}: the testbed caps this device to {speed.cores:.3g} "
            f"cores so that it is as much slower as {speed.catalogue} in the catalogue"
        )
        machine = {**profile.machine, "derived_from": host, "factor": speed.slowdown}
        save_profile(profile.scaled(speed.slowdown, machine, how), place / f"{speed.model}.json")
        made.append(str(place))
    return tuple(made)
