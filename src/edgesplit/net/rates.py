"""Uplink and downlink rates over time slots, behind one interface (``RateModel``) that the
slot-style environment draws from: i.i.d. uniform per slot on a shared link (shi2025: Wi-Fi
10-20 Mbps, 5G 20-40 Mbps), the replay of a measured trace, and 3GPP TR 38.901 UMi links with a
distance drawn per device and slot (chukhno2023's 5G NR)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edgesplit.checks import positive
from edgesplit.errors import InvalidParameterError
from edgesplit.net.shannon import shannon_rate_bps
from edgesplit.net.umi import dbm_to_w, sample_umi_pathloss_db, thermal_noise_w

# Shannon capacity is B log2(1 + SNR); 64 bit/s/Hz (an SNR of 190 dB) bounds any real link.
MAX_SPECTRAL_EFFICIENCY = 64.0


class RateModel(Protocol):
    """``draw(rng, slot, devices) -> (uplink_bps, downlink_bps)``, one rate per device."""

    @property
    def max_bps(self) -> float:
        """An upper bound of every drawn rate (the observation's bound)."""
        ...

    def draw(
        self, rng: np.random.Generator, slot: int, devices: int
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class UniformRates:
    """One shared link: a rate drawn uniformly from [low_bps, high_bps] in every slot, the same
    for every device and both directions."""

    low_bps: float
    high_bps: float

    def __post_init__(self) -> None:
        positive("low_bps", self.low_bps)
        if not self.high_bps >= self.low_bps:
            raise InvalidParameterError("high_bps", self.high_bps, f">= low_bps ({self.low_bps})")

    @property
    def max_bps(self) -> float:
        return self.high_bps

    def draw(
        self, rng: np.random.Generator, slot: int, devices: int
    ) -> tuple[np.ndarray, np.ndarray]:
        rate = np.full(devices, float(rng.uniform(self.low_bps, self.high_bps)))
        return rate, rate


@dataclass(frozen=True)
class ReplayRates:
    """A measured trace replayed slot by slot (cyclically) on one shared link."""

    rates_bps: tuple[float, ...]

    @classmethod
    def from_csv(cls, path: str | Path, column: str = "rate_bps") -> ReplayRates:
        """Read one column of rates (bit/s) from a CSV file with a header row."""
        path = Path(path)
        if not path.is_file():
            raise InvalidParameterError("trace", str(path), "an existing CSV file")
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or column not in reader.fieldnames:
                raise InvalidParameterError(
                    "trace column", column, f"one of {reader.fieldnames} in {path}"
                )
            try:
                rates = tuple(float(row[column]) for row in reader)
            except ValueError as error:
                raise InvalidParameterError(
                    "trace", str(path), f"numbers in {column}: {error}"
                ) from None
        if not rates or min(rates) <= 0:
            raise InvalidParameterError("trace", str(path), "at least one rate, every rate > 0")
        return cls(rates)

    @property
    def max_bps(self) -> float:
        return max(self.rates_bps)

    def draw(
        self, rng: np.random.Generator, slot: int, devices: int
    ) -> tuple[np.ndarray, np.ndarray]:
        rate = np.full(devices, self.rates_bps[slot % len(self.rates_bps)])
        return rate, rate


@dataclass(frozen=True)
class UmiRates:
    """Per device and slot: a distance drawn uniformly, LOS or NLOS and shadowing by TR 38.901
    UMi (``sample_umi_pathloss_db``), then Shannon capacity over thermal noise at the device's
    power (uplink) and the server's (downlink), both through the same path."""

    frequency_hz: float
    bandwidth_hz: float
    device_power_dbm: float
    server_power_dbm: float
    antenna_gain_db: float
    noise_figure_db: float
    distance_m: tuple[float, float]

    @property
    def max_bps(self) -> float:
        return self.bandwidth_hz * MAX_SPECTRAL_EFFICIENCY

    def draw(
        self, rng: np.random.Generator, slot: int, devices: int
    ) -> tuple[np.ndarray, np.ndarray]:
        distance = rng.uniform(*self.distance_m, devices)
        loss_db, _ = sample_umi_pathloss_db(rng, distance, self.frequency_hz)
        noise = thermal_noise_w(self.bandwidth_hz, self.noise_figure_db)
        gain_db = self.antenna_gain_db - loss_db
        uplink = shannon_rate_bps(
            self.bandwidth_hz, dbm_to_w(self.device_power_dbm + gain_db), noise, 0.0
        )
        downlink = shannon_rate_bps(
            self.bandwidth_hz, dbm_to_w(self.server_power_dbm + gain_db), noise, 0.0
        )
        return uplink, downlink


@dataclass(frozen=True)
class DeviceRates:
    """Devices on different links: ``models[g]`` draws the rates of the devices whose
    ``group_of`` is g (each model draws once per slot for its devices, in group order)."""

    models: tuple[RateModel, ...]
    group_of: np.ndarray  # [devices] -> index into models

    @property
    def max_bps(self) -> float:
        return max(model.max_bps for model in self.models)

    def draw(
        self, rng: np.random.Generator, slot: int, devices: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if devices != len(self.group_of):
            raise InvalidParameterError("devices", devices, f"{len(self.group_of)} (the groups')")
        uplink, downlink = np.empty(devices), np.empty(devices)
        for group, model in enumerate(self.models):
            members = np.flatnonzero(self.group_of == group)
            uplink[members], downlink[members] = model.draw(rng, slot, len(members))
        return uplink, downlink
