"""A training run's folder, identified by its manifest (``run.json``), never by the presence of
one file: ``train`` starts a run only in a new or empty folder, and resumes only the run whose
manifest names the same policy, scenario (name and content hash), config, seed and evaluation
schedule (a resume may ask for more steps). While a run writes to its folder it holds a lock on
the manifest (``flock``: released by the kernel however the process ends), so a second run on
the same folder is refused instead of interleaving its rows with the first's."""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgesplit import __version__
from edgesplit.errors import InvalidParameterError

MANIFEST = "run.json"
FORMAT = "edgesplit.run"
CHECKED = ("policy", "scenario", "config", "seed", "schedule")  # what a resume must match


def manifest_of(
    policy: str,
    scenario: dict[str, Any],
    config: dict[str, Any],
    seed: int,
    schedule: dict[str, int],
) -> dict:
    """What a run folder records about its run (``scenario``: name and sha256; ``schedule``:
    eval_every and eval_episodes)."""
    return {
        "format": FORMAT,
        "policy": policy,
        "scenario": scenario,
        "config": config,
        "seed": seed,
        "schedule": schedule,
        "edgesplit": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def start_run(folder: Path, manifest: dict[str, Any]) -> None:
    """Claim ``folder`` for a new run: it must not exist or be empty; write the manifest."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        what = "a file" if not folder.is_dir() else "a folder that already holds files"
        raise InvalidParameterError(
            "--out", str(folder),
            f"a new or empty folder, not {what} (continue the run in it with --resume, or "
            "choose another folder)",
        )  # fmt: skip
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / MANIFEST, manifest)
    except OSError as error:
        raise InvalidParameterError(
            "--out", str(folder), f"a folder edgesplit can write ({error.strerror})"
        ) from None


def check_resume(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse to resume unless ``folder`` holds a run of the same policy, scenario, config, seed
    and schedule (a run stopped before its first checkpoint starts over)."""
    if not folder.is_dir():
        raise InvalidParameterError(
            "--out", str(folder), "an existing run folder to resume (it does not exist)"
        )
    path = folder / MANIFEST
    if not path.is_file():
        raise InvalidParameterError(
            "--out",
            str(folder),
            f"a run folder written by `edgesplit train` (it has no {MANIFEST})",
        )
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        saved = None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise InvalidParameterError("--out", str(path), f"a {FORMAT} manifest")
    for key in CHECKED:
        if saved.get(key) != manifest[key]:
            raise InvalidParameterError(
                "--resume", str(folder),
                f"the same {key} as the run in it: "
                + _difference(key, saved.get(key), manifest[key]),
            )  # fmt: skip


def _difference(key: str, saved: Any, asked: Any) -> str:
    if key == "scenario":

        def brief(value: Any) -> str:
            value = value if isinstance(value, dict) else {}
            return f"{value.get('name')!r} (sha256 {str(value.get('sha256'))[:12]})"

        return f"it has scenario {brief(saved)}, this command asks for {brief(asked)}"
    if key in ("config", "schedule") and isinstance(saved, dict):
        fields = sorted(k for k in set(saved) | set(asked) if saved.get(k) != asked.get(k))
        pairs = ", ".join(f"{k}={saved.get(k)!r} (now {asked.get(k)!r})" for k in fields)
        return f"its {key} has {pairs}"
    return f"it has {saved!r}, this command asks for {asked!r}"


@contextmanager
def run_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s manifest locked (exclusive, not waiting) while a run writes there."""
    try:
        handle = (folder / MANIFEST).open("rb")
    except OSError:
        raise InvalidParameterError(
            "--out",
            str(folder),
            f"a run folder written by `edgesplit train` (it has no {MANIFEST})",
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InvalidParameterError(
                "--out", str(folder), "a run folder no other run is writing to (one is)"
            ) from None
        yield  # the lock goes with the descriptor


def _write(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    temporary.replace(path)
