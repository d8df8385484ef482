"""The cores this process may run on (no torch: launchers ask it before anything heavy)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
