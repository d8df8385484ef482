"""Scenarios: the devices, servers, radio and energy of one MEC system, as validated data.

A scenario is YAML (presets in ``data/scenarios/``, or any file) validated by pydantic; every
field carries its unit in its name. ``style`` says which environment runs it: ``slot``
(shi2025: one edge server, time slots of ``slot_s``), ``task_window`` (zhang2026: several
servers and channels, decisions per task window) or ``time_slot`` (zhang2026's system decided
at fixed slots, for its Fig. 7 comparison).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgesplit.costs import LinkCosts, TableSpec
from edgesplit.costs.link import load_link, shipped_links
from edgesplit.energy import read_midc, tmy3_day
from edgesplit.errors import EdgesplitError, InvalidParameterError, ScenarioError
from edgesplit.fields import NonNegative, Positive
from edgesplit.net import ReplayRates
from edgesplit.profile.catalogue import hardware_profile


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Irradiance(_Strict):
    """Where R(t) (shi2025 Eq. 6) comes from."""

    kind: Literal["sample_day", "clearsky", "midc", "tmy3"] = "sample_day"
    latitude: float = Field(36.1, ge=-90, le=90)
    longitude: float = Field(-79.95, ge=-180, le=180)
    date: str = "2026-06-21"
    timezone: str = "Etc/GMT+5"
    altitude_m: float = 0.0
    clouds: bool = True
    midc_file: str | None = None
    tmy3_file: str | None = None  # kind tmy3: None reads the TMY3 file pvlib's wheel ships
    tmy3_date: str = "06-21"  # kind tmy3: the day, MM-DD


class Uplink(_Strict):
    """The slot style's uplink bandwidth B(t): uniform per slot, a CSV trace, or 5G NR UMi."""

    kind: Literal["uniform", "trace", "umi"] = "uniform"
    low_bps: Positive = 10e6
    high_bps: Positive = 20e6
    trace_file: str | None = None
    trace_column: str = "rate_bps"
    frequency_hz: Positive = 3.5e9
    bandwidth_hz: Positive = 100e6
    device_power_dbm: float = 10.0
    server_power_dbm: float = 23.0
    antenna_gain_db: float = 0.0
    noise_figure_db: float = 7.0
    distance_m: tuple[Positive, Positive] = (10.0, 100.0)

    @model_validator(mode="after")
    def _trace(self) -> Uplink:
        if self.kind == "uniform" and self.low_bps > self.high_bps:
            raise ValueError(f"low_bps {self.low_bps} exceeds high_bps {self.high_bps}")
        if self.kind == "trace" and not self.trace_file:
            raise ValueError("trace_file is required when kind is trace")
        return self


class Device(_Strict):
    """One mobile device type (``count`` identical devices)."""

    model: str
    hardware: str
    threads: int | None = Field(None, ge=1)
    count: int = Field(1, ge=1, le=10_000)
    compute_power_w: NonNegative | None = None
    transmit_power_w: NonNegative | None = None
    receive_power_w: NonNegative = 0.0
    energy_per_mac_j: NonNegative | None = None
    input_bits: Positive | None = None  # what sending the raw input costs (a compressed image)
    result_bits: NonNegative = 0.0  # the inference result sent back (downlink)
    battery_capacity_j: Positive | None = None
    panel_area_efficiency_m2: NonNegative = 0.0  # shi2025 alpha: panel area x efficiency
    arrivals_per_slot: tuple[NonNegative, NonNegative] = (20.0, 30.0)
    deadline_fraction: Positive = 0.9  # shi2025: D_max = 0.9 x the all-local latency
    distance_m: tuple[Positive, Positive] = (1.0, 100.0)
    mean_tasks: Positive = 50.0
    uplink: Uplink | None = None  # slot style: this type's own link (else the scenario's)
    # the device's compute as a MAC rate (as `plan --device-gmacs`) in place of its hardware's
    # profile (the hardware still gives its powers)
    macs_per_s: Positive | None = None

    @model_validator(mode="after")
    def _ranges(self) -> Device:
        for name in ("arrivals_per_slot", "distance_m"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}: low {low} exceeds high {high}")
        return self


