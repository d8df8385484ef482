"""Solar energy harvesting (shi2025 Eq. 6) from irradiance series at minute resolution.

Sources of irradiance R(t), all as ``IrradianceSeries`` (W/m^2, one value per minute):

- ``clearsky_series``: pvlib's Ineichen clear-sky global horizontal irradiance for a site and
  date, times a seeded cloud process (below);
- ``read_midc``: an NREL MIDC file (the data shi2025 used), read with ``pvlib.iotools.read_midc``;
- ``sample_day``: the day shipped as package data, one day of measured-typical-year irradiance
  from the TMY3 file pvlib's wheel carries (see ``data/irradiance/README.md``);
- ``tmy3_day``: any day of a TMY3 file (by default that same file in pvlib's wheel, station
  723170, Greensboro NC), read with ``pvlib.iotools.read_tmy3``, hourly values held per minute.

The cloud process is edgesplit's own, not a paper's: a two-state (clear / overcast) Markov chain
per minute, with a clear-sky index around 1 or around ``overcast_index``, each with AR(1)
fluctuations; it is seeded and documented so runs repeat.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from edgesplit.errors import InvalidParameterError

SECONDS_PER_MINUTE = 60


def harvested_energy_j(
    irradiance_w_m2: np.ndarray, area_efficiency_m2: np.ndarray, duration_s: float
) -> np.ndarray:
    """shi2025 Eq. 6: E_harv = R(t) alpha tau, alpha = panel area x conversion efficiency (m^2)."""
    return np.asarray(irradiance_w_m2) * area_efficiency_m2 * duration_s


@dataclass(frozen=True)
class IrradianceSeries:
    """Global horizontal irradiance, one value per minute from ``start`` (ISO text), W/m^2."""

    values_w_m2: np.ndarray
    start: str
    source: str

    def at(self, seconds: float) -> float:
        """The irradiance at ``seconds`` after the start (minute steps; the day repeats)."""
        minute = int(seconds // SECONDS_PER_MINUTE) % len(self.values_w_m2)
        return float(self.values_w_m2[minute])


@dataclass(frozen=True)
class CloudProcess:
    """Seeded clear-sky index: Markov clear/overcast states with AR(1) noise, per minute."""

    clear_to_overcast: float = 0.02
    overcast_to_clear: float = 0.05
    overcast_index: float = 0.35
    persistence: float = 0.9
    noise_std: float = 0.05

    @property
    def mean_index(self) -> float:
        """The stationary mean clear-sky index (what a forecaster expects without the state)."""
        overcast = self.clear_to_overcast / (self.clear_to_overcast + self.overcast_to_clear)
        return (1 - overcast) * 1.0 + overcast * self.overcast_index

    def sample(self, rng: np.random.Generator, minutes: int) -> np.ndarray:
        index = np.empty(minutes)
        overcast = False
        deviation = 0.0
        for t in range(minutes):  # a Markov chain is sequential by nature
            switch = self.clear_to_overcast if not overcast else self.overcast_to_clear
            overcast = overcast ^ (rng.random() < switch)
            deviation = self.persistence * deviation + rng.normal(0.0, self.noise_std)
            index[t] = (self.overcast_index if overcast else 1.0) + deviation
        return np.clip(index, 0.0, 1.2)


def clearsky_series(
    latitude: float,
    longitude: float,
    date: str,
    timezone: str = "UTC",
    altitude_m: float = 0.0,
    linke_turbidity: float = 3.0,
    clouds: CloudProcess | None = None,
    seed: int = 0,
) -> IrradianceSeries:
    """pvlib Ineichen clear-sky GHI for one day at minute resolution, optionally with clouds."""
    import pandas as pd
    import pvlib

    if not -90 <= latitude <= 90:
        raise InvalidParameterError("latitude", latitude, "degrees in [-90, 90]")
    times = pd.date_range(date, periods=24 * 60, freq="1min", tz=timezone)
    location = pvlib.location.Location(latitude, longitude, timezone, altitude_m)
    ghi = location.get_clearsky(times, model="ineichen", linke_turbidity=linke_turbidity)["ghi"]
    values = ghi.to_numpy(dtype=np.float64)
    source = f"pvlib Ineichen clear sky at {latitude}, {longitude} on {date}"
    if clouds is not None:
        values = values * clouds.sample(np.random.default_rng(seed), len(values))
        source += f" with seeded clouds (seed {seed})"
    return IrradianceSeries(values, str(times[0]), source)


def read_midc(path: str | Path, column: str = "Global Horizontal [W/m^2]") -> IrradianceSeries:
    """An NREL MIDC data file (``pvlib.iotools.read_midc``), resampled to one value per minute."""
    import pvlib

    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError("irradiance file", str(path), "an existing NREL MIDC file")
    try:
        data = pvlib.iotools.read_midc(str(path))
    except Exception as error:  # pandas raises many types for malformed files
        raise InvalidParameterError(
            "irradiance file", str(path), f"an NREL MIDC file ({error})"
        ) from None
    if column not in data.columns:
        raise InvalidParameterError("irradiance column", column, f"one of {list(data.columns)}")
    minutes = data[column].resample("1min").mean().interpolate().clip(lower=0.0)
    return IrradianceSeries(
        minutes.to_numpy(dtype=np.float64), str(minutes.index[0]), f"NREL MIDC {path.name}"
    )


def pvlib_tmy3_path() -> Path:
    """The measured typical-year file pvlib's wheel ships (station 723170, Greensboro NC)."""
    import pvlib

    return Path(pvlib.__file__).parent / "data" / "723170TYA.CSV"


