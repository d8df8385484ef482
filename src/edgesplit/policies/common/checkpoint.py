"""Checkpoint files that load without running code.

A policy file ``NAME.pt`` holds only tensors (``torch.save`` of a flat name -> tensor dict,
read with ``torch.load(weights_only=True)``); beside it ``NAME.json`` says what they are: the
policy's name, its config, the scenario it was trained on (name, content hash and the data the
compatibility check reads) and the edgesplit version. A resumable training checkpoint holds
plain data only (tensors, NumPy arrays stored as tensors, numbers, strings, generator states,
the env's ``get_state``), never a Python object: loading a file from elsewhere must not execute
it (``pickle`` would).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgesplit import __version__
from edgesplit.errors import InvalidParameterError

FORMAT = "edgesplit.policy"
FORMAT_VERSION = 2
_ARRAY = "__ndarray__"


def scenario_hash(scenario_data: dict[str, Any]) -> str:
    """SHA-256 of a scenario's content (its JSON with sorted keys)."""
    return hashlib.sha256(json.dumps(scenario_data, sort_keys=True).encode()).hexdigest()


def sidecar(path: str | Path) -> Path:
    """The JSON file beside a policy file."""
    return Path(path).with_suffix(".json")


def _atomic(path: Path, write) -> None:
    temporary = path.with_name(path.name + ".tmp")
    write(temporary)
    temporary.replace(path)