class Server(_Strict):
    """One edge server type (``count`` identical servers)."""

    hardware: str
    threads: tuple[int, int] | None = None  # K(t) drawn uniformly from this range each slot
    min_threads_per_task: int = Field(1, ge=0)  # shi2025 k_min
    count: int = Field(1, ge=1, le=10_000)

    @model_validator(mode="after")
    def _threads(self) -> Server:
        if self.threads is not None:
            low, high = self.threads
            if not 1 <= low <= high:
                raise ValueError(f"threads: need 1 <= low <= high, got {self.threads}")
        return self


class Radio(_Strict):
    """zhang2026's radio (Table III): shared channels, Shannon rates with interference. The noise
    is a density (``noise_w_per_hz``), so that a channel's noise power grows with its bandwidth
    as thermal noise does; ``noise_w`` may be given instead (Table III's 1e-9 W over one 1 MHz
    channel), and is then read at the ``bandwidth_hz`` given beside it."""

    channels: int = Field(2, ge=1)
    bandwidth_hz: Positive = 1e6
    noise_w_per_hz: Positive = 1e-15
    path_loss_exponent: Positive = 3.0
    reference_distance_m: Positive = 1.0
    shadowing_std_db: NonNegative = 8.0
    max_transmit_power_w: Positive = 1.0

    @model_validator(mode="before")
    @classmethod
    def _noise_power(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "noise_w" not in data:
            return data
        if "noise_w_per_hz" in data:
            raise ValueError("noise_w and noise_w_per_hz: give one (the power or the density)")
        data = dict(data)
        noise, bandwidth = data.pop("noise_w"), data.get("bandwidth_hz", 1e6)
        numbers = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in (noise, bandwidth)
        )
        data["noise_w_per_hz"] = noise / bandwidth if numbers and bandwidth > 0 else noise
        return data

    @property
    def noise_w(self) -> float:
        """One channel's noise power (W)."""
        return self.noise_w_per_hz * self.bandwidth_hz


class SlotReward(_Strict):
    """shi2025 Eq. 10 and what edgesplit adds for constraint violations."""

    v: float = Field(0.5, gt=0, lt=1)
    violation_penalty: NonNegative = 1.0


class WindowReward(_Strict):
    """zhang2026 Eq. 8."""

    alpha: NonNegative = 0.05
    beta: NonNegative = 50.0
    window_max: int = Field(5, ge=1)


class Runtime(_Strict):
    """The live runtime's overheads, as a term of every offloaded task (``costs.link``): a link
    profile (shipped name or file, measured by ``edgesplit calibrate``) and the codecs the
    runtime may choose from, the fastest at each rate (lossy ones only when listed)."""

    link: str
    codecs: tuple[str, ...] = ("fp32",)


class LearnedOptions(_Strict):
    """Learned split options as ways to run a task (``costs.tables``): the shipped bottlenecks of
    each device's model (a digits classifier, ``compress.shipped``) that keep ``min_accuracy``
    top-1 on the shipped test images become rows of its cost table beside its cuts, which any
    decider may choose. ``placeholder``: a side without a profile of the model is priced at the
    MAC rate its hardware reaches on ``plan``'s reference model."""

    min_accuracy: float = Field(ge=0.0, le=1.0)
    placeholder: bool = False


