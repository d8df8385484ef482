"""The battery of an energy-harvesting device (shi2025 Eq. 4) with constraint Eq. 12 enforced."""

from __future__ import annotations

import numpy as np


def battery_step(
    level_j: np.ndarray, consumed_j: np.ndarray, harvested_j: np.ndarray, capacity_j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One slot of shi2025 Eq. 4, E(t+1) = min(E(t) - E_con + E_harv, E_max), for every device.

    Eq. 12 (the battery is never depleted) is enforced, not assumed: a device whose stored plus
    harvested energy does not cover what the decision asks runs only that share of it. Returns the
    new levels (always in [0, capacity]) and the served share of the demand (1 = all of it).
    """
    available = np.asarray(level_j, dtype=np.float64) + harvested_j
    demand = np.asarray(consumed_j, dtype=np.float64)
    covered = demand <= available
    served = np.ones_like(demand)
    np.divide(available, demand, out=served, where=~covered)
    remaining = np.where(covered, available - demand, 0.0)  # short: everything is spent
    return np.minimum(remaining, capacity_j), served
