"""What a decider returns for one step, which is also the environments' Gymnasium action.

A cut is its index from 0 everywhere, the graph's ``Cut.index``, the CLI and reports included:
0 sends the raw input and S_n - 1 runs everything on device n (the row of the device's cost
table); zhang2026 numbers partition points from 1, its point k is our cut k - 1. No layer
converts. A window is a count of tasks (1..W_max). The envs' action spaces are Dicts with
exactly these names, so a Decision and an action are the same data (``as_action``,
``from_action``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from edgesplit.errors import InvalidParameterError

SLOT_FIELDS = ("cut", "threads")
WINDOW_FIELDS = ("window", "cut", "channel", "server", "power_w")
TIME_SLOT_FIELDS = ("cut", "channel", "server", "power_w")
_INTEGER = {"cut", "threads", "window", "channel", "server"}


@dataclass(frozen=True)
class Decision:
    """One step's decision, one entry per device (task-window fields: [devices, W_max]).

    Slot style (shi2025): ``cut`` and ``threads``. Task-window style (zhang2026): ``window``
    and, per task position, ``cut``, ``channel``, ``server`` and ``power_w``; the time-slot
    variant has one task decision per device ([devices]).
    """

    cut: np.ndarray
    threads: np.ndarray | None = None
    window: np.ndarray | None = None
    channel: np.ndarray | None = None
    server: np.ndarray | None = None
    power_w: np.ndarray | None = None

    def as_action(self, names: tuple[str, ...]) -> dict[str, np.ndarray]:
        """The Gymnasium action with entries ``names`` (``SLOT_FIELDS``, ``WINDOW_FIELDS``,
        ``TIME_SLOT_FIELDS``); a field the style needs that is not set is an error."""
        missing = [name for name in names if getattr(self, name) is None]
        if missing:
            raise InvalidParameterError(
                "decision", f"no {', '.join(missing)}", f"{', '.join(names)} all set"
            )
        return {
            name: np.asarray(
                getattr(self, name), dtype=np.int64 if name in _INTEGER else np.float32
            )
            for name in names
        }

    @classmethod
    def from_action(cls, action: Mapping[str, np.ndarray]) -> Decision:
        """The Decision of a Gymnasium action (the inverse of ``as_action``)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(action) - known)
        if unknown or "cut" not in action:
            raise InvalidParameterError(
                "action", sorted(action), f"entries among {', '.join(sorted(known))}, cut included"
            )
        return cls(
            **{
                name: np.asarray(value, dtype=np.int64 if name in _INTEGER else np.float64)
                for name, value in action.items()
            }
        )
