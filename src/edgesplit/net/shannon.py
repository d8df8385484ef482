"""Uplink rates: Shannon capacity with co-channel interference (zhang2026 Eq. 1) and the distance
path gain with log-normal shadowing the paper uses."""

from __future__ import annotations

import numpy as np


def path_gain(distance_m: np.ndarray, reference_m: float, exponent: float) -> np.ndarray:
    """Large-scale path gain (d0 / d)^h (zhang2026 Sec. V-A), as a power ratio."""
    return (reference_m / np.asarray(distance_m, dtype=np.float64)) ** exponent


def shadowing_gain(rng: np.random.Generator, std_db: float, shape) -> np.ndarray:
    """Log-normal shadow fading: 10^(X/10) with X ~ N(0, std_db^2) dB."""
    return 10.0 ** (rng.normal(0.0, std_db, shape) / 10.0)


def shannon_rate_bps(
    bandwidth_hz: np.ndarray, signal_w: np.ndarray, noise_w: np.ndarray, interference_w: np.ndarray
) -> np.ndarray:
    """Shannon capacity B log2(1 + S / (N + I)) in bit/s."""
    return bandwidth_hz * np.log2(1.0 + signal_w / (noise_w + interference_w))


def uplink_rates_bps(
    channel: np.ndarray,
    power_w: np.ndarray,
    gain: np.ndarray,
    active: np.ndarray,
    bandwidth_hz: np.ndarray,
    noise_w: np.ndarray,
    groups: np.ndarray | None = None,
    interference_power_w: np.ndarray | None = None,
) -> np.ndarray:
    """zhang2026 Eq. 1 for every transmitter at once: the signal of transmitter n over the noise
    of its channel plus the power received from the other active transmitters on that channel.

    ``channel``, ``power_w``, ``gain``, ``active`` have one entry per transmitter; ``bandwidth_hz``
    and ``noise_w`` one per channel. ``groups`` (optional, one per transmitter) separates
    transmissions that do not overlap in time: only transmitters of the same group interfere.
    ``interference_power_w`` (optional, one per transmitter; default ``power_w``) is the power
    the others hear from each transmitter. Inactive transmitters get rate 0.
    """
    channel = np.asarray(channel, dtype=np.int64)
    received = np.where(active, power_w * gain, 0.0)
    heard = (
        received
        if interference_power_w is None
        else np.where(active, interference_power_w * gain, 0.0)
    )
    group = np.zeros_like(channel) if groups is None else np.asarray(groups, dtype=np.int64)
    n_channels = len(bandwidth_hz)
    key = group * n_channels + channel
    total = np.bincount(key, weights=heard, minlength=int(key.max(initial=0)) + 1)
    interference = total[key] - heard
    rate = shannon_rate_bps(bandwidth_hz[channel], received, noise_w[channel], interference)
    return np.where(active, rate, 0.0)
