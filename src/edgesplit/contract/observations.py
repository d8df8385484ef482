"""The observation layouts deciders and worlds share: each state owns its flat encoding (what the
Gymnasium env emits and a learner's network reads), the decoding, and the bounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SlotState:
    """What a slot's decider observes (shi2025 Eq. 16): lambda_n(t), E_n(t), B_n(t), K(t).

    Flat layout: arrivals [N], battery_j [N], uplink_bps [N], threads_total [1].
    """

    arrivals: np.ndarray
    battery_j: np.ndarray
    uplink_bps: np.ndarray
    threads_total: int

    def encode(self) -> np.ndarray:
        return np.concatenate(
            [self.arrivals, self.battery_j, self.uplink_bps, [self.threads_total]]
        ).astype(np.float32)

    @classmethod
    def decode(cls, observation: np.ndarray, n_devices: int) -> SlotState:
        obs = np.asarray(observation, dtype=np.float64)
        n = n_devices
        return cls(obs[:n], obs[n : 2 * n], obs[2 * n : 3 * n], round(float(obs[-1])))

    @staticmethod
    def size(n_devices: int) -> int:
        return 3 * n_devices + 1

    @staticmethod
    def high(
        arrivals_high: np.ndarray, capacity_j: np.ndarray, rate_high_bps: float, threads_high: int
    ) -> np.ndarray:
        """The upper bound of every entry (the lower bound is 0), float64."""
        n = len(capacity_j)
        return np.concatenate(
            [arrivals_high, capacity_j, np.full(n, rate_high_bps), [threads_high]]
        ).astype(np.float64)


def window_task_cap(mean_tasks: np.ndarray) -> int:
    """The bound of X_n: a device starts with Poisson(mean) tasks, clipped to [1, this]."""
    return int(np.ceil(4 * np.max(mean_tasks) + 50))


@dataclass(frozen=True)
class WindowState:
    """What a task-window decider observes (zhang2026 Eq. 7): the remaining tasks X_n and the
    distances d_n; the time-slot variant adds each device's unfinished work (``busy_s``).

    Flat layout: remaining [N], distance_m [N], then busy_s [N] when present.
    """

    remaining: np.ndarray
    distance_m: np.ndarray
    busy_s: np.ndarray | None = None

    def encode(self) -> np.ndarray:
        parts = [self.remaining, self.distance_m]
        if self.busy_s is not None:
            parts.append(self.busy_s)
        return np.concatenate(parts).astype(np.float32)

    @classmethod
    def decode(cls, observation: np.ndarray, n_devices: int) -> WindowState:
        obs = np.asarray(observation, dtype=np.float64)
        n = n_devices
        busy = obs[2 * n : 3 * n] if len(obs) == 3 * n else None
        return cls(obs[:n].round().astype(np.int64), obs[n : 2 * n], busy)

    @staticmethod
    def high(mean_tasks: np.ndarray, distance_high_m: np.ndarray, busy: bool = False) -> np.ndarray:
        """The upper bound of every entry, float64 (busy seconds are unbounded: float32's
        largest)."""
        n = len(distance_high_m)
        parts = [np.full(n, window_task_cap(mean_tasks)), distance_high_m]
        if busy:
            parts.append(np.full(n, np.finfo(np.float32).max))
        return np.concatenate(parts).astype(np.float64)
