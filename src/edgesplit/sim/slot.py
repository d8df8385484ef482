"""The time-slot MEC system of shi2025 (Sec. II-III), vectorized over devices.

In every slot of ``slot_s`` seconds each device n receives lambda_n tasks (the scenario's range,
per slot), its uplink has rate B_n(t), and the server has K(t) threads. The decision is a cut per
device and a thread count per device. Per task (Eq. 1): local latency (the head), transmission
(Eq. 2), M/D/1 queueing (Eq. 3, arrival rate lambda_n / slot_s) and server latency (the tail at
k_n threads, which is how Eq. 7-9 enter: through the profile's predictor), plus the result's
downlink where the scenario sends one back. Energy per slot (Eq. 5) is lambda_n times one task's
energy; the battery follows Eq. 4 with harvesting Eq. 6 and constraint Eq. 12 enforced
(``energy.battery_step``). Every term is composed by ``edgesplit.costs``. The reward is the
utility Eq. 10:

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

from dataclasses import dataclass, replace

import numpy as np

from edgesplit.contract import Allocator, SlotState
from edgesplit.costs import (
    LinkCosts,
    LinkTerms,
    ModelTable,
    load_table,
    md1_waiting_time_s,
    task_energy_j,
    task_latency_s,
    transmit_s,
)
from edgesplit.energy import (
    CloudProcess,
    IrradianceSeries,
    battery_step,
    clearsky_series,
    harvested_energy_j,
    read_midc,
    sample_day,
    tmy3_clear_sky,
    tmy3_day,
)
from edgesplit.errors import InvalidParameterError
from edgesplit.sim.devices import device_columns, stacked_transfer_bits
from edgesplit.sim.scenario import Irradiance, Scenario, scenario_link, table_spec


@dataclass(frozen=True)
class SlotSystem:
    """The static arrays of a slot-style scenario: one entry per device unless noted."""

    scenario: Scenario
    tables: tuple[ModelTable, ...]  # one per device type
    table_of: np.ndarray  # device -> index into tables
    n_cuts: np.ndarray
    row_offset: np.ndarray  # device's first row in the stacked tables
    transfer_bits: np.ndarray  # stacked over all tables' cuts (row 0 of each: the input)
    crossing_count: np.ndarray  # stacked: tensors each cut sends
    learned: np.ndarray  # stacked: whether a row runs a learned option (costs.tables)
    sent_share: np.ndarray  # stacked: the share of a row's tasks that send (an exit's 1 - p)
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
    k_min: int  # shi2025 Eq. 14
    threads_low: int  # K(t) is drawn from [threads_low, threads_high] each slot
    threads_high: int
    gpu_server: bool  # one thread column: the tail does not depend on threads
    link: LinkCosts  # the runtime's overheads (ideal: the papers' bits / rate)

    @property
    def n_devices(self) -> int:
        return len(self.table_of)

    @property
    def max_threads(self) -> int:
        return self.tail_s.shape[1] - 1


def build_slot_system(scenario: Scenario) -> SlotSystem:
    """Load the cost tables and expand the scenario's device types into per-device arrays."""
    server = scenario.servers[0]
    tables = [load_table(table_spec(scenario, spec, server)) for spec in scenario.devices]
    widths = {t.tail_s.shape[1] for t in tables}
    if len(widths) != 1:
        raise AssertionError("tables of one server share their thread columns")
    max_threads = widths.pop() - 1
    gpu_server = max_threads == 1 and server.threads is None
    threads_low, threads_high = server.threads or (max_threads, max_threads)
    if threads_high > max_threads:
        raise InvalidParameterError(
            "servers.0.threads", [threads_low, threads_high],
            f"at most {max_threads}: the server profile's cores",
        )  # fmt: skip
    columns = device_columns(scenario, tables)
    table_of = columns.type_of
    offsets = np.cumsum([0] + [t.n_cuts for t in tables])[:-1]
    type_input_bits = [
        t.input_bits if spec.input_bits is None else spec.input_bits
        for spec, t in zip(scenario.devices, tables, strict=True)
    ]
    return SlotSystem(
        scenario=scenario,
        tables=tuple(tables),
        table_of=table_of,
        n_cuts=np.array([t.n_cuts for t in tables])[table_of],
        row_offset=offsets[table_of],
        transfer_bits=stacked_transfer_bits(tables, type_input_bits),
        crossing_count=np.concatenate([t.crossing_count for t in tables]),
        learned=np.array([bool(t.option_of(r)) for t in tables for r in range(t.n_cuts)]),
        sent_share=np.concatenate([t.shares for t in tables]),
        device_macs=np.concatenate([t.device_macs for t in tables]),
        head_s=np.concatenate([t.head_s for t in tables]),
        tail_s=np.concatenate([t.tail_s for t in tables]),
        compute_power_w=columns.compute_power_w,
        transmit_power_w=columns.transmit_power_w,
        receive_power_w=columns.receive_power_w,
        energy_per_mac_j=columns.energy_per_mac_j,
        input_bits=columns.input_bits,
        result_bits=columns.result_bits,
        capacity_j=columns.capacity_j,
        area_efficiency_m2=columns.area_efficiency_m2,
        arrivals_low=columns.arrivals_low,
        arrivals_high=columns.arrivals_high,
        deadline_s=columns.deadline_s,
        models=columns.models,
        k_min=0 if gpu_server else server.min_threads_per_task,
        threads_low=threads_low,
        threads_high=threads_high,
        gpu_server=gpu_server,
        link=scenario_link(scenario),
    )