def _read_tmy3(path: str | Path | None, date: str) -> tuple:
    """(data, meta, path, month, day) of a TMY3 file (default: pvlib's) and a day MM-DD."""
    import pvlib

    path = Path(path) if path is not None else pvlib_tmy3_path()
    if not path.is_file():
        raise InvalidParameterError("irradiance.tmy3_file", str(path), "an existing TMY3 file")
    try:
        month, day = (int(part) for part in date.split("-"))
    except ValueError:
        raise InvalidParameterError("irradiance.date", date, "MM-DD for a TMY3 day") from None
    try:
        data, meta = pvlib.iotools.read_tmy3(str(path), map_variables=True)
    except Exception as error:  # pandas raises many types for malformed files
        raise InvalidParameterError(
            "irradiance.tmy3_file", str(path), f"a TMY3 file ({error})"
        ) from None
    return data, meta, path, month, day


def tmy3_day(date: str, path: str | Path | None = None) -> IrradianceSeries:
    """One day (``date``: MM-DD) of a TMY3 file's global horizontal irradiance, hourly values
    held for each minute of their hour (the file's hour-ending stamps: 01:00 is 00:00-01:00)."""
    import pandas as pd

    data, meta, path, month, day = _read_tmy3(path, date)
    index = data.index - pd.Timedelta(hours=1)  # hour-ending stamps -> the hour's start
    ghi = data["ghi"][(index.month == month) & (index.day == day)].to_numpy(dtype=np.float64)
    if len(ghi) != 24:
        raise InvalidParameterError("irradiance.date", date, f"a day of {path.name}")
    station = str(meta.get("Name", "")).strip().strip('"')
    return IrradianceSeries(
        np.repeat(ghi, 60), f"{month:02d}-{day:02d}T00:00",
        f"TMY3 {meta.get('USAF', path.stem)} ({station}), {date}",
    )  # fmt: skip


def tmy3_clear_sky(date: str, path: str | Path | None = None) -> IrradianceSeries:
    """The clear sky (pvlib Ineichen) at a TMY3 file's station (its latitude, longitude,
    altitude and standard time zone) on ``date`` (MM-DD, of a non-leap year), minute by minute
    from local midnight, aligned with ``tmy3_day``: what a forecaster at that site computes."""
    _, meta, _, month, day = _read_tmy3(path, date)
    offset = -round(float(meta["TZ"]))  # Etc/GMT+5 is UTC-5
    return clearsky_series(
        float(meta["latitude"]), float(meta["longitude"]), f"2001-{month:02d}-{day:02d}",
        f"Etc/GMT{offset:+d}", float(meta["altitude"]),
    )  # fmt: skip


def sample_day() -> IrradianceSeries:
    """The shipped day (hourly measured-typical-year GHI, held constant within each hour)."""
    text = (
        resources.files("edgesplit.data")
        .joinpath("irradiance", "greensboro_tmy3_0621.csv")
        .read_text()
    )
    rows = [
        row
        for row in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    ]
    hourly = np.array([float(row["ghi_w_m2"]) for row in rows])
    return IrradianceSeries(
        np.repeat(hourly, 60), rows[0]["time"], "TMY3 723170 (Greensboro, NC), June 21"
    )
