"""The time-slot MEC system of shi2025 (Sec. II-III), vectorized over devices.

In every slot of ``slot_s`` seconds each device n receives lambda_n tasks (the scenario's range,
per slot), its uplink has rate B_n(t), and the server has K(t) threads. The decision is a cut per
device and a thread count per device. Per task (Eq. 1): local latency (the head), transmission
(Eq. 2), M/D/1 queueing (Eq. 3, arrival rate lambda_n / slot_s) and server latency (the tail at
k_n threads, which is how Eq. 7-9 enter: through the profile's predictor), plus the result's
downlink where the scenario sends one back. Energy per slot (Eq. 5) is lambda_n times one task's
energy; the battery follows Eq. 4 with harvesting Eq. 6 and constraint Eq. 12 enforced
(``energy.battery_step``). The reward is the utility Eq. 10:

    U = V sum_n (E_max - E_con,n) / E_max + (1 - V) sum_n (D_max,n - D_n) / D_max,n
        - penalty sum_n (unserved share_n + unstable queue_n)

Eq. 10 as printed writes the battery level E_n(t) where the text means "normalized residual
energy" and the aim is to save energy: with the level, draining the battery would raise the
utility. edgesplit uses the slot's consumption. The latency term is clipped to [-1, 1]
(a latency beyond 2 D_max, or an unstable queue, counts as -1), and the penalty term is
edgesplit's: the paper states Eq. 12 as a constraint, a simulator must say what happens when a
decision breaks it (the device runs the share its energy covers; the rest are violations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgesplit.energy import battery_step, task_energy_j
from edgesplit.sim.queues import md1_waiting_time_s
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.tables import ModelTable, TableSpec, load_table


@dataclass(frozen=True)
class SlotSystem:
    """The static arrays of a slot-style scenario: one entry per device unless noted."""

    scenario: Scenario
    tables: tuple[ModelTable, ...]  # one per device type
    table_of: np.ndarray  # device -> index into tables
    n_cuts: np.ndarray
    row_offset: np.ndarray  # device's first row in the stacked tables
    transfer_bits: np.ndarray  # stacked over all tables' cuts
    crossing_count: np.ndarray  # stacked: tensors each cut sends
    device_macs: np.ndarray
    head_s: np.ndarray
    tail_s: np.ndarray  # [stacked cuts, K + 1]
    compute_power_w: np.ndarray
    transmit_power_w: np.ndarray
    receive_power_w: np.ndarray
    energy_per_mac_j: np.ndarray  # nan where compute energy is power x time
    input_bits: np.ndarray  # bits of the raw-input cut
    result_bits: np.ndarray
    capacity_j: np.ndarray
    area_efficiency_m2: np.ndarray
    arrivals_low: np.ndarray
    arrivals_high: np.ndarray
    deadline_s: np.ndarray  # D_max
    models: tuple[str, ...]

    @property
    def n_devices(self) -> int:
        return len(self.table_of)

    @property
    def max_threads(self) -> int:
        return self.tail_s.shape[1] - 1


@dataclass(frozen=True)
class SlotState:
    """What a slot's decider observes (shi2025 Eq. 16): lambda_n(t), E_n(t), B_n(t), K(t)."""

    arrivals: np.ndarray
    battery_j: np.ndarray
    uplink_bps: np.ndarray
    threads_total: int

    def observation(self) -> np.ndarray:
        """The flat observation of ``SlotMEC-v0``."""
        return np.concatenate(
            [self.arrivals, self.battery_j, self.uplink_bps, [self.threads_total]]
        ).astype(np.float32)

    @classmethod
    def of(cls, observation: np.ndarray, n_devices: int) -> SlotState:
        obs = np.asarray(observation, dtype=np.float64)
        n = n_devices
        return cls(obs[:n], obs[n : 2 * n], obs[2 * n : 3 * n], round(float(obs[-1])))