def irradiance_series(spec: Irradiance, seed: int, expected: bool = False) -> IrradianceSeries:
    """The R(t) a scenario's ``irradiance`` describes (clouds seeded by ``seed``); ``expected``
    gives a forecaster's series instead: the clear sky times the cloud process's mean index."""
    if spec.kind == "sample_day":
        return sample_day()
    if spec.kind == "midc":
        return read_midc(spec.midc_file or "")
    if spec.kind == "tmy3":
        return tmy3_day(spec.tmy3_date, spec.tmy3_file)
    clouds = CloudProcess() if spec.clouds else None
    series = clearsky_series(
        spec.latitude, spec.longitude, spec.date, spec.timezone, spec.altitude_m,
        clouds=None if expected else clouds, seed=seed,
    )  # fmt: skip
    if expected and clouds is not None:
        series = IrradianceSeries(
            series.values_w_m2 * clouds.mean_index, series.start,
            series.source + f" x the clouds' mean index {clouds.mean_index:.3f}",
        )  # fmt: skip
    return series


def site_clear_sky(spec: Irradiance) -> IrradianceSeries | None:
    """The clear sky of the place and day of a scenario's ``irradiance`` (pvlib Ineichen), as a
    forecaster there computes it; None for an MIDC file (no site given)."""
    if spec.kind == "midc":
        return None
    if spec.kind == "clearsky":
        return clearsky_series(
            spec.latitude, spec.longitude, spec.date, spec.timezone, spec.altitude_m
        )
    return tmy3_clear_sky(spec.tmy3_date if spec.kind == "tmy3" else "06-21", spec.tmy3_file)


def cut_rows(system: SlotSystem, cuts: np.ndarray) -> np.ndarray:
    """Stacked-table rows of each device's cut (0-based cut position, 0 = send the input)."""
    return system.row_offset + cuts


def fixed_latency_s(
    system: SlotSystem, cuts: np.ndarray, uplink_bps: np.ndarray, downlink_bps: np.ndarray
) -> tuple[np.ndarray, LinkTerms, np.ndarray]:
    """Per task, the parts of Eq. 1 that do not depend on threads: (local, the uplink's terms,
    result downlink). The uplink's latency is Eq. 2 (bits / rate) plus, when the scenario has
    a runtime, its overheads with the fastest allowed codec (``costs.link``). On an early
    exit's row (``costs.tables``) only the share of tasks that go on pays the request's fixed
    time and the download (its bits are that share's already)."""
    rows = cut_rows(system, cuts)
    offloaded = cuts < system.n_cuts - 1
    share = system.sent_share[rows]
    local = system.head_s[rows]
    link = system.link.terms(system.transfer_bits[rows], uplink_bps, offloaded)
    if system.link.request_s:
        unsent_s = np.where(offloaded, (1.0 - share) * system.link.request_s, 0.0)
        link = replace(link, latency_s=link.latency_s - unsent_s)
    downlink = np.where(offloaded, share * transmit_s(system.result_bits, downlink_bps), 0.0)
    return local, link, downlink


