"""Per-cut cost tables: what the simulator and the deciders need of a model on a device and a
server.

For every cut of the model (cut index order, at the scenario's granularity): the bits it sends,
the device's MACs, the head's latency on the device, and the tail's latency on the server with
k = 0 ... K threads (column 0 is +inf for any cut with server work: no threads, no service; a
GPU server's columns are all equal). They come from the graph layer's cuts and the profile
layer's predictors; building them traces the model (torch), so tables are cached as ``.npz``:
presets ship theirs in ``data/tables/``, other scenarios build theirs once into
``~/.cache/edgesplit/tables`` (``EDGESPLIT_CACHE`` overrides the folder).

A table's rows are the ways a task can run, and a decision's ``cut`` is a row. Without learned
options they are the cuts themselves (row i is cut i, the last all-local). With a top-1 floor
(``TableSpec.min_accuracy``) the model's shipped bottlenecks and early exits (one row per
threshold) that keep it (``compress.shipped.split_options``) are rows too, before the all-local
row (``row_cut`` maps a row to its cut, ``row_option`` names its option):

- a bottleneck at cut c is cut c's row with its coded bits sent in place of the cut's tensors,
  its encoder added to the head and its decoder to the tail;
- an exit at cut c with exit probability p adds its head to cut c's head, and its row holds the
  expected sending part, (1 - p) times cut c's bits and tail, and ``sent_share`` 1 - p, by which
  the simulator scales the request's fixed time and the result's download. Expected values are
  exact for a slot's mean latency and energy, and for the M/D/1 queue: tasks arriving at rate
  lambda with service (1 - p) s wait (1 - p) times what the (1 - p) lambda that go on wait with
  service s. They are not for a task window's maximum over its tasks, nor for a deadline.

A model the hardware has no profile of is priced, when the spec allows it (``placeholder``), at
the MAC rate that hardware reaches on ``plan``'s reference model; a device may also be given as
a MAC rate (``device_macs_per_s``, as ``plan --device-gmacs``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from edgesplit.profile.catalogue import (
    latency_model,
    no_profile_of,
    placeholder_latency,
    plan_defaults,
)
from edgesplit.profile.data import cache_root
from edgesplit.profile.throughput import ThroughputModel, whole_model_rate

TABLE_VERSION = 2


@dataclass(frozen=True)
class ModelTable:
    """The per-cut costs of one model on one device and one server."""

    key: str
    transfer_bits: np.ndarray  # [cuts]
    device_macs: np.ndarray  # [cuts]
    head_s: np.ndarray  # [cuts]
    tail_s: np.ndarray  # [cuts, threads + 1]
    crossing_count: np.ndarray  # [cuts]: tensors the cut sends (Neurosurgeon takes 1-tensor cuts)
    input_bits: float
    result_bits: float
    row_cut: np.ndarray | None = None  # [rows]: each row's cut (None: row i is cut i)
    row_option: tuple[str, ...] = ()  # [rows]: the learned option a row runs ("": the plain cut)
    sent_share: np.ndarray | None = None  # [rows]: the share of tasks that send (an exit's 1 - p)

    @property
    def n_cuts(self) -> int:
        """The rows (the cuts, and the learned options before the all-local row)."""
        return len(self.transfer_bits)

    @property
    def cut_count(self) -> int:
        """The model's cuts (the rows but the learned options)."""
        return self.cut_of(self.n_cuts - 1) + 1

    def cut_of(self, row: int) -> int:
        """The cut (on the model's graph) that row ``row`` splits at."""
        return row if self.row_cut is None else int(self.row_cut[row])

    def option_of(self, row: int) -> str:
        """The learned option row ``row`` runs ("" for a plain cut)."""
        return self.row_option[row] if self.row_option else ""

    def learned_run(self, row: int) -> tuple[str, str, float]:
        """How the runtime runs row ``row``'s option: (bottleneck, exit, exit threshold), ""
        and 0 where none (an exit's row is named by ``exit_option_name``)."""
        option = self.option_of(row)
        name, at, threshold = option.rpartition("@")
        if at:
            return "", name, float(threshold)
        return option, "", 0.0

    def bottlenecks(self) -> list[str]:
        """The bottlenecks among its rows (what a server running them must host)."""
        return [b for b in (self.learned_run(r)[0] for r in range(self.n_cuts)) if b]

    @property
    def shares(self) -> np.ndarray:
        """Per row, the share of its tasks that send (1 but for an early exit's rows)."""
        return np.ones(self.n_cuts) if self.sent_share is None else self.sent_share

    @property
    def max_threads(self) -> int:
        return self.tail_s.shape[1] - 1

    @property
    def local_s(self) -> float:
        """The all-local latency (the head of the last cut)."""
        return float(self.head_s[-1])


