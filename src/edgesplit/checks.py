"""Validation of parameters and output paths, raising InvalidParameterError that names the field."""

from __future__ import annotations

import math
import os
from pathlib import Path

from edgesplit.errors import InvalidParameterError


def finite_in(
    field: str,
    value: object,
    low: float,
    high: float | None = None,
    *,
    above: bool = False,
    below: bool = False,
) -> float:
    """``value`` as a float, or InvalidParameterError unless it is finite, from ``low``
    (excluded when ``above``) up to ``high`` (excluded when ``below``; no bound if None)."""
    lower = f"> {low:g}" if above else f">= {low:g}"
    upper = "" if high is None else f" and {'<' if below else '<='} {high:g}"
    allowed = f"a finite number {lower}{upper}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameterError(field, value, allowed)
    if (
        value < low
        or (above and value == low)
        or (high is not None and (value > high or (below and value == high)))
    ):
        raise InvalidParameterError(field, value, allowed)
    return float(value)


def positive(field: str, value: object) -> float:
    """``value`` as a float, or InvalidParameterError unless it is finite and > 0."""
    return finite_in(field, value, 0.0, above=True)


def non_negative(field: str, value: object) -> float:
    """``value`` as a float, or InvalidParameterError unless it is finite and >= 0."""
    return finite_in(field, value, 0.0)


def whole_number(
    field: str, value: object, low: int, high: int | None = None, note: str = ""
) -> int:
    """``value`` unchanged, or InvalidParameterError unless it is an integer (not a bool) in
    ``low``..``high`` (no upper bound if None); ``note`` ends the message."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        span = f"in {low}..{high}" if high is not None else f">= {low}"
        raise InvalidParameterError(field, value, f"a whole number {span}{note}")
    return value


def one_of(field: str, value: object, allowed: tuple[str, ...] | list[str]) -> str:
    """``value`` unchanged, or InvalidParameterError unless it is one of ``allowed``."""
    if value not in allowed:
        raise InvalidParameterError(field, value, f"one of {', '.join(allowed)}")
    return str(value)


def parse_int_list(field: str, text: str) -> list[int]:
    """``"1,2,4"`` -> [1, 2, 4], or InvalidParameterError naming ``field``."""
    try:
        values = [int(part) for part in str(text).split(",")]
    except ValueError:
        values = []
    if not values:
        raise InvalidParameterError(field, text, "comma-separated integers, e.g. 1,2,4")
    return values


def output_file(field: str, path: str | Path, force: bool = False) -> Path:
    """``path`` as a file a command may write, checked before any work: its folder exists and is
    writable, it is not a folder, and an existing file is replaced only with ``force``."""
    path = Path(path)
    if path.is_dir():
        raise InvalidParameterError(field, str(path), "a file name, not a folder")
    if path.exists() and not force:
        raise InvalidParameterError(
            field, str(path), "a file that does not exist yet (--force replaces it)"
        )
    folder = path.parent
    if not folder.is_dir():
        raise InvalidParameterError(field, str(path), f"a file in an existing folder ({folder})")
    _probe(field, path, folder)
    return path


def _probe(field: str, shown: Path, folder: Path) -> None:
    """Write and remove a small file in ``folder``: permissions alone do not tell (a root user,
    a read-only or special file system)."""
    probe = folder / f".edgesplit-write-check-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise InvalidParameterError(
            field, str(shown), f"a place edgesplit can write ({error.strerror})"
        ) from None


def output_folder(field: str, path: str | Path) -> Path:
    """``path`` as a folder a command writes files into, created now (before any work) if it is
    missing; a file in its place or a folder that cannot be written is an error."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidParameterError(field, str(path), "a folder, not a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InvalidParameterError(
            field, str(path), f"a folder edgesplit can create ({error.strerror})"
        ) from None
    _probe(field, path, path)
    return path
