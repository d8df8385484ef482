"""The machines a live run stands on: the measured profiles that stand for this host (the shipped
collection of the CPU it was measured on, else this host's own, measured once and cached), and
the scenario re-targeted to the hosts that run it live."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgesplit.errors import InvalidParameterError
from edgesplit.sim.scenario import Runtime, Scenario, Server

HOST = "epyc2"  # the shipped link profile and profile collection of the development host
LIVE_STYLES = ("slot", "task_window")


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
    from edgesplit.profile.catalogue import hardware_profile

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
    from edgesplit.profile.catalogue import hardware_profile, whole_latency_s

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
    from edgesplit.profile.catalogue import hardware_profile
    from edgesplit.profile.data import save_profile

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