class TableSpec(NamedTuple):
    """What one table is of: a model on a device (at a thread count, None: the profile's) and a
    server, at a granularity, with a predictor and an input size."""

    model: str
    device: str
    device_threads: int | None
    server: str
    granularity: str
    predictor: str
    input_size: int
    min_accuracy: float | None = None  # the shipped bottlenecks keeping this top-1 are rows
    placeholder: bool = False  # a model a side has no profile of: that side's reference rate
    device_macs_per_s: float | None = None  # the device as a MAC rate, not its profile

    @property
    def key(self) -> str:
        """A file-name-safe key."""
        threads = "auto" if self.device_threads is None else str(self.device_threads)
        parts = [self.model, self.device, threads, self.server, self.granularity, self.predictor]
        parts.append(str(self.input_size))
        if self.min_accuracy is not None:
            parts.append(f"top1-{self.min_accuracy:g}-{options_digest()}")
        if self.placeholder:
            parts.append("placeholder")
        if self.device_macs_per_s is not None:
            parts.append(f"device-{self.device_macs_per_s:g}-macs")
        return "__".join(
            p.replace("/", "_").replace(".json", "").replace(":", "_").replace("=", "-")
            for p in parts
        )


def exit_option_name(name: str, threshold: float) -> str:
    """An early exit's option at one threshold, ``NAME@THRESHOLD`` (``learned_run`` reads it
    back)."""
    return f"{name}@{threshold:g}"


