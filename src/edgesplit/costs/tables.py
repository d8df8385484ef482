"""Per-cut cost tables: what the simulator and the deciders need of a model on a device and a
server.

For every cut of the model (cut index order, at the scenario's granularity): the bits it sends,
the device's MACs, the head's latency on the device, and the tail's latency on the server with
k = 0 ... K threads (column 0 is +inf for any cut with server work: no threads, no service; a
GPU server's columns are all equal). They come from the graph layer's cuts and the profile
layer's predictors; building them traces the model (torch), so tables are cached as ``.npz``:
presets ship theirs in ``data/tables/``, other scenarios build theirs once into
``~/.cache/edgesplit/tables`` (``EDGESPLIT_CACHE`` overrides the folder).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import numpy as np

from edgesplit.profile.catalogue import latency_model
from edgesplit.profile.data import cache_root

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

    @property
    def n_cuts(self) -> int:
        return len(self.transfer_bits)

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

    @property
    def key(self) -> str:
        """A file-name-safe key."""
        threads = "auto" if self.device_threads is None else str(self.device_threads)
        parts = [self.model, self.device, threads, self.server, self.granularity, self.predictor]
        parts.append(str(self.input_size))
        return "__".join(p.replace("/", "_").replace(".json", "") for p in parts)


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

    model, device, server, predictor = spec.model, spec.device, spec.server, spec.predictor
    _, _, graph = load_traced(model, spec.granularity, spec.input_size)
    cuts = graph.cut_table()
    device_model = latency_model(device, model, predictor, spec.device_threads)
    head_s = cuts.device.astype(np.float64) @ device_model.node_latency_s(graph)
    server_model = latency_model(server, model, predictor)
    server_side = (~cuts.device).astype(np.float64)
    if server_model.device == "cuda":  # one column: threads do not matter
        per_k = [server_side @ server_model.node_latency_s(graph)]
    else:
        max_threads = server_model.profile.cores
        per_k = [
            server_side @ latency_model(server, model, predictor, k).node_latency_s(graph)
            for k in range(1, max_threads + 1)
        ]
    tail = np.stack(per_k, axis=1)
    has_server_work = server_side.any(axis=1)
    column0 = np.where(has_server_work, np.inf, 0.0)
    output_bits = float(sum(v.size_bits for v in graph.values if v.to_output))
    return ModelTable(
        key=spec.key,
        transfer_bits=cuts.transfer_bits.astype(np.float64),
        device_macs=cuts.device_macs.astype(np.float64),
        head_s=head_s,
        tail_s=np.column_stack([column0, tail]),
        crossing_count=cuts.crossing.sum(axis=1).astype(np.int64),
        input_bits=float(graph.values[0].size_bits),
        result_bits=output_bits,
    )
