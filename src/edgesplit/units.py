"""Display units of result metrics: SI inside, converted only where people read them (tables,
plots)."""

from __future__ import annotations


def metric_unit(metric: str) -> tuple[str, str, float]:
    """(name, display unit, factor from SI) of a metric: seconds shown as ms, joules as J."""
    if metric.endswith("_s"):
        return metric.removesuffix("_s"), "ms", 1e3
    if metric.endswith("_j"):
        return metric.removesuffix("_j"), "J", 1.0
    return metric, "", 1.0
