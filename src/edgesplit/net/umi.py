"""3GPP TR 38.901 urban micro street canyon (UMi) path loss, LOS probability and shadowing
(Tables 7.4.1-1 and 7.4.2-1), used for chukhno2023's 5G NR links (3.5 GHz)."""

from __future__ import annotations

import numpy as np

SPEED_OF_LIGHT_M_S = 3.0e8
UMI_BS_HEIGHT_M = 10.0
UMI_ENVIRONMENT_HEIGHT_M = 1.0
UMI_LOS_SHADOW_STD_DB = 4.0
UMI_NLOS_SHADOW_STD_DB = 7.82


def _d3d(d2d_m: np.ndarray, bs_height_m: float, ut_height_m: float) -> np.ndarray:
    return np.hypot(d2d_m, bs_height_m - ut_height_m)


def umi_los_probability(d2d_m: np.ndarray) -> np.ndarray:
    """Pr_LOS = 1 within 18 m, else 18/d + exp(-d/36) (1 - 18/d)."""
    d = np.asarray(d2d_m, dtype=np.float64)
    far = 18.0 / np.maximum(d, 18.0) + np.exp(-d / 36.0) * (1.0 - 18.0 / np.maximum(d, 18.0))
    return np.where(d <= 18.0, 1.0, far)


def umi_breakpoint_m(frequency_hz: float, bs_height_m: float, ut_height_m: float) -> float:
    """d'_BP = 4 h'_BS h'_UT f_c / c with h' = h - h_E, h_E = 1 m."""
    return (
        4.0
        * (bs_height_m - UMI_ENVIRONMENT_HEIGHT_M)
        * (ut_height_m - UMI_ENVIRONMENT_HEIGHT_M)
        * frequency_hz
        / SPEED_OF_LIGHT_M_S
    )


def umi_los_pathloss_db(
    d2d_m: np.ndarray,
    frequency_hz: float,
    bs_height_m: float = UMI_BS_HEIGHT_M,
    ut_height_m: float = 1.5,
) -> np.ndarray:
    """PL1 = 32.4 + 21 log10 d3D + 20 log10 fc up to the breakpoint, PL2 beyond it."""
    d2d = np.asarray(d2d_m, dtype=np.float64)
    fc_ghz = frequency_hz / 1e9
    d3d = _d3d(d2d, bs_height_m, ut_height_m)
    breakpoint_m = umi_breakpoint_m(frequency_hz, bs_height_m, ut_height_m)
    pl1 = 32.4 + 21.0 * np.log10(d3d) + 20.0 * np.log10(fc_ghz)
    pl2 = (
        32.4
        + 40.0 * np.log10(d3d)
        + 20.0 * np.log10(fc_ghz)
        - 9.5 * np.log10(breakpoint_m**2 + (bs_height_m - ut_height_m) ** 2)
    )
    return np.where(d2d <= breakpoint_m, pl1, pl2)


def umi_nlos_pathloss_db(
    d2d_m: np.ndarray,
    frequency_hz: float,
    bs_height_m: float = UMI_BS_HEIGHT_M,
    ut_height_m: float = 1.5,
) -> np.ndarray:
    """max(PL_LOS, 35.3 log10 d3D + 22.4 + 21.3 log10 fc - 0.3 (h_UT - 1.5))."""
    d3d = _d3d(np.asarray(d2d_m, dtype=np.float64), bs_height_m, ut_height_m)
    nlos = (
        35.3 * np.log10(d3d)
        + 22.4
        + 21.3 * np.log10(frequency_hz / 1e9)
        - 0.3 * (ut_height_m - 1.5)
    )
    return np.maximum(umi_los_pathloss_db(d2d_m, frequency_hz, bs_height_m, ut_height_m), nlos)


def sample_umi_pathloss_db(
    rng: np.random.Generator,
    d2d_m: np.ndarray,
    frequency_hz: float,
    bs_height_m: float = UMI_BS_HEIGHT_M,
    ut_height_m: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw LOS or NLOS by the LOS probability and add shadowing of that state's std.
    Returns (path loss in dB, LOS flags)."""
    d2d = np.asarray(d2d_m, dtype=np.float64)
    los = rng.random(d2d.shape) < umi_los_probability(d2d)
    mean = np.where(
        los,
        umi_los_pathloss_db(d2d, frequency_hz, bs_height_m, ut_height_m),
        umi_nlos_pathloss_db(d2d, frequency_hz, bs_height_m, ut_height_m),
    )
    std = np.where(los, UMI_LOS_SHADOW_STD_DB, UMI_NLOS_SHADOW_STD_DB)
    return mean + rng.normal(0.0, 1.0, d2d.shape) * std, los


def dbm_to_w(dbm: np.ndarray | float) -> np.ndarray:
    """Power in dBm to watts."""
    return 10.0 ** ((np.asarray(dbm, dtype=np.float64) - 30.0) / 10.0)


def thermal_noise_w(bandwidth_hz: float, noise_figure_db: float) -> float:
    """kTB at 290 K (-174 dBm/Hz) plus the receiver's noise figure."""
    return float(dbm_to_w(-174.0 + 10.0 * np.log10(bandwidth_hz) + noise_figure_db))