def save_policy(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write ``tensors`` to ``path`` and ``meta`` (plus format and version) beside it, each
    atomically."""
    path = Path(path)
    flat = {name: tensor.detach().clone() for name, tensor in tensors.items()}
    _atomic(path, lambda p: torch.save(flat, p))
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, "edgesplit": __version__, **meta}
    _atomic(sidecar(path), lambda p: p.write_text(json.dumps(record, indent=2) + "\n"))


def _refuse_legacy(path: Path) -> InvalidParameterError:
    return InvalidParameterError(
        "checkpoint", str(path),
        "a policy file with its .json beside it, as `edgesplit train` writes since edgesplit "
        "0.2; this one has none (an edgesplit 0.1 pickle, which loading could run code from): "
        "retrain it with `edgesplit train`, or, if you trust the file, convert its weights with "
        f"`edgesplit convert-policy {path}`",
    )  # fmt: skip


def _safe_load(path: Path, objects: InvalidParameterError | None = None) -> Any:
    """``torch.load(weights_only=True)``: tensors and plain data only, never code. A file that
    holds Python objects raises ``objects`` (default: the legacy-pickle refusal), one that is no
    torch file says so."""
    try:
        with warnings.catch_warnings():  # torch's remarks on a pickle's protocol: we judge it
            warnings.simplefilter("ignore")
            return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as error:
        if "allowed global" in str(error):  # it holds Python objects: refused, never run
            raise (objects or _refuse_legacy(path)) from None
        raise _not_torch(path, error) from None
    except Exception as error:  # torch raises many types for a file that is not its format
        raise _not_torch(path, error) from None


def _not_torch(path: Path, error: Exception) -> InvalidParameterError:
    return InvalidParameterError(
        "checkpoint", str(path), f"a torch file of tensors (reading it: {type(error).__name__})"
    )


def load_policy(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata) of a policy file written by ``save_policy``."""
    path = Path(path)
    if not path.is_file():
        raise InvalidParameterError("checkpoint", str(path), "an existing file")
    if not sidecar(path).is_file():
        _safe_load(path)  # a file that is not a torch file gets that error first
        raise _refuse_legacy(path)
    try:
        meta = json.loads(sidecar(path).read_text())
    except json.JSONDecodeError as error:
        raise InvalidParameterError("checkpoint", str(sidecar(path)), f"JSON ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise InvalidParameterError("checkpoint", str(sidecar(path)), f"a {FORMAT} sidecar")
    tensors = _safe_load(path)
    if not isinstance(tensors, dict) or not all(
        isinstance(value, torch.Tensor) for value in tensors.values()
    ):
        raise InvalidParameterError("checkpoint", str(path), "a flat dict of tensors")
    return tensors, meta


def check_compatible(
    meta: dict[str, Any], policy: str, scenario_data: dict[str, Any], fields: tuple[str, ...]
) -> None:
    """Refuse a policy file of another policy, or trained on a scenario that differs in
    ``fields`` (what decides the network's shapes and meaning)."""
    if meta.get("policy") != policy:
        raise InvalidParameterError("checkpoint", meta.get("policy"), f"a {policy} checkpoint")
    saved = meta.get("scenario", {}).get("data", {})
    differing = [field for field in fields if saved.get(field) != scenario_data.get(field)]
    if differing:
        raise InvalidParameterError(
            "checkpoint", f"scenario {meta['scenario'].get('name')!r}",
            f"one trained on a scenario with this one's {', '.join(fields)} "
            f"({scenario_data.get('name')!r} differs in {', '.join(differing)})",
        )  # fmt: skip


def pack(value: Any) -> Any:
    """Plain data for ``torch.save``: NumPy arrays become tensors (marked), NumPy scalars
    Python numbers; dicts, lists and tuples are packed recursively."""
    if isinstance(value, np.ndarray):
        return {_ARRAY: torch.from_numpy(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: pack(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(pack(item) for item in value)
    return value


def unpack(value: Any) -> Any:
    """The inverse of ``pack``."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return value[_ARRAY].numpy()
        return {key: unpack(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(unpack(item) for item in value)
    return value


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write a resumable checkpoint (plain data, see ``pack``) atomically."""
    packed = pack(state)
    _atomic(Path(path), lambda p: torch.save(packed, p))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint`` (``weights_only=True``)."""
    state = _safe_load(Path(path))
    if not isinstance(state, dict) or "trainer" not in state:
        raise InvalidParameterError("checkpoint", str(path), "a training checkpoint")
    return unpack(state)


def convert_legacy_policy(path: str | Path, out: str | Path) -> Path:
    """Convert an edgesplit 0.1 ``policy.pt`` (a dict of the policy's name, scenario, config,
    observation scale and network state dicts) to the tensors-and-JSON format. It is read with
    ``weights_only=True`` and NumPy's array reconstruction as the only allowed globals, so no
    code from the file runs; a 0.1 ``checkpoint.pt`` (which pickled the env) is refused."""
    path = Path(path)
    reconstruct = np._core.multiarray._reconstruct
    arrays = [
        np.ndarray, np.dtype, reconstruct, (reconstruct, "numpy.core.multiarray._reconstruct"),
        *(type(np.dtype(kind)) for kind in (np.float32, np.float64, np.int64, np.bool_)),
    ]  # fmt: skip
    objects = InvalidParameterError(
        "checkpoint", str(path),
        "an edgesplit 0.1 policy.pt or best.pt: this file holds Python objects (a training "
        "checkpoint.pt pickled its env) and cannot be converted safely; retrain",
    )  # fmt: skip
    with torch.serialization.safe_globals(arrays):
        old = _safe_load(path, objects)
    if not isinstance(old, dict) or "policy" not in old or "scenario" not in old:
        raise InvalidParameterError("checkpoint", str(path), "an edgesplit 0.1 policy file")
    tensors: dict[str, torch.Tensor] = {}
    for group in ("actor", "critic", "net"):
        for name, tensor in old.get(group, {}).items():
            tensors[f"{group}.{name}"] = tensor
    extra = {key: old[key] for key in ("allocator",) if key in old}
    if old.get("obs_scale") is not None:
        tensors["obs_scale"] = torch.as_tensor(np.asarray(old["obs_scale"], dtype=np.float64))
    meta = {
        "policy": old["policy"],
        "config": old["config"],
        "scenario": {
            "name": old["scenario"]["name"],
            "sha256": scenario_hash(old["scenario"]),
            "data": old["scenario"],
        },
        "converted_from": str(path),
        **extra,
    }
    save_policy(out, tensors, meta)
    return Path(out)