def latency_by_threads(
    system: SlotSystem,
    cuts: np.ndarray,
    arrivals: np.ndarray,
    uplink_bps: np.ndarray,
    downlink_bps: np.ndarray,
) -> np.ndarray:
    """E2E latency (Eq. 1) of every device's task for every thread count: [devices, K + 1]
    (what a thread allocator needs, shi2025 Alg. 1 line 4)."""
    local, link, downlink = fixed_latency_s(system, cuts, uplink_bps, downlink_bps)
    server = system.tail_s[cut_rows(system, cuts)]
    queue = md1_waiting_time_s((arrivals / system.scenario.slot_s)[:, None], server)
    return task_latency_s(local[:, None], link.latency_s[:, None], server, queue, downlink[:, None])


def allocate_threads(
    system: SlotSystem, state: SlotState, cuts: np.ndarray, allocator: Allocator
) -> np.ndarray:
    """The threads ``allocator`` gives these cuts in this observed state. Deciders see the uplink
    (Eq. 16) and take the result's downlink to run at its rate. Every caller (a policy's decision,
    the training env's ``ThreadAllocation`` wrapper) goes through here, so they agree."""
    if system.gpu_server:
        return np.ones(system.n_devices, dtype=np.int64)
    latency = latency_by_threads(system, cuts, state.arrivals, state.uplink_bps, state.uplink_bps)
    return np.asarray(allocator(latency, state.threads_total, system.k_min), dtype=np.int64)


def fit_threads(requested: np.ndarray, total: int, k_min: int) -> np.ndarray:
    """Any request of threads per device as an allocation of Eq. 13-14: ``total`` threads, each
    device at least ``k_min``. The ``total - N k_min`` threads above the floors go out in
    proportion to each request's part above ``k_min`` (equally when no request exceeds it),
    by largest remainder with ties to the lower device: a request that already is an allocation
    comes back unchanged."""
    above = np.maximum(np.asarray(requested, dtype=np.int64) - k_min, 0)
    spare = total - len(above) * k_min
    weights = above if above.sum() > 0 else np.ones(len(above), dtype=np.int64)
    share = spare * weights / weights.sum()
    given = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - given), kind="stable")
    given[order[: spare - given.sum()]] += 1
    return given + k_min


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
    codec: np.ndarray  # index into the system's link.codecs (the fastest at the uplink rate)

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
    local, link, downlink = fixed_latency_s(system, cuts, uplink_bps, downlink_bps)
    rows = cut_rows(system, cuts)
    server = system.tail_s[rows, threads]
    queue = md1_waiting_time_s(arrivals / scenario.slot_s, server)
    latency = task_latency_s(local, link.latency_s, server, queue, downlink)
    per_task = task_energy_j(
        local + link.device_s, system.compute_power_w, link.airtime_s, system.transmit_power_w,
        downlink, system.receive_power_w, system.device_macs[rows], system.energy_per_mac_j,
    )  # fmt: skip
    consumed = arrivals * per_task
    harvested = harvested_energy_j(irradiance_w_m2, system.area_efficiency_m2, scenario.slot_s)
    battery, served = battery_step(battery_j, consumed, harvested, system.capacity_j)
    unstable = np.isinf(queue)
    utility = device_utility(system, consumed * served, latency, served, unstable)
    return SlotOutcome(
        local, link.latency_s, queue, server, downlink, latency, per_task, consumed * served,
        harvested, battery, served, unstable, system.transfer_bits[rows], utility, link.codec,
    )  # fmt: skip


def device_utility(
    system: SlotSystem,
    consumed_j: np.ndarray,
    latency_s: np.ndarray,
    served: np.ndarray,
    unstable: np.ndarray,
) -> np.ndarray:
    """Each device's term of shi2025 Eq. 10 (with the slot's consumption, see the module notes)
    minus its penalty; U(t) is their sum."""
    reward = system.scenario.slot_reward
    energy_term = (system.capacity_j - consumed_j) / system.capacity_j
    latency_term = np.clip((system.deadline_s - latency_s) / system.deadline_s, -1.0, 1.0)
    penalty = reward.violation_penalty * ((1.0 - served) + unstable)
    return reward.v * energy_term + (1 - reward.v) * latency_term - penalty