def build_slot_system(scenario: Scenario) -> SlotSystem:
    """Load the cost tables and expand the scenario's device types into per-device arrays."""
    from edgesplit.profile.catalogue import catalogue

    tables, table_of, per_device = [], [], []
    for spec in scenario.devices:
        table = load_table(TableSpec.of(scenario, spec, scenario.servers[0]))
        tables.append(table)
        powers = catalogue()[spec.hardware].powers if spec.hardware in catalogue() else {}
        for _ in range(spec.count):
            table_of.append(len(tables) - 1)
            per_device.append((spec, table, powers))
    widths = {t.tail_s.shape[1] for t in tables}
    if len(widths) != 1:
        raise AssertionError("tables of one server share their thread columns")
    offsets = np.cumsum([0] + [t.n_cuts for t in tables])[:-1]
    table_of = np.array(table_of)

    def column(get) -> np.ndarray:
        return np.array(
            [get(spec, table, powers) for spec, table, powers in per_device], dtype=np.float64
        )

    def power(name: str, default: float):
        return lambda s, t, p: (
            getattr(s, name) if getattr(s, name) is not None else p.get(name, default)
        )

    return SlotSystem(
        scenario=scenario,
        tables=tuple(tables),
        table_of=table_of,
        n_cuts=np.array([t.n_cuts for t in tables])[table_of],
        row_offset=offsets[table_of],
        transfer_bits=np.concatenate([t.transfer_bits for t in tables]),
        crossing_count=np.concatenate([t.crossing_count for t in tables]),
        device_macs=np.concatenate([t.device_macs for t in tables]),
        head_s=np.concatenate([t.head_s for t in tables]),
        tail_s=np.concatenate([t.tail_s for t in tables]),
        compute_power_w=column(power("compute_power_w", 0.0)),
        transmit_power_w=column(power("transmit_power_w", 0.0)),
        receive_power_w=column(lambda s, t, p: s.receive_power_w),
        energy_per_mac_j=column(
            lambda s, t, p: np.nan if s.energy_per_mac_j is None else s.energy_per_mac_j
        ),
        input_bits=column(lambda s, t, p: t.input_bits if s.input_bits is None else s.input_bits),
        result_bits=column(lambda s, t, p: s.result_bits),
        capacity_j=column(lambda s, t, p: s.battery_capacity_j),
        area_efficiency_m2=column(lambda s, t, p: s.panel_area_efficiency_m2),
        arrivals_low=column(lambda s, t, p: s.arrivals_per_slot[0]),
        arrivals_high=column(lambda s, t, p: s.arrivals_per_slot[1]),
        deadline_s=column(lambda s, t, p: s.deadline_fraction * t.local_s),
        models=tuple(spec.model for spec, _, _ in per_device),
    )


def cut_rows(system: SlotSystem, cuts: np.ndarray) -> np.ndarray:
    """Stacked-table rows of each device's cut (0-based cut position, 0 = send the input)."""
    return system.row_offset + cuts


def fixed_latency_s(
    system: SlotSystem, cuts: np.ndarray, uplink_bps: np.ndarray, downlink_bps: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per task, the parts that do not depend on threads: (local, transmit, result downlink,
    sent bits)."""
    rows = cut_rows(system, cuts)
    offloaded = cuts < system.n_cuts - 1
    bits = np.where(cuts == 0, system.input_bits, system.transfer_bits[rows])
    local = system.head_s[rows]
    transmit = bits / uplink_bps
    downlink = np.where(offloaded, system.result_bits / downlink_bps, 0.0)
    return local, transmit, downlink, bits


def latency_by_threads(
    system: SlotSystem,
    cuts: np.ndarray,
    arrivals: np.ndarray,
    uplink_bps: np.ndarray,
    downlink_bps: np.ndarray,
) -> np.ndarray:
    """E2E latency of every device's task for every thread count: [devices, K + 1] (what a
    thread allocator needs, shi2025 Alg. 1 line 4)."""
    local, transmit, downlink, _ = fixed_latency_s(system, cuts, uplink_bps, downlink_bps)
    server = system.tail_s[cut_rows(system, cuts)]
    rate = (arrivals / system.scenario.slot_s)[:, None]
    queue = md1_waiting_time_s(rate, server)
    return (local + transmit + downlink)[:, None] + queue + server


@dataclass(frozen=True)
class SlotOutcome:
    """Everything one slot produced, per device (arrays may carry leading batch axes: a policy's
    look-ahead evaluates many candidate decisions in one call)."""

    local_s: np.ndarray
    transmit_s: np.ndarray
    queue_s: np.ndarray
    server_s: np.ndarray
    downlink_s: np.ndarray
    latency_s: np.ndarray
    task_energy_j: np.ndarray
    consumed_j: np.ndarray
    harvested_j: np.ndarray
    battery_j: np.ndarray
    served: np.ndarray
    unstable: np.ndarray
    sent_bits: np.ndarray
    utility: np.ndarray  # each device's share of Eq. 10, penalty included

    @property
    def reward(self) -> float:
        """The slot's utility U(t) (shi2025 Eq. 10 and 18)."""
        return float(self.utility.sum())


