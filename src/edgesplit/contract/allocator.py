"""The thread allocator protocol: how a slot's server threads are split among devices.

An allocator is a pure function of what it is given: ``latency_s[n, k]``, device n's end-to-end
latency if it gets k threads (k = 0..K, +inf where k threads cannot serve it), the threads
``total_threads`` = K(t) to hand out (all of them, shi2025 Eq. 13) and ``k_min`` (Eq. 14). The
same inputs give the same threads wherever it is called (a training env's wrapper, a policy's
decision, the live controller), so a learner is evaluated against the allocator it trained with.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Allocator(Protocol):
    """``allocate(latency_s, total_threads, k_min) -> threads`` (one int per device)."""

    name: str

    def __call__(self, latency_s: np.ndarray, total_threads: int, k_min: int) -> np.ndarray: ...