class Scenario(_Strict):
    name: str
    about: str = ""
    style: Literal["slot", "task_window", "time_slot"]
    granularity: Literal["fx", "operator", "layer", "block"] = "operator"
    predictor: Literal["nodes", "shi2025", "neurosurgeon"] = "nodes"
    input_size: int = Field(224, ge=32)
    devices: list[Device] = Field(min_length=1)
    servers: list[Server] = Field(min_length=1)
    # slot style
    slot_s: Positive = 30.0
    episode_slots: int = Field(120, ge=1, le=1_000_000)  # a year of 30-s slots at most
    start_s: NonNegative = 36_000.0  # time of day the episode starts (10:00)
    uplink: Uplink = Uplink()
    irradiance: Irradiance = Irradiance()
    slot_reward: SlotReward = SlotReward()
    # task-window and time-slot styles
    radio: Radio = Radio()
    window_reward: WindowReward = WindowReward()
    time_slot_s: Positive = 0.05
    # the live runtime's overheads (None: the papers' ideal link, bits / rate)
    runtime: Runtime | None = None
    options: LearnedOptions | None = None

    @model_validator(mode="after")
    def _style(self) -> Scenario:
        if (
            self.options is not None
            and self.runtime is not None
            and self.runtime.codecs != ("fp32",)
        ):
            raise ValueError(
                "options: with learned options the runtime's codecs must be fp32 alone (a "
                "bottleneck's bits are coded already, and a lossy fixed codec's top-1 is not "
                "weighed against the floor yet)"
            )
        if self.style == "slot":
            if len(self.servers) != 1 or self.servers[0].count != 1:
                raise ValueError("servers: the slot style (shi2025) has exactly one edge server")
            for i, device in enumerate(self.devices):
                if device.battery_capacity_j is None:
                    raise ValueError(f"devices.{i}.battery_capacity_j: required by the slot style")
            server = self.servers[0]
            if server.threads is not None:
                needed = self.device_count * server.min_threads_per_task
                if needed > server.threads[0]:
                    raise ValueError(
                        f"servers.0.threads: k_min {server.min_threads_per_task} x "
                        f"{self.device_count} devices needs {needed} threads, but K(t) can be as "
                        f"low as {server.threads[0]}"
                    )
        return self

    @property
    def device_count(self) -> int:
        return sum(d.count for d in self.devices)

    @property
    def server_count(self) -> int:
        return sum(s.count for s in self.servers)