def slot_step(
    system: SlotSystem,
    battery_j: np.ndarray,
    cuts: np.ndarray,
    threads: np.ndarray,
    arrivals: np.ndarray,
    uplink_bps: np.ndarray,
    downlink_bps: np.ndarray,
    irradiance_w_m2: float,
) -> SlotOutcome:
    """One slot for every device at once (the vectorized step). ``cuts`` and ``threads`` are
    [devices] or [..., devices] for a batch of candidate decisions."""
    scenario = system.scenario
    local, transmit, downlink, bits = fixed_latency_s(system, cuts, uplink_bps, downlink_bps)
    rows = cut_rows(system, cuts)
    server = system.tail_s[rows, threads]
    queue = md1_waiting_time_s(arrivals / scenario.slot_s, server)
    latency = local + transmit + downlink + queue + server
    per_task = task_energy_j(
        local, system.compute_power_w, transmit, system.transmit_power_w,
        downlink, system.receive_power_w, system.device_macs[rows], system.energy_per_mac_j,
    )  # fmt: skip
    consumed = arrivals * per_task
    harvested = irradiance_w_m2 * system.area_efficiency_m2 * scenario.slot_s  # shi2025 Eq. 6
    battery, served = battery_step(battery_j, consumed, harvested, system.capacity_j)
    unstable = np.isinf(queue)
    utility = device_utility(scenario, system, consumed * served, latency, served, unstable)
    return SlotOutcome(
        local, transmit, queue, server, downlink, latency, per_task, consumed * served,
        harvested, battery, served, unstable, bits, utility,
    )  # fmt: skip


def device_utility(
    scenario: Scenario,
    system: SlotSystem,
    consumed_j: np.ndarray,
    latency_s: np.ndarray,
    served: np.ndarray,
    unstable: np.ndarray,
) -> np.ndarray:
    """Each device's term of shi2025 Eq. 10 (with the slot's consumption, see the module notes)
    minus its penalty; U(t) is their sum."""
    v = scenario.slot_reward.v
    energy_term = (system.capacity_j - consumed_j) / system.capacity_j
    latency_term = np.clip((system.deadline_s - latency_s) / system.deadline_s, -1.0, 1.0)
    penalty = scenario.slot_reward.violation_penalty * ((1.0 - served) + unstable)
    return v * energy_term + (1 - v) * latency_term - penalty


def action_to_cuts(system: SlotSystem, action: np.ndarray) -> np.ndarray:
    """shi2025 Eq. 19: l_n = floor((a_n + 1) / 2 * S_n) for a_n in [-1, 1] (a tanh output),
    where S_n + 1 is the number of cuts (l = 0 sends the input, l = S_n runs all locally)."""
    layers = system.n_cuts - 1
    position = np.floor((np.clip(action, -1.0, 1.0) + 1.0) / 2.0 * layers).astype(np.int64)
    return np.minimum(position, layers)
