"""zhang2026's multi-device, multi-server system (Sec. III, IV-A), vectorized over devices, tasks.

Each device has a queue of tasks (Poisson(``mean_tasks``) at the start). In the task-aware MDP a
decision assigns each device a window of W_n <= W_max tasks and, per task, a cut, a channel, a
server and a transmit power; the tasks of position x of all windows start together (zhang2026
Sec. IV-A, Fig. 4), so interference (Eq. 1) and server sharing (Eq. 2) are counted among tasks of
the same position. Per task:

- uplink rate: Shannon over the channel's noise plus the power received from the other devices
  offloading on the same channel (Eq. 1), gain (d0/d)^h with log-normal shadowing;
- latency (Eq. 2): head on the device + sent bits / rate + the tail on the server times the number
  of tasks sharing that server. zhang2026 writes L0 (the whole model's server latency) times the
  sharing count, whatever the cut; edgesplit scales it to the offloaded part (the profile's tail
  latency), which equals L0 when everything is offloaded;
- energy (Eq. 3): P_n x transmit time + zeta x the device's MACs.

Every term is composed by ``edgesplit.costs``; a decision is a ``contract.Decision``.

The reward is Eq. 8: -((max_n L_n + alpha L_wait) / W + beta / N x E / W), with L_n the sum of
device n's task latencies in the window, L_wait the mean time the devices with tasks wait for the
slowest, W the mean window size and E the energy of all tasks.

Transmit powers below 1% of P_limit are raised to it (a rate of zero would make a task take
forever). The ``time_slot`` variant decides once per device every ``time_slot_s`` seconds (the
time-based MDP of zhang2026 Fig. 7): devices start tasks back to back with the slot's decision,
carrying unfinished work into the next slot; its reward averages latency and weighted energy over
the tasks started in the slot (0 when none start), with no waiting-time term.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from edgesplit.contract import Decision
from edgesplit.costs import (
    LinkCosts,
    ModelTable,
    load_table,
    server_share_s,
    task_energy_j,
    task_latency_s,
)
from edgesplit.costs.terms import ArrayLike
from edgesplit.net import path_gain, shadowing_gain, uplink_rates_bps
from edgesplit.sim.devices import device_columns, stacked_transfer_bits
from edgesplit.sim.scenario import Scenario, scenario_link, table_spec

MIN_POWER_SHARE = 0.01


@dataclass(frozen=True)
class WindowSystem:
    """Static arrays of a task-window scenario (one entry per device unless noted)."""

    scenario: Scenario
    tables: tuple[ModelTable, ...]  # per device type, then per server type
    n_cuts: np.ndarray  # per device
    row_offset: np.ndarray  # [devices, servers]: first stacked row of (device, server)
    server_type: np.ndarray  # per server
    transfer_bits: np.ndarray  # stacked (row 0 of each table: the input)
    input_bits: np.ndarray  # per device: what the raw-input cut (0) sends
    device_macs: np.ndarray
    head_s: np.ndarray
    server_s: np.ndarray  # stacked: the tail with the server's full thread count
    energy_per_mac_j: np.ndarray
    compute_power_w: np.ndarray
    distance_low: np.ndarray
    distance_high: np.ndarray
    mean_tasks: np.ndarray
    link: LinkCosts  # the runtime's overheads (ideal: the papers' bits / rate)

    @property
    def n_devices(self) -> int:
        return len(self.n_cuts)

    @property
    def n_servers(self) -> int:
        return len(self.server_type)


def build_window_system(scenario: Scenario) -> WindowSystem:
    """Load one cost table per (device type, server type) and expand to devices and servers."""
    server_type = np.repeat(np.arange(len(scenario.servers)), [s.count for s in scenario.servers])
    tables, type_offsets, input_bits = [], [], []
    for spec in scenario.devices:
        per_server = [load_table(table_spec(scenario, spec, server)) for server in scenario.servers]
        if len({t.n_cuts for t in per_server}) != 1:
            raise AssertionError("one model has the same cuts on every server")
        type_offsets.append(
            sum(t.n_cuts for t in tables) + np.cumsum([0] + [t.n_cuts for t in per_server])[:-1]
        )
        tables.extend(per_server)
        bits = per_server[0].input_bits if spec.input_bits is None else spec.input_bits
        input_bits.extend([bits] * len(per_server))
    first_of_type = tables[:: len(scenario.servers)]
    columns = device_columns(scenario, first_of_type)
    return WindowSystem(
        scenario=scenario,
        tables=tuple(tables),
        n_cuts=np.array([first_of_type[i].n_cuts for i in columns.type_of]),
        row_offset=np.array([type_offsets[i][server_type] for i in columns.type_of]),
        server_type=server_type,
        transfer_bits=stacked_transfer_bits(tables, input_bits),
        input_bits=columns.input_bits,
        device_macs=np.concatenate([t.device_macs for t in tables]),
        head_s=np.concatenate([t.head_s for t in tables]),
        server_s=np.concatenate([t.tail_s[:, -1] for t in tables]),
        energy_per_mac_j=columns.energy_per_mac_j,
        compute_power_w=columns.compute_power_w,
        distance_low=columns.distance_low,
        distance_high=columns.distance_high,
        mean_tasks=columns.mean_tasks,
        link=scenario_link(scenario),
    )


def efficient_cuts(system: WindowSystem, max_sharing: int | None = None) -> list[np.ndarray]:
    """Per device, the offloading cuts (ascending) that no other offloading cut dominates.

    Cut c' dominates cut c when, on every server, it takes no longer whatever the number of
    tasks sharing that server (head + s x tail at s = 1 and s = N, hence for every s between;
    N is ``max_sharing`` when given, the devices otherwise),
    runs no more device time and MACs (compute energy) and sends no more bits (transmit time and
    energy), and is better in one of them; of identical cuts the shallowest is kept. Channel,
    server and power choices do not depend on the cut, so replacing a dominated cut by its
    dominator never adds latency or energy to any task. The local-only cut is not among them."""
    out = []
    for n in range(system.n_devices):
        cuts = np.arange(system.n_cuts[n] - 1)
        rows = system.row_offset[n][:, None] + cuts[None, :]  # [servers, cuts]
        bits = system.transfer_bits[rows[0]]
        head, tail = system.head_s[rows], system.server_s[rows]
        features = np.vstack(
            [head + tail, head + (max_sharing or system.n_devices) * tail, head,
             system.device_macs[rows[0]][None],
             bits[None]]
        )  # [features, cuts]  # fmt: skip
        no_worse = (features[:, :, None] <= features[:, None, :]).all(axis=0)  # [c', c]
        better = (features[:, :, None] < features[:, None, :]).any(axis=0)
        earlier_twin = no_worse & no_worse.T & (cuts[:, None] < cuts[None, :])
        dominated = (no_worse & better | earlier_twin).any(axis=0)
        out.append(cuts[~dominated])
    return out


def median_gains(system: WindowSystem, distance_m: np.ndarray) -> np.ndarray:
    """Path gain at ``distance_m`` under the median shadowing (0 dB): what a decider that
    observes only the distances can compute."""
    radio = system.scenario.radio
    return path_gain(distance_m, radio.reference_distance_m, radio.path_loss_exponent)


def channel_gains(
    system: WindowSystem, rng: np.random.Generator, distance_m: np.ndarray
) -> np.ndarray:
    """Path gain with shadowing for every device (drawn once per decision period)."""
    shadow = shadowing_gain(rng, system.scenario.radio.shadowing_std_db, distance_m.shape)
    return median_gains(system, distance_m) * shadow


@dataclass(frozen=True)
class TaskCosts:
    """Latency and energy of every (device, position) task, [devices, positions]."""

    local_s: np.ndarray
    transmit_s: np.ndarray
    server_s: np.ndarray
    latency_s: np.ndarray
    energy_j: np.ndarray
    rate_bps: np.ndarray
    codec: np.ndarray  # index into the system's link.codecs (the fastest at the rate)
    power_w: np.ndarray  # the transmit power the energy is charged at, as the radio takes it


def task_costs(
    system: WindowSystem,
    active: np.ndarray,
    cuts: np.ndarray,
    channels: np.ndarray,
    servers: np.ndarray,
    power_w: np.ndarray,
    gain: np.ndarray,
    device: np.ndarray | None = None,
    interference_power_w: np.ndarray | None = None,
    energy_power_w: np.ndarray | None = None,
) -> TaskCosts:
    """Eq. 1-3 for a [devices, positions] batch of tasks; inactive tasks cost nothing. ``gain``
    is per device, or per task ([devices, positions]: e.g. columns drawn with other shadowing).
    ``device`` (optional, [rows, positions]) names each task's device instead of its row, so a
    batch may hold any tasks of any devices; tasks in one column (position) still interfere
    and share servers, and ``gain`` is then per task. ``interference_power_w`` (the power the
    other tasks on a channel hear from each task) and ``energy_power_w`` (the power its transmit
    energy is charged at) default to ``power_w``: the certified bound (``sim.window_bound``)
    prices a range of powers with a task's own at the top and the others' and its energy at the
    bottom."""
    radio = system.scenario.radio
    n, width = active.shape
    if device is None:
        device = np.broadcast_to(np.arange(n)[:, None], (n, width))
    position = np.broadcast_to(np.arange(width)[None, :], (n, width))
    rows = system.row_offset[device, servers] + cuts
    offload = active & (cuts < system.n_cuts[device] - 1)
    clip = lambda p: clipped_power_w(p, radio.max_transmit_power_w)  # noqa: E731
    power = clip(power_w)
    heard = None if interference_power_w is None else clip(interference_power_w).ravel()
    charged = power if energy_power_w is None else clip(energy_power_w)
    bandwidth = np.full(radio.channels, radio.bandwidth_hz)
    noise = np.full(radio.channels, radio.noise_w)
    rate = uplink_rates_bps(
        channels.ravel(), power.ravel(),
        np.broadcast_to(gain if gain.ndim == 2 else gain[:, None], (n, width)).ravel(),
        offload.ravel(), bandwidth, noise, groups=position.ravel(), interference_power_w=heard,
    ).reshape(n, width)  # fmt: skip
    sharing_key = (position * system.n_servers + servers).ravel()
    sharing = np.bincount(sharing_key, weights=offload.ravel(), minlength=width * system.n_servers)
    server = np.where(
        offload, server_share_s(system.server_s[rows], sharing[sharing_key].reshape(n, width)), 0.0
    )
    local = np.where(active, system.head_s[rows], 0.0)
    link = system.link.terms(system.transfer_bits[rows], np.where(offload, rate, 1.0), offload)
    transmit = link.latency_s
    energy = np.where(
        active,
        task_energy_j(
            local + link.device_s, system.compute_power_w[device], link.airtime_s, charged,
            device_macs=system.device_macs[rows], energy_per_mac_j=system.energy_per_mac_j[device],
        ),
        0.0,
    )  # fmt: skip
    latency = task_latency_s(local, transmit, server)
    charged_w = np.where(offload, np.broadcast_to(charged, (n, width)), 0.0)
    return TaskCosts(local, transmit, server, latency, energy, rate, link.codec, charged_w)


@dataclass(frozen=True)
class WindowOutcome:
    """One task window: per-device sums and the Eq. 8 reward."""

    costs: TaskCosts
    window: np.ndarray  # tasks per device
    device_latency_s: np.ndarray
    duration_s: float
    waiting_s: float
    energy_j: float
    reward: float


def window_rewards(
    scenario: Scenario, device_latency_s: np.ndarray, window: np.ndarray, energy_j: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """zhang2026 Eq. 8 for candidate windows at once -> (rewards, durations, mean waiting
    times): ``device_latency_s`` is [devices, candidates], ``energy_j`` per candidate, and
    ``window`` the tasks per device, one vector for every candidate or [devices, candidates]."""
    window = np.broadcast_to(
        window if np.ndim(window) == 2 else np.asarray(window)[:, None], device_latency_s.shape
    )
    busy = window > 0
    duration = device_latency_s.max(axis=0, initial=0.0)
    n_busy = busy.sum(axis=0)
    slack = np.where(busy, duration[None, :] - device_latency_s, 0.0).sum(axis=0)
    waiting = np.where(n_busy > 0, slack / np.maximum(n_busy, 1), 0.0)
    mean_window = window.mean(axis=0)
    r, n = scenario.window_reward, window.shape[0]
    per = np.where(mean_window > 0, mean_window, 1.0)
    reward = np.where(
        mean_window > 0, eq8_reward(duration, waiting, per, energy_j, r.alpha, r.beta, n), 0.0
    )
    return reward, duration, waiting


def eq8_reward(
    duration_s: ArrayLike,
    waiting_s: ArrayLike,
    mean_window: ArrayLike,
    energy_j: ArrayLike,
    alpha: float,
    beta: float,
    n_devices: int,
) -> ArrayLike:
    """zhang2026 Eq. 8 from a window's duration, mean waiting, mean window size (> 0) and
    energy. Plain arithmetic: on floats (the planner's compiled search compiles this function
    itself) or arrays alike."""
    return -(
        (duration_s + alpha * waiting_s) / mean_window + beta / n_devices * energy_j / mean_window
    )


def clipped_power_w(power_w: ArrayLike, max_transmit_power_w: float) -> ArrayLike:
    """A transmit power as the radio takes it: at least ``MIN_POWER_SHARE`` of the limit (a rate
    of zero would make a task take forever), at most the limit. On floats or arrays alike."""
    return np.minimum(
        np.maximum(power_w, MIN_POWER_SHARE * max_transmit_power_w), max_transmit_power_w
    )


def window_reward(
    scenario: Scenario, device_latency_s: np.ndarray, window: np.ndarray, energy_j: float
) -> tuple[float, float, float]:
    """zhang2026 Eq. 8 for one window -> (reward, window duration, mean waiting time)."""
    rewards = window_rewards(scenario, device_latency_s[:, None], window, np.array([energy_j]))
    return tuple(float(value[0]) for value in rewards)


def window_step(
    system: WindowSystem, remaining: np.ndarray, decision: Decision, gain: np.ndarray
) -> WindowOutcome:
    """One task window for every device at once (the vectorized step): ``decision`` holds the
    window sizes and the [devices, W_max] task choices."""
    sizes = np.minimum(decision.window, remaining)
    cuts = decision.cut
    active = np.arange(cuts.shape[1])[None, :] < sizes[:, None]
    costs = task_costs(
        system, active, cuts, decision.channel, decision.server, decision.power_w, gain
    )
    device_latency = costs.latency_s.sum(axis=1)
    energy = float(costs.energy_j.sum())
    reward, duration, waiting = window_reward(system.scenario, device_latency, sizes, energy)
    return WindowOutcome(costs, sizes, device_latency, duration, waiting, energy, reward)


def difference_rewards(
    system: WindowSystem,
    remaining: np.ndarray,
    decision: Decision,
    gain: np.ndarray,
    reward: float,
) -> np.ndarray:
    """Each device's difference reward (Wolpert and Tumer's clamping to null): the window's Eq. 8
    ``reward`` minus the reward of the same window without that device (its window set to zero,
    so that it neither computes nor shares a channel or a server). The counterfactual does not
    depend on the device's own action, so a change of that action changes its difference reward
    exactly as much as the joint reward, while the other devices' choices largely cancel."""
    shares = np.empty(system.n_devices)
    for device in range(system.n_devices):
        without = decision.window.copy()
        without[device] = 0
        counterfactual = replace(decision, window=without)
        shares[device] = reward - window_step(system, remaining, counterfactual, gain).reward
    return shares


