"""A scenario's device types expanded to one row per device: the per-device columns that the
slot and task-window systems share (powers fall back to the hardware catalogue's)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edgesplit.costs import ModelTable
from edgesplit.profile.catalogue import device_powers
from edgesplit.sim.scenario import Device, Scenario


@dataclass(frozen=True)
class DeviceColumns:
    """One entry per device (types repeated ``count`` times, in scenario order)."""

    type_of: np.ndarray  # device -> index of its type in scenario.devices
    models: tuple[str, ...]
    compute_power_w: np.ndarray
    transmit_power_w: np.ndarray
    receive_power_w: np.ndarray
    energy_per_mac_j: np.ndarray  # nan where compute energy is power x time
    input_bits: np.ndarray  # what the raw-input cut sends
    result_bits: np.ndarray
    capacity_j: np.ndarray  # nan where the scenario has no battery (task-window style)
    area_efficiency_m2: np.ndarray
    arrivals_low: np.ndarray
    arrivals_high: np.ndarray
    deadline_s: np.ndarray  # D_max: deadline_fraction x the all-local latency
    distance_low: np.ndarray
    distance_high: np.ndarray
    mean_tasks: np.ndarray


def device_columns(scenario: Scenario, tables: Sequence[ModelTable]) -> DeviceColumns:
    """Expand the device types; ``tables[i]`` is a cost table of type i (its all-local latency
    and its input's size)."""
    rows = [
        (i, spec, tables[i], device_powers(spec.hardware))
        for i, spec in enumerate(scenario.devices)
        for _ in range(spec.count)
    ]

    def column(get: Callable[[Device, ModelTable, dict], float]) -> np.ndarray:
        return np.array([get(s, t, p) for _, s, t, p in rows], dtype=np.float64)

    def power(name: str) -> np.ndarray:  # the scenario's, else the catalogue's, else 0
        return column(
            lambda s, t, p: p.get(name, 0.0) if getattr(s, name) is None else getattr(s, name)
        )

    def optional(name: str) -> np.ndarray:
        return column(lambda s, t, p: np.nan if getattr(s, name) is None else getattr(s, name))

    return DeviceColumns(
        type_of=np.array([i for i, *_ in rows]),
        models=tuple(s.model for _, s, _, _ in rows),
        compute_power_w=power("compute_power_w"),
        transmit_power_w=power("transmit_power_w"),
        receive_power_w=column(lambda s, t, p: s.receive_power_w),
        energy_per_mac_j=optional("energy_per_mac_j"),
        input_bits=column(lambda s, t, p: t.input_bits if s.input_bits is None else s.input_bits),
        result_bits=column(lambda s, t, p: s.result_bits),
        capacity_j=optional("battery_capacity_j"),
        area_efficiency_m2=column(lambda s, t, p: s.panel_area_efficiency_m2),
        arrivals_low=column(lambda s, t, p: s.arrivals_per_slot[0]),
        arrivals_high=column(lambda s, t, p: s.arrivals_per_slot[1]),
        deadline_s=column(lambda s, t, p: s.deadline_fraction * t.local_s),
        distance_low=column(lambda s, t, p: s.distance_m[0]),
        distance_high=column(lambda s, t, p: s.distance_m[1]),
        mean_tasks=column(lambda s, t, p: s.mean_tasks),
    )


def stacked_transfer_bits(tables: Sequence[ModelTable], input_bits: Sequence[float]) -> np.ndarray:
    """The tables' transfer bits stacked in order, each table's first cut (sending the raw input)
    replaced by what the scenario says the input costs (e.g. an 8-bit image, not float32)."""
    parts = []
    for table, bits in zip(tables, input_bits, strict=True):
        part = table.transfer_bits.copy()
        part[0] = bits
        parts.append(part)
    return np.concatenate(parts)