@functools.cache
def options_digest() -> str:
    """A digest of every shipped bottleneck and exit file (``data/bottlenecks``, ``data/exits``):
    in a table's key, so that a cached table of learned options goes stale with them."""
    digest = hashlib.blake2b(digest_size=4)
    for folder in ("bottlenecks", "exits"):
        files = resources.files("edgesplit.data").joinpath(folder).iterdir()
        shipped = (f for f in files if not f.name.startswith("."))  # not a training checkpoint
        for file in sorted(shipped, key=lambda f: f.name):
            digest.update(file.name.encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def _cache_folder() -> Path:
    return cache_root() / "tables"


def _read(path) -> ModelTable | None:
    with np.load(path) as data:
        if int(data["version"]) != TABLE_VERSION:
            return None
        return ModelTable(
            key=str(data["key"]),
            transfer_bits=data["transfer_bits"],
            device_macs=data["device_macs"],
            head_s=data["head_s"],
            tail_s=data["tail_s"],
            crossing_count=data["crossing_count"],
            input_bits=float(data["input_bits"]),
            result_bits=float(data["result_bits"]),
            row_cut=data.get("row_cut"),
            row_option=tuple(str(o) for o in data.get("row_option", ())),
            sent_share=data.get("sent_share"),
        )


def save_table(table: ModelTable, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{table.key}.npz"
    np.savez_compressed(
        path,
        version=TABLE_VERSION,
        key=table.key,
        transfer_bits=table.transfer_bits,
        device_macs=table.device_macs,
        head_s=table.head_s,
        tail_s=table.tail_s,
        crossing_count=table.crossing_count,
        input_bits=table.input_bits,
        result_bits=table.result_bits,
        **(
            {}
            if table.row_cut is None
            else {
                "row_cut": table.row_cut,
                "row_option": np.array(table.row_option),
                "sent_share": table.shares,
            }
        ),
    )
    return path


def load_table(spec: TableSpec) -> ModelTable:
    """The table from package data, the user cache, or freshly built (then cached)."""
    shipped = resources.files("edgesplit.data").joinpath("tables", f"{spec.key}.npz")
    for candidate in (shipped, _cache_folder() / f"{spec.key}.npz"):
        if candidate.is_file():
            table = _read(candidate)
            if table is not None:
                return table
    table = build_table(spec)
    with contextlib.suppress(OSError):  # a read-only home still gets a working (uncached) table
        save_table(table, _cache_folder())
    return table


def build_table(spec: TableSpec) -> ModelTable:
    """Trace the model and predict every cut's costs from the device's and server's profiles."""
    from edgesplit.graph.zoo import load_traced

    _, _, graph = load_traced(spec.model, spec.granularity, spec.input_size)
    cuts = graph.cut_table()
    device_model = (
        _side_latency(spec, spec.device, spec.device_threads)
        if spec.device_macs_per_s is None
        else ThroughputModel(spec.device_macs_per_s)
    )
    head_s = cuts.device.astype(np.float64) @ device_model.node_latency_s(graph)
    server_models = _server_latencies(spec)
    server_side = (~cuts.device).astype(np.float64)
    tail = np.stack([server_side @ m.node_latency_s(graph) for m in server_models], axis=1)
    has_server_work = server_side.any(axis=1)
    column0 = np.where(has_server_work, np.inf, 0.0)
    output_bits = float(sum(v.size_bits for v in graph.values if v.to_output))
    table = ModelTable(
        key=spec.key,
        transfer_bits=cuts.transfer_bits.astype(np.float64),
        device_macs=cuts.device_macs.astype(np.float64),
        head_s=head_s,
        tail_s=np.column_stack([column0, tail]),
        crossing_count=cuts.crossing.sum(axis=1).astype(np.int64),
        input_bits=float(graph.values[0].size_bits),
        result_bits=output_bits,
    )
    if spec.min_accuracy is None:
        return table
    return with_options(table, graph, spec.min_accuracy, device_model, server_models)


def _side_latency(spec: TableSpec, hardware: str, threads: int | None) -> Any:
    """A side's latency model of the spec's model: its profile, else (``placeholder``) the
    hardware's MAC rate on the reference model."""
    if spec.placeholder and no_profile_of(spec.model, hardware):
        return placeholder_latency(spec.model, hardware, threads)[0]
    return latency_model(hardware, spec.model, spec.predictor, threads)


def _server_latencies(spec: TableSpec) -> list[Any]:
    """The server's latency model per thread count 1..K (one for a GPU: threads do not
    matter)."""
    first = latency_model(spec.server, *_profiled(spec))
    if first.device == "cuda":
        return [_side_latency(spec, spec.server, None)]
    return [_side_latency(spec, spec.server, k) for k in range(1, first.profile.cores + 1)]


def _profiled(spec: TableSpec) -> tuple[str, str]:
    """(model, predictor) of a profile the server has: the spec's model, or (placeholder) the
    reference model's, for the server's kind and cores."""
    if spec.placeholder and no_profile_of(spec.model, spec.server):
        return plan_defaults()["placeholder"]["model"], spec.predictor
    return spec.model, spec.predictor


def with_options(
    table: ModelTable,
    graph: Any,
    min_accuracy: float,
    device: Any,
    servers: list[Any],
) -> ModelTable:
    """``table`` with a row per shipped learned option of its model keeping ``min_accuracy``
    (``servers``: the server's latency model per thread column 1..K), placed before the
    all-local row (the module docstring). An option's server seconds at k threads are its
    seconds at the first column's whole-model rate (``whole_model_rate``) over the k-th's."""
    from edgesplit.compress.shipped import split_options

    options, _ = split_options(graph.model_name, graph, device, servers[0])
    kept = [o for o in options if o.top1 >= min_accuracy]
    rates = np.array([whole_model_rate(server, graph).macs_per_s for server in servers])
    scale = rates[0] / rates  # an option's server seconds at each column's whole-model rate
    rows, last = list(range(table.n_cuts - 1)), table.n_cuts - 1
    cuts = [o.cut_index for o in kept]
    shares = [1.0 - o.exit_probability for o in kept]
    bits, head, tails = [], [], []
    for cut, option, share in zip(cuts, kept, shares, strict=True):
        sent = table.transfer_bits[cut] if option.bits is None else option.bits
        bits.append(share * sent)
        head.append(table.head_s[cut] + option.device_s)
        columns = share * (table.tail_s[cut, 1:] + option.server_s * scale)
        tails.append([table.tail_s[cut, 0] if share > 0 else 0.0, *columns])
    order = [*rows, *cuts, last]

    def stacked(values: np.ndarray, extra: list[Any]) -> np.ndarray:
        shaped = np.asarray(extra, values.dtype).reshape(-1, *values.shape[1:])
        return np.concatenate([values[rows], shaped, values[[last]]])

    return replace(
        table,
        transfer_bits=stacked(table.transfer_bits, bits),
        device_macs=table.device_macs[order],
        head_s=stacked(table.head_s, head),
        tail_s=stacked(table.tail_s, tails),
        crossing_count=table.crossing_count[order],
        row_cut=np.array(order, dtype=np.int64),
        row_option=("",) * len(rows) + tuple(o.name for o in kept) + ("",),
        sent_share=np.array([1.0] * len(rows) + shares + [1.0]),
    )
