"""Validation of numeric parameters, raising InvalidParameterError that names the field."""

from __future__ import annotations

import math

from edgesplit.errors import InvalidParameterError


def _finite(field: str, value: object, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidParameterError(field, value, allowed)
    return float(value)


def positive(field: str, value: object) -> float:
    """``value`` as a float, or InvalidParameterError unless it is finite and > 0."""
    allowed = "a finite number > 0"
    number = _finite(field, value, allowed)
    if number <= 0:
        raise InvalidParameterError(field, value, allowed)
    return number


def non_negative(field: str, value: object) -> float:
    """``value`` as a float, or InvalidParameterError unless it is finite and >= 0."""
    allowed = "a finite number >= 0"
    number = _finite(field, value, allowed)
    if number < 0:
        raise InvalidParameterError(field, value, allowed)
    return number


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