def time_slot_step(
    system: WindowSystem,
    remaining: np.ndarray,
    busy_s: np.ndarray,
    slot_s: float,
    decision: Decision,
    gain: np.ndarray,
) -> dict[str, Any]:
    """One fixed slot of the time-based MDP (zhang2026 Fig. 7): every idle device starts tasks
    back to back with the slot's decision (one task choice per device), carrying unfinished work
    into the next slot; the reward averages latency and weighted energy over the tasks started."""
    free = slot_s - busy_s
    active = (remaining > 0) & (free > 0)
    costs = task_costs(
        system, active[:, None], decision.cut[:, None], decision.channel[:, None],
        decision.server[:, None], decision.power_w[:, None], gain,
    )  # fmt: skip
    latency, energy = costs.latency_s[:, 0], costs.energy_j[:, 0]
    per_task = np.where(active, latency, 1.0)
    started = np.where(active, np.minimum(remaining, np.ceil(free / per_task)), 0).astype(np.int64)
    busy = np.maximum(busy_s + started * latency - slot_s, 0.0)
    count = int(started.sum())
    weighted = float(
        (started * latency).sum()
        + system.scenario.window_reward.beta / len(started) * (started * energy).sum()
    )
    return {
        "reward": -weighted / count if count else 0.0,
        "started": started,
        "busy_s": busy,
        "task_latency_s": latency,
        "task_energy_j": energy,
        "latency_s": float((started * latency).sum()),
        "energy_j": float((started * energy).sum()),
    }
