"""The hardware catalogue (package data ``hardware.json``): the papers' devices and servers and the
machines edgesplit measured, each with its powers and where its latencies come from.

A latency source is ``{"measured": collection, "device": "cpu" | "cuda"}`` (a shipped profile
collection) or ``{"derived_from": entry, "factor": f | "anchor": {...}, "threads": k?, "how":
text}``: the base entry's profile with every latency multiplied by ``f`` (or by the factor that
makes the anchor model take the anchor latency), restricted to ``k`` threads when given.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgesplit.errors import InvalidParameterError, ProfileError
from edgesplit.profile.data import Profile, folder_profile, load_profile_file, package_profile
from edgesplit.profile.throughput import NodeLatencyModel, ThroughputModel

if TYPE_CHECKING:
    from edgesplit.profile.predictors import ProfileLatencyModel, VariantLatencyModel


@dataclass(frozen=True)
class Hardware:
    """One catalogue entry."""

    name: str
    role: str
    paper: str
    processor: str
    latency: dict[str, Any]
    powers: dict[str, Any]
    notes: str

    @property
    def measured(self) -> bool:
        return "measured" in self.latency

    def describe_latency(self) -> str:
        if self.measured:
            return f"measured ({self.latency['measured']}, {self.latency['device']})"
        return f"derived from {self.latency['derived_from']}: {self.latency['how']}"

    @property
    def label(self) -> str:
        """The name, saying "derived" wherever a derived (not measured) entry is shown."""
        if self.measured:
            return self.name
        return f"{self.name} (derived from {self.latency['derived_from']})"


@cache
def catalogue() -> dict[str, Hardware]:
    """Every catalogue entry by name."""
    raw = json.loads(resources.files("edgesplit.data").joinpath("hardware.json").read_text())
    return {entry["name"]: Hardware(**entry) for entry in raw["hardware"]}


def hardware(name: str) -> Hardware:
    """The catalogue entry ``name``, or an error listing close names."""
    entries = catalogue()
    if name not in entries:
        close = difflib.get_close_matches(name, list(entries), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise InvalidParameterError(
            "hardware",
            name,
            f"a catalogue entry{hint}: {', '.join(entries)}, or a profile file or folder",
        )
    return entries[name]


def hardware_profile(name: str, model: str) -> tuple[Profile, str]:
    """The profile of ``model`` on catalogue entry ``name`` (or in the collection folder
    ``name`` of one measured machine) and the processor it describes."""
    if Path(name).is_dir():
        profile = folder_profile(name, model)
        return profile, "cuda" if not profile.cpu and profile.cuda is not None else "cpu"
    entry = hardware(name)
    spec = entry.latency
    if entry.measured:
        profile = package_profile(spec["measured"], model)
        if spec["device"] == "cuda" and profile.cuda is None:
            raise ProfileError(f"the {spec['measured']} {model} profile has no CUDA measurements")
        return profile, spec["device"]
    base, device = hardware_profile(spec["derived_from"], model)
    if "threads" in spec:
        base = replace(base, cpu={spec["threads"]: base.processor("cpu", spec["threads"])})
    factor = spec.get("factor")
    if factor is None:
        anchor = spec["anchor"]
        anchor_profile, _ = hardware_profile(spec["derived_from"], anchor["model"])
        factor = anchor["latency_s"] / whole_latency_s(anchor_profile, device)
    machine = {
        "name": entry.name,
        "processor": entry.processor,
        "derived_from": spec["derived_from"],
        "factor": factor,
        "cores": base.cores,
    }
    return base.scaled(factor, machine, spec["how"]), device


def whole_latency_s(profile: Profile, device: str) -> float:
    """The whole model's median latency on ``device`` (a CPU at its most threads)."""
    if device == "cuda":
        return profile.processor("cuda").whole.median_s
    return profile.processor("cpu", max(profile.cpu)).whole.median_s


