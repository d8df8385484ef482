"""What a policy returns for one step: per device, as the scenario's style needs.

``env.step`` takes a ``Decision`` as well as the raw Gymnasium action (what a learner's network
outputs). Slot style (shi2025): ``cut_index`` per device and optionally ``threads`` (left out,
the env's allocator assigns them). Task-window style (zhang2026): ``window`` per device and per
task position ``cut_index``, ``channel``, ``server`` and ``power_w``, shape [devices, W_max]
(the time-slot variant: shape [devices]).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Decision:
    """One step's decision; ``cut_index`` is 1-based (1 sends the input, S runs all locally)."""

    cut_index: np.ndarray
    threads: np.ndarray | None = None
    window: np.ndarray | None = None
    channel: np.ndarray | None = None
    server: np.ndarray | None = None
    power_w: np.ndarray | None = None
