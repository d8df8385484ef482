"""Uplink bandwidth over time slots: i.i.d. uniform per slot (shi2025: Wi-Fi 10-20 Mbps, 5G
20-40 Mbps) or the replay of a measured trace."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgesplit.checks import positive
from edgesplit.errors import InvalidParameterError


@dataclass(frozen=True)
class UniformRateTrace:
    """A rate drawn uniformly from [low_bps, high_bps] in every slot."""

    low_bps: float
    high_bps: float

    def __post_init__(self) -> None:
        positive("low_bps", self.low_bps)
        if not self.high_bps >= self.low_bps:
            raise InvalidParameterError("high_bps", self.high_bps, f">= low_bps ({self.low_bps})")

    @property
    def max_bps(self) -> float:
        return self.high_bps

    def rate_bps(self, rng: np.random.Generator, slot: int) -> float:
        return float(rng.uniform(self.low_bps, self.high_bps))


@dataclass(frozen=True)
class ReplayRateTrace:
    """A measured trace replayed slot by slot (cyclically)."""

    rates_bps: tuple[float, ...]

    @classmethod
    def from_csv(cls, path: str | Path, column: str = "rate_bps") -> ReplayRateTrace:
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

    def rate_bps(self, rng: np.random.Generator, slot: int) -> float:
        return self.rates_bps[slot % len(self.rates_bps)]