def latency_model(
    source: str, model: str, predictor: str = "nodes", threads: int | None = None
) -> ProfileLatencyModel | VariantLatencyModel:
    """A NodeLatencyModel for ``model`` from a catalogue entry or a profile file; a compressed
    variant (``model@structured-0.5``) without a profile of its own (``edgesplit profile`` takes
    variant specs) is scaled from its base model's profile."""
    from edgesplit.profile.predictors import PREDICTORS, ProfileLatencyModel, VariantLatencyModel

    is_file = source.endswith(".json") or Path(source).is_file()
    if "@" in model and not (is_file and load_profile_file(source).model == model):
        base = latency_model(source, model.rpartition("@")[0], predictor, threads)
        return VariantLatencyModel(base)

    if predictor not in PREDICTORS:
        raise InvalidParameterError("predictor", predictor, f"one of {', '.join(PREDICTORS)}")
    if is_file:
        profile = load_profile_file(source)
        device = "cuda" if not profile.cpu and profile.cuda is not None else "cpu"
    else:
        profile, device = hardware_profile(source, model)
    if profile.model != model:
        raise ProfileError(f"{source} holds a {profile.model} profile, not {model}")
    if device == "cpu" and threads is not None and threads not in profile.cpu:
        limit = profile.cores
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= limit:
            raise InvalidParameterError(
                "threads", threads, f"an integer from 1 to {limit} (the cores behind {source})"
            )
        if len(profile.cpu) == 1:
            (fixed,) = profile.cpu
            raise InvalidParameterError(
                "threads", threads, f"{fixed}: {source} runs at {fixed} threads"
            )
    return ProfileLatencyModel(profile, predictor, device, threads if device == "cpu" else None)


def resolve_latency(
    model: str,
    profile: str | None,
    macs_per_s: float | None,
    threads: int | None,
    predictor: str,
    side: str,
) -> tuple[NodeLatencyModel, str]:
    """The latency model of one side of a plan: a profile (catalogue entry or file) or, only when
    asked for explicitly, the placeholder MAC-rate model. Returns it with a description."""
    if profile is not None and macs_per_s is not None:
        raise InvalidParameterError(
            f"--{side}-gmacs",
            macs_per_s,
            f"left out when --{side}-profile is given (one or the other)",
        )
    if macs_per_s is not None:
        return ThroughputModel(macs_per_s), f"{macs_per_s / 1e9:g} GMAC/s (placeholder)"
    if profile is None:
        raise InvalidParameterError(
            f"--{side}-profile", None, "a catalogue entry or a profile file"
        )
    latency = latency_model(profile, model, predictor, threads)
    at = (
        ""
        if latency.device == "cuda"
        else f" at {latency.threads or max(latency.profile.cpu)} threads"
    )
    return latency, f"{profile}{at} ({latency.profile.source}, {predictor} predictor)"


def device_powers(profile: str | None) -> dict[str, Any]:
    """The powers a catalogue entry gives (empty for files and entries without them)."""
    if profile is None or profile not in catalogue():
        return {}
    return dict(catalogue()[profile].powers)


@cache
def plan_defaults() -> dict[str, Any]:
    """Defaults of the planner and the demo, from package data (with their sources)."""
    text = resources.files("edgesplit.data").joinpath("plan_defaults.json").read_text()
    return json.loads(text)


def no_profile_of(model: str, hardware: str) -> bool:
    """Whether catalogue entry ``hardware`` lacks a profile of ``model`` (it has the reference
    model's)."""
    try:
        hardware_profile(hardware, model)
    except ProfileError:
        return True
    return False


def placeholder_latency(
    model: str, hardware: str, threads: int | None
) -> tuple[ThroughputModel, str]:
    """For a model ``hardware`` has no profile of: the MAC rate its profile reaches on the
    reference model (``plan_defaults.json``, ``placeholder``), with a label that says so."""
    reference = plan_defaults()["placeholder"]
    profile, device = hardware_profile(hardware, reference["model"])
    k = threads if threads is not None else max(profile.cpu, default=1)
    latency_s = profile.processor(device, None if device == "cuda" else k).whole.median_s
    rate = reference["macs"] / latency_s
    at = "" if device == "cuda" else f" at {k} threads"
    about = (
        f"placeholder {rate / 1e9:.0f} GMAC/s: {hardware}'s rate on {reference['model']}{at} "
        f"(no {model} profile; MAC-free operations cost nothing)"
    )
    return ThroughputModel(rate), about
