"""Per-device reference implementations of the system steps: plain Python loops and scalar math,
written independently of the vectorized steps that tests compare them with (and benchmarks time).

They follow the papers' equations directly, one device (and one task) at a time.
"""

from __future__ import annotations

import math

import numpy as np

from edgesplit.sim.slot import SlotSystem
from edgesplit.sim.window import MIN_POWER_SHARE, WindowSystem


def _md1(arrival_per_s: float, service_s: float) -> float:
    if service_s == 0:
        return 0.0
    if math.isinf(service_s):  # no threads for offloaded work: it is never served
        return math.inf
    mu = 1.0 / service_s
    rho = arrival_per_s / mu
    if rho >= 1:
        return math.inf
    return arrival_per_s / (2 * mu * mu * (1 - rho))  # shi2025 Eq. 3


def _link(system: SlotSystem | WindowSystem, bits: float, rate_bps: float, offloaded: bool):
    """(latency, air time, device time) of sending ``bits`` with the fastest allowed codec:
    each codec tried in turn, the first of equal ones kept."""
    if not offloaded:
        return 0.0, 0.0, 0.0
    link = system.link
    best, chosen = math.inf, 0
    for i in range(len(link.codecs)):
        ratio = float(link.wire_ratio[i])
        per_bit = float(link.encode_s_per_bit[i] + link.decode_s_per_bit[i])
        per_bit += ratio * (link.transport_s_per_bit + 1.0 / rate_bps)
        if per_bit < best:
            best, chosen = per_bit, i
    ratio = float(link.wire_ratio[chosen])
    device = float(link.encode_s_per_bit[chosen]) * bits
    return link.request_s + bits * best, ratio * bits / rate_bps, device


def slot_step_reference(
    system: SlotSystem,
    battery_j: np.ndarray,
    cuts: np.ndarray,
    threads: np.ndarray,
    arrivals: np.ndarray,
    uplink_bps: np.ndarray,
    downlink_bps: np.ndarray,
    irradiance_w_m2: float,
) -> dict[str, list[float] | float]:
    """shi2025 Eq. 1-6 and 10, device by device."""
    scenario = system.scenario
    out: dict[str, list[float]] = {
        k: [] for k in ("latency_s", "queue_s", "battery_j", "served", "consumed_j", "utility")
    }
    v = scenario.slot_reward.v
    for n in range(system.n_devices):
        table = system.tables[system.table_of[n]]
        c, k = int(cuts[n]), int(threads[n])
        last = table.n_cuts - 1
        bits = system.input_bits[n] if c == 0 else table.transfer_bits[c]
        local = table.head_s[c]
        transmit, airtime, encoding = _link(system, bits, uplink_bps[n], c < last)
        server = table.tail_s[c][k]
        downlink = system.result_bits[n] / downlink_bps[n] if c < last else 0.0
        queue = _md1(arrivals[n] / scenario.slot_s, server)
        latency = local + transmit + downlink + queue + server
        if math.isnan(system.energy_per_mac_j[n]):
            compute_j = system.compute_power_w[n] * (local + encoding)
        else:
            compute_j = system.energy_per_mac_j[n] * table.device_macs[c]
        task_j = (
            compute_j + system.transmit_power_w[n] * airtime + system.receive_power_w[n] * downlink
        )
        demand = arrivals[n] * task_j
        harvest = irradiance_w_m2 * system.area_efficiency_m2[n] * scenario.slot_s
        available = battery_j[n] + harvest
        served = 1.0 if demand <= available else available / demand
        level = min(available - served * demand, system.capacity_j[n])
        saved = (system.deadline_s[n] - latency) / system.deadline_s[n]
        saved = max(-1.0, min(1.0, saved))
        penalty = scenario.slot_reward.violation_penalty * (
            (1 - served) + (1 if math.isinf(queue) else 0)
        )
        utility = (
            v * (system.capacity_j[n] - served * demand) / system.capacity_j[n]
            + (1 - v) * saved
            - penalty
        )
        for key, value in (("latency_s", latency), ("queue_s", queue), ("battery_j", level),
                           ("served", served), ("consumed_j", served * demand),
                           ("utility", utility)):  # fmt: skip
            out[key].append(value)
    return {**out, "reward": sum(out["utility"])}


def window_step_reference(
    system: WindowSystem,
    remaining: np.ndarray,
    window: np.ndarray,
    cuts: np.ndarray,
    channels: np.ndarray,
    servers: np.ndarray,
    power_w: np.ndarray,
    gain: np.ndarray,
) -> dict[str, object]:
    """zhang2026 Eq. 1-3 and 8, task by task."""
    scenario = system.scenario
    radio = scenario.radio
    n_devices = cuts.shape[0]
    sizes = [min(int(window[n]), int(remaining[n])) for n in range(n_devices)]

    def table(n: int, m: int):
        return system.tables[_table_index(system, n, m)]

    def offloads(n: int, x: int) -> bool:
        return x < sizes[n] and cuts[n, x] < table(n, int(servers[n, x])).n_cuts - 1

    def power(n: int, x: int) -> float:
        return min(
            max(power_w[n, x], MIN_POWER_SHARE * radio.max_transmit_power_w),
            radio.max_transmit_power_w,
        )

    device_latency = [0.0] * n_devices
    energy = 0.0
    for n in range(n_devices):
        for x in range(sizes[n]):
            m = int(servers[n, x])
            t, c = table(n, m), int(cuts[n, x])
            local = t.head_s[c]
            transmit = airtime = encoding = server = 0.0
            p = power(n, x)
            if offloads(n, x):
                interference = sum(
                    power(i, x) * gain[i]
                    for i in range(n_devices)
                    if i != n and offloads(i, x) and channels[i, x] == channels[n, x]
                )
                rate = radio.bandwidth_hz * math.log2(
                    1 + p * gain[n] / (radio.noise_w + interference)
                )
                bits = system.input_bits[n] if c == 0 else t.transfer_bits[c]
                transmit, airtime, encoding = _link(system, bits, rate, True)
                sharing = sum(1 for i in range(n_devices) if offloads(i, x) and servers[i, x] == m)
                server = t.tail_s[c][-1] * sharing
            device_latency[n] += local + transmit + server
            compute_j = (
                system.compute_power_w[n] * (local + encoding)
                if math.isnan(system.energy_per_mac_j[n])
                else system.energy_per_mac_j[n] * t.device_macs[c]
            )
            energy += compute_j + p * airtime
    busy = [n for n in range(n_devices) if sizes[n] > 0]
    duration = max(device_latency)
    waiting = sum(duration - device_latency[n] for n in busy) / len(busy) if busy else 0.0
    mean_window = sum(sizes) / n_devices
    r = scenario.window_reward
    reward = 0.0
    if mean_window:
        reward = -(
            (duration + r.alpha * waiting) / mean_window + r.beta / n_devices * energy / mean_window
        )
    return {"device_latency_s": device_latency, "energy_j": energy, "duration_s": duration,
            "waiting_s": waiting, "reward": reward, "window": sizes}  # fmt: skip


def _table_index(system: WindowSystem, device: int, server: int) -> int:
    """Which of the system's tables serves (device, server): tables are stored per device type
    then per server type, in scenario order."""
    scenario = system.scenario
    device_type = int(
        np.searchsorted(np.cumsum([d.count for d in scenario.devices]), device, side="right")
    )
    return device_type * len(scenario.servers) + int(system.server_type[server])
