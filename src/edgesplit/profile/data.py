"""Latency profiles: what was measured on one machine for one model, as data.

A profile holds, per processor (``cpu`` with a thread count, or ``cuda``): the whole model's
latency (median, min, max over n runs), the latency of every fx node run alone (``per_node_s``,
aligned with ``node_order``: the model's torch.fx compute nodes in order, so any granularity sums
them), and the latency of the heads and tails of some cuts. A cut is keyed by its device mask over
``node_order`` (hex; bit i = node_order[i] on the device), so a profile does not depend on the
granularity a graph was built at.

Files are JSON, ``{"format": "edgesplit.profile", "version": 1, ...}``, validated by pydantic on
load. The reference profiles measured on a 16-core Xeon with an H100 (package data,
``profiles/xeon16-h100``) have their own layout and are converted on load.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgesplit.errors import ProfileError, ProfileMismatchError

FORMAT = "edgesplit.profile"
VERSION = 1
PACKAGE_PROFILES = "profiles"


@dataclass(frozen=True)
class Stats:
    """Latency statistics of repeated runs, seconds (``iqr_s``: the interquartile range, where
    the measurement recorded it)."""

    median_s: float
    min_s: float
    max_s: float
    n: int
    iqr_s: float | None = None


@dataclass(frozen=True)
class Measurements:
    """Everything measured on one processor setting (a CPU thread count, or the GPU).
    ``noisy`` says why the setting stayed implausible after re-measuring (None: it did not);
    planning refuses a profile with a noisy setting."""

    whole: Stats
    per_node_s: tuple[float, ...] | None = None
    head: dict[str, Stats] = field(default_factory=dict)
    tail: dict[str, Stats] = field(default_factory=dict)
    noisy: str | None = None

    def scaled(self, factor: float) -> Measurements:
        def scale(s: Stats) -> Stats:
            iqr = None if s.iqr_s is None else s.iqr_s * factor
            return Stats(s.median_s * factor, s.min_s * factor, s.max_s * factor, s.n, iqr)

        return Measurements(
            whole=scale(self.whole),
            per_node_s=None
            if self.per_node_s is None
            else tuple(t * factor for t in self.per_node_s),
            head={k: scale(v) for k, v in self.head.items()},
            tail={k: scale(v) for k, v in self.tail.items()},
            noisy=self.noisy,
        )


@dataclass(frozen=True)
class Profile:
    """Latency measurements of one model on one machine (or derived from such), with provenance."""

    model: str
    input_shape: tuple[int, ...]
    node_order: tuple[str, ...]
    machine: dict[str, Any]
    command: str
    source: str  # "measured", "reference" (measured elsewhere, shipped) or "derived"
    cpu: dict[int, Measurements]
    cuda: Measurements | None
    cuts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # cut key -> crossing
    notes: str = ""

    @property
    def cores(self) -> int:
        return int(self.machine.get("cores", max(self.cpu, default=1)))

    def processor(self, device: str, threads: int | None = None) -> Measurements:
        """The measurements for ``device`` ("cpu" with ``threads``, or "cuda")."""
        if device == "cuda":
            if self.cuda is None:
                raise ProfileError(f"the {self.model} profile has no CUDA measurements")
            return self.cuda
        if device != "cpu":
            raise ProfileError(f"device={device!r} is invalid: cpu or cuda")
        if threads not in self.cpu:
            raise ProfileError(
                f"the {self.model} profile has no CPU measurement at {threads} threads "
                f"(measured: {', '.join(map(str, sorted(self.cpu)))})"
            )
        return self.cpu[threads]

    def scaled(self, factor: float, machine: dict[str, Any], how: str) -> Profile:
        """A derived profile: every latency times ``factor`` (documented in ``how``)."""
        return replace(
            self,
            machine=machine,
            source="derived",
            cpu={k: m.scaled(factor) for k, m in self.cpu.items()},
            cuda=None if self.cuda is None else self.cuda.scaled(factor),
            notes=how,
        )

    def check_matches(self, model: str, node_order: tuple[str, ...], input_shape) -> None:
        """Raise ProfileMismatchError unless this profile describes that model and input."""
        if self.node_order != tuple(node_order):
            raise ProfileMismatchError(
                f"the profile is for {self.model} ({len(self.node_order)} fx nodes), but the graph "
                f"is {model} ({len(node_order)} fx nodes): profile the model you plan"
            )
        if tuple(self.input_shape) != tuple(input_shape):
            raise ProfileMismatchError(
                f"the {self.model} profile was measured with input {tuple(self.input_shape)}, the "
                f"graph was traced with {tuple(input_shape)}"
            )


# -- files ---------------------------------------------------------------------------------------


class _StatsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    median_s: float = Field(ge=0)
    min_s: float = Field(ge=0)
    max_s: float = Field(ge=0)
    n: int = Field(ge=1)
    iqr_s: float | None = Field(None, ge=0)


class _MeasurementsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    whole: _StatsModel
    per_node_s: list[float] | None = None
    head: dict[str, _StatsModel] = {}
    tail: dict[str, _StatsModel] = {}
    noisy: str | None = None


class _ProfileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["edgesplit.profile"]
    version: Literal[1]
    model: str
    input_shape: list[int]
    node_order: list[str]
    machine: dict[str, Any]
    command: str
    source: Literal["measured", "reference", "derived"]
    cpu: dict[int, _MeasurementsModel]
    cuda: _MeasurementsModel | None = None
    cuts: dict[str, list[str]] = {}
    notes: str = ""


def _stats(model: _StatsModel) -> Stats:
    return Stats(model.median_s, model.min_s, model.max_s, model.n, model.iqr_s)


def _measurements(model: _MeasurementsModel) -> Measurements:
    return Measurements(
        whole=_stats(model.whole),
        per_node_s=None if model.per_node_s is None else tuple(model.per_node_s),
        head={k: _stats(v) for k, v in model.head.items()},
        tail={k: _stats(v) for k, v in model.tail.items()},
        noisy=model.noisy,
    )


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    """The JSON-ready form of a profile (format version 1)."""

    def stats(s: Stats) -> dict[str, Any]:
        out = {"median_s": s.median_s, "min_s": s.min_s, "max_s": s.max_s, "n": s.n}
        return out if s.iqr_s is None else {**out, "iqr_s": s.iqr_s}

    def measurements(m: Measurements) -> dict[str, Any]:
        out = {
            "whole": stats(m.whole),
            "per_node_s": None if m.per_node_s is None else list(m.per_node_s),
            "head": {k: stats(v) for k, v in m.head.items()},
            "tail": {k: stats(v) for k, v in m.tail.items()},
        }
        return out if m.noisy is None else {**out, "noisy": m.noisy}

    return {
        "format": FORMAT,
        "version": VERSION,
        "model": profile.model,
        "input_shape": list(profile.input_shape),
        "node_order": list(profile.node_order),
        "machine": profile.machine,
        "command": profile.command,
        "source": profile.source,
        "cpu": {str(k): measurements(m) for k, m in sorted(profile.cpu.items())},
        "cuda": None if profile.cuda is None else measurements(profile.cuda),
        "cuts": {k: list(v) for k, v in profile.cuts.items()},
        "notes": profile.notes,
    }


def save_profile(profile: Profile, path: str | Path) -> None:
    """Write ``profile`` as JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(profile_to_dict(profile), indent=1) + "\n")
    temporary.replace(path)