def _format(error: ValidationError, origin: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{origin}: {where}: {message}{more}"


def parse_scenario(data: object, origin: str) -> Scenario:
    """A Scenario from parsed YAML, or ScenarioError naming the field and what is allowed."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(_format(error, origin)) from None


def presets() -> list[str]:
    """The shipped scenario presets."""
    folder = resources.files("edgesplit.data").joinpath("scenarios")
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A preset by name, or a YAML file; its models and hardware are checked to have profiles."""
    text = str(name_or_path)
    folder = None  # where a file's relative paths start
    if text in presets():
        origin = f"preset {text}"
        raw = resources.files("edgesplit.data").joinpath("scenarios", f"{text}.yaml").read_text()
    else:
        path = Path(text)
        if not path.is_file():
            raise ScenarioError(
                f"no scenario {text!r}: not a preset ({', '.join(presets())}) or a file"
            )
        origin, raw, folder = str(path), path.read_text(), path.resolve().parent
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise ScenarioError(f"{origin} is not valid YAML: {error}") from None
    scenario = parse_scenario(data, origin)
    scenario = resolve_files(scenario, folder, origin)
    check_profiles(scenario, origin)
    return scenario


def resolve_files(scenario: Scenario, folder: Path | None, origin: str) -> Scenario:
    """The scenario with its data files (``uplink.trace_file`` and the devices' own,
    ``irradiance.midc_file`` and ``tmy3_file``, ``runtime.link`` unless a shipped name)
    resolved against ``folder`` (the YAML file's) when relative, and checked to exist and to
    read as what they are (a rate trace with its column, an NREL MIDC file, a TMY3 file with
    the day asked, a link profile with the codecs asked)."""

    def resolved(field: str, name: str | None, used: bool) -> str | None:
        if name is None or not used:
            return name
        path = Path(name)
        if not path.is_absolute() and folder is not None:
            path = folder / path
        if not path.is_file():
            where = f" (relative to {folder})" if folder is not None else ""
            raise ScenarioError(f"{origin}: {field}: no file {name!r}{where}")
        return str(path)

    def resolved_uplink(field: str, uplink: Uplink) -> Uplink:
        trace = resolved(f"{field}.trace_file", uplink.trace_file, uplink.kind == "trace")
        try:
            if uplink.kind == "trace":
                ReplayRates.from_csv(trace, uplink.trace_column)
        except EdgesplitError as error:
            raise ScenarioError(f"{origin}: {field}: {error}") from None
        return uplink.model_copy(update={"trace_file": trace})

    irradiance, runtime = scenario.irradiance, scenario.runtime
    devices = [
        d
        if d.uplink is None
        else d.model_copy(update={"uplink": resolved_uplink(f"devices.{i}.uplink", d.uplink)})
        for i, d in enumerate(scenario.devices)
    ]
    midc = resolved("irradiance.midc_file", irradiance.midc_file, irradiance.kind == "midc")
    tmy3 = resolved("irradiance.tmy3_file", irradiance.tmy3_file, irradiance.kind == "tmy3")
    if runtime is not None and runtime.link not in shipped_links():
        runtime = runtime.model_copy(update={"link": resolved("runtime.link", runtime.link, True)})
    try:
        if irradiance.kind == "midc":
            read_midc(midc)
        if irradiance.kind == "tmy3":
            tmy3_day(irradiance.tmy3_date, tmy3)
        if runtime is not None:
            load_link(runtime.link, runtime.codecs)
    except EdgesplitError as error:
        raise ScenarioError(f"{origin}: {error}") from None
    return scenario.model_copy(
        update={
            "uplink": resolved_uplink("uplink", scenario.uplink),
            "devices": devices,
            "irradiance": irradiance.model_copy(update={"midc_file": midc, "tmy3_file": tmy3}),
            "runtime": runtime,
        }
    )


def check_profiles(scenario: Scenario, origin: str) -> None:
    """Every device's model must have a profile on its hardware (unless the device is a MAC
    rate) and on every server (a compressed variant, ``model@structured-0.5``, its base
    model's), unless the learned options allow the placeholder rate."""
    if scenario.options is not None and scenario.options.placeholder:
        return
    for i, device in enumerate(scenario.devices):
        for field, hardware in (
            *([] if device.macs_per_s is not None else [("hardware", device.hardware)]),
            *(("servers", s.hardware) for s in scenario.servers),
        ):
            try:
                hardware_profile(hardware, device.model.rpartition("@")[0] or device.model)
            except EdgesplitError as error:
                where = f"devices.{i}.model" if field == "hardware" else "servers"
                raise ScenarioError(f"{origin}: {where}: {error}") from None


def table_spec(scenario: Scenario, device: Device, server: Server) -> TableSpec:
    """The cost table a scenario's device type needs with one of its server types."""
    options = scenario.options
    return TableSpec(
        device.model, device.hardware, device.threads, server.hardware,
        scenario.granularity, scenario.predictor, scenario.input_size,
        None if options is None else options.min_accuracy,
        options is not None and options.placeholder, device.macs_per_s,
    )  # fmt: skip


def scenario_link(scenario: Scenario) -> LinkCosts:
    """The runtime overheads every offloaded task pays (the ideal link without a runtime)."""
    runtime = scenario.runtime
    return LinkCosts.ideal() if runtime is None else load_link(runtime.link, runtime.codecs)


def scenario_for(source: str | Scenario, styles: tuple[str, ...], user: str) -> Scenario:
    """The scenario (a preset, a file or one already loaded), checked to be of ``styles``."""
    scenario = load_scenario(source) if isinstance(source, str) else source
    if scenario.style not in styles:
        raise InvalidParameterError(
            "scenario.style", scenario.style, f"{' or '.join(styles)} for {user}"
        )
    return scenario


def preset_rows() -> list[dict[str, object]]:
    """One row per shipped preset: name, style, device and server counts, models, about."""
    rows = []
    for name in presets():
        scenario = load_scenario(name)
        rows.append(
            {
                "name": name,
                "style": scenario.style,
                "devices": scenario.device_count,
                "servers": scenario.server_count,
                "models": sorted({d.model for d in scenario.devices}),
                "about": " ".join(scenario.about.split()),
            }
        )
    return rows
