"""Energy a device spends on one task (shi2025 Eq. 5, zhang2026 Eq. 3, chukhno2023 Eq. 3)."""

from __future__ import annotations

import numpy as np


def task_energy_j(
    compute_s: np.ndarray,
    compute_power_w: np.ndarray,
    transmit_s: np.ndarray,
    transmit_power_w: np.ndarray,
    receive_s: np.ndarray = 0.0,
    receive_power_w: np.ndarray = 0.0,
    device_macs: np.ndarray = 0.0,
    energy_per_mac_j: np.ndarray = np.nan,
) -> np.ndarray:
    """Compute + transmit + receive energy of one task on the device, joules.

    Compute energy is power x time (shi2025 Eq. 5, chukhno2023 P_d T_inf), or, where
    ``energy_per_mac_j`` is a number, zeta x the device's MACs (zhang2026 Eq. 3). Transmit energy
    is P_tx x uplink time; receive energy (the result's downlink) is (P_rx + P_E) x downlink time
    in chukhno2023 Eq. 3, passed here as ``receive_power_w``.
    """
    per_mac = np.asarray(energy_per_mac_j, dtype=np.float64)
    compute_j = np.where(
        np.isnan(per_mac),
        np.asarray(compute_power_w) * compute_s,
        np.nan_to_num(per_mac) * device_macs,
    )
    return (
        compute_j
        + np.asarray(transmit_power_w) * transmit_s
        + np.asarray(receive_power_w) * receive_s
    )