def parse_profile(data: Any, origin: str) -> Profile:
    """A Profile from parsed JSON of either layout, or ProfileError naming the bad field."""
    if isinstance(data, dict) and "format" not in data and "tail_cut_nodes" in data:
        return _from_reference(data, origin)
    try:
        model = _ProfileModel.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ProfileError(f"{origin} is not a valid profile: {where}: {first['msg']}") from None
    if any(
        m.per_node_s is not None and len(m.per_node_s) != len(model.node_order)
        for m in [*model.cpu.values(), *([model.cuda] if model.cuda else [])]
    ):
        raise ProfileError(
            f"{origin} is not a valid profile: per_node_s and node_order differ in length"
        )
    return Profile(
        model=model.model,
        input_shape=tuple(model.input_shape),
        node_order=tuple(model.node_order),
        machine=model.machine,
        command=model.command,
        source=model.source,
        cpu={k: _measurements(m) for k, m in model.cpu.items()},
        cuda=None if model.cuda is None else _measurements(model.cuda),
        cuts={k: tuple(v) for k, v in model.cuts.items()},
        notes=model.notes,
    )


def load_profile_file(path: str | Path) -> Profile:
    """Read a profile file, raising ProfileError if it is missing or not a profile."""
    path = Path(path)
    if not path.is_file():
        raise ProfileError(f"no profile file {str(path)!r}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ProfileError(f"{path} is not valid JSON: {error}") from None
    return parse_profile(data, str(path))


def _collection(collection: str):
    folder = resources.files("edgesplit.data").joinpath(PACKAGE_PROFILES, collection)
    if not folder.is_dir():
        raise ProfileError(
            f"no profile collection {collection!r}; shipped: {', '.join(package_collections())}"
        )
    return folder


def shipped_models(collection: str) -> list[str]:
    """The models a shipped profile collection holds."""
    entries = _collection(collection).iterdir()
    return sorted(p.name.removesuffix(".json") for p in entries if p.name.endswith(".json"))


def package_profile(collection: str, model: str) -> Profile:
    """A profile shipped as package data, e.g. ("xeon16-h100", "resnet34")."""
    entry = _collection(collection).joinpath(f"{model}.json")
    if not entry.is_file():
        raise ProfileError(
            f"no {model} profile in {collection}; it has {', '.join(shipped_models(collection))} "
            "(measure one with `edgesplit profile`)"
        )
    return parse_profile(json.loads(entry.read_text()), f"{collection}/{model}.json")


def cache_root() -> Path:
    """edgesplit's cache: ``~/.cache/edgesplit`` (``EDGESPLIT_CACHE`` overrides it)."""
    return Path(os.environ.get("EDGESPLIT_CACHE", Path.home() / ".cache" / "edgesplit"))


def folder_profile(folder: str | Path, model: str) -> Profile:
    """The profile of ``model`` in a collection folder of one machine (``<folder>/<model>.json``,
    as ``edgesplit profile`` writes them)."""
    path = Path(folder) / f"{model}.json"
    if not path.is_file():
        raise ProfileError(f"no {model} profile in {folder} (measure one with `edgesplit profile`)")
    return load_profile_file(path)


def package_collections() -> list[str]:
    """The shipped profile collections."""
    folder = resources.files("edgesplit.data").joinpath(PACKAGE_PROFILES)
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def prefix_key(position: int) -> str:
    """The cut key of the prefix node_order[:position + 1] (a single-tensor cut after a node)."""
    return hex((1 << (position + 1)) - 1)


def _from_reference(data: dict[str, Any], origin: str) -> Profile:
    """Convert the xeon16-h100 reference layout: tails are timed at cut nodes, the device side
    being every node up to the cut node in ``node_order``."""
    try:
        order = list(data["node_order"])
        position = {name: i for i, name in enumerate(order)}

        def stats(s: dict[str, Any]) -> Stats:
            return Stats(float(s["median_s"]), float(s["min_s"]), float(s["max_s"]), int(s["n"]))

        def tails(raw: dict[str, Any]) -> dict[str, Stats]:
            return {prefix_key(position[node]): stats(s) for node, s in raw.items()}

        cpu = {
            int(k): Measurements(
                whole=stats(m["whole"]),
                per_node_s=tuple(float(m["per_node_s"][name]) for name in order),
                tail=tails(m["tail"]),
            )
            for k, m in data["cpu"].items()
        }
        cuda = None
        if data.get("cuda"):
            cuda = Measurements(
                whole=stats(data["cuda"]["whole"]), tail=tails(data["cuda"]["tail"])
            )
        machine = dict(data["machine"])
        machine["cpu"] = str(machine.get("cpu", "")).replace("Model name:", "").strip()
        return Profile(
            model=str(data["model"]),
            input_shape=tuple(int(d) for d in data["input_shape"]),
            node_order=tuple(order),
            machine=machine,
            command=str(data["command"]),
            source="reference",
            cpu=cpu,
            cuda=cuda,
            cuts={prefix_key(position[n]): (n,) for n in data["tail_cut_nodes"]},
            notes="Reference profile (shared/reference-profiles): measured by the project on a "
            "16-core Xeon host with an H100, one process per run; see its README.",
        )
    except (KeyError, TypeError, ValueError) as error:
        raise ProfileError(f"{origin} is not a valid reference profile: {error!r}") from None
