"""The edge server's per-device task queue: M/D/1 waiting time (shi2025 Eq. 3) and a
discrete-event simulation of the same queue to check it against."""

from __future__ import annotations

import numpy as np


def md1_waiting_time_s(arrival_rate_per_s: np.ndarray, service_s: np.ndarray) -> np.ndarray:
    """shi2025 Eq. 3: lambda / (2 mu^2 (1 - rho)) with mu = 1 / D_ser and rho = lambda / mu.

    0 where nothing is offloaded (service time 0: the all-local cut) and +inf where the queue is
    unstable (rho >= 1); never negative or NaN.
    """
    lam = np.asarray(arrival_rate_per_s, dtype=np.float64)
    service = np.asarray(service_s, dtype=np.float64)
    rho = lam * service
    stable = rho < 1.0
    waiting = np.where(stable, lam * service**2 / (2.0 * np.where(stable, 1.0 - rho, 1.0)), np.inf)
    return np.where(service > 0, waiting, 0.0)


def simulate_fifo_waiting_s(
    rng: np.random.Generator, arrival_rate_per_s: float, service_s: float, tasks: int
) -> np.ndarray:
    """Waiting times of ``tasks`` Poisson arrivals at a FIFO single server with deterministic
    service (an event-by-event simulation, by the Lindley recursion
    W_{i+1} = max(0, W_i + S - A_{i+1}))."""
    gaps = rng.exponential(1.0 / arrival_rate_per_s, tasks)
    waiting = np.zeros(tasks)
    for i in range(1, tasks):
        waiting[i] = max(0.0, waiting[i - 1] + service_s - gaps[i])
    return waiting
