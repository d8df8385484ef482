"""One composer per paper quantity: a task's latency and its parts, the device's energy, the
server queue. Every caller (``plan``, the simulator's slot and window steps, the deciders'
look-ahead, and later the live controller) composes costs with these, on floats or on NumPy
arrays of any shape alike, so two parts of edgesplit never disagree on one quantity.

Where each equation lives is listed in docs/architecture.md.
"""

from __future__ import annotations

import numpy as np

ArrayLike = np.ndarray | float


def transmit_s(bits: ArrayLike, rate_bps: ArrayLike) -> np.ndarray:
    """Time to send ``bits`` at ``rate_bps`` (shi2025 Eq. 2; zhang2026 Eq. 2's transfer term)."""
    return np.asarray(bits, dtype=np.float64) / rate_bps


def server_share_s(tail_s: ArrayLike, tasks_sharing: ArrayLike) -> np.ndarray:
    """The server part of zhang2026 Eq. 2: the tail's latency times the number of tasks sharing
    that server. zhang2026 writes L0 (the whole model on the server) whatever the cut; the tail
    of the offloaded part equals L0 when everything is offloaded."""
    return np.asarray(tail_s, dtype=np.float64) * tasks_sharing


def server_work_s(tasks: ArrayLike, tail_s: ArrayLike) -> np.ndarray:
    """Seconds of tail work ``tasks`` tasks bring a server, each ``tail_s`` long: a device's load
    (its arrivals x its tail), a window's (its tasks x its tail), a server's backlog (its
    waiting requests x their mean tail). What least-expected-completion balancing compares."""
    return np.asarray(tasks, dtype=np.float64) * tail_s


def load_stretch(busy_tasks: ArrayLike, cores: ArrayLike) -> np.ndarray:
    """How much longer a task takes on ``cores`` cores that ``busy_tasks`` other single-core
    tasks keep busy: the processor share (busy + 1) / cores once they outnumber the cores, else
    1 (chukhno2023's edge load, compress.placement)."""
    share = (np.asarray(busy_tasks, dtype=np.float64) + 1.0) / cores
    return np.maximum(1.0, share)


def md1_waiting_time_s(arrival_rate_per_s: ArrayLike, service_s: ArrayLike) -> np.ndarray:
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


def batch_service_s(rows: ArrayLike, single_s: ArrayLike, per_row_s: ArrayLike) -> np.ndarray:
    """A tail's service time on a batch of ``rows`` requests (dynamic batching,
    ``runtime.batching``): the time of one row plus the marginal time of each further row,
    ``t(b) = t(1) + (b - 1) dt`` (on a CPU dt is close to t(1); on a GPU far smaller)."""
    return np.asarray(single_s, dtype=np.float64) + (np.asarray(rows) - 1.0) * per_row_s


def closed_loop_throughput_per_s(
    devices: ArrayLike,
    batch_max: ArrayLike,
    single_s: ArrayLike,
    per_row_s: ArrayLike,
    request_s: ArrayLike,
    away_s: ArrayLike,
    delay_s: ArrayLike = 0.0,
) -> np.ndarray:
    """Tasks per second of ``devices`` devices, each sending its next request when its last is
    answered, to one lane batching at most ``batch_max`` rows (1: no batching) and holding a
    batch that is not full for ``delay_s``. A request costs the server ``request_s`` besides the
    tail (the RPC, decoding, packing, on the same cores) and spends ``away_s`` outside the
    server (the device, the link). With b = min(devices, batch_max) requests in each batch, the
    rate is that of a device cycle, devices / (away + wait + t(b) + b request), where wait is
    ``delay_s`` for a batch that cannot fill (b < batch_max), capped by the saturated lane's,
    batch_max / (t(batch_max) + batch_max request), whose batches fill while it works (requests
    of a closed loop arrive together). The latency follows by Little's law: devices /
    throughput - away."""
    rows = np.minimum(devices, batch_max)
    wait = np.where(rows < batch_max, delay_s, 0.0)
    cycle = (
        away_s + wait + batch_service_s(rows, single_s, per_row_s) + rows * np.asarray(request_s)
    )
    full = batch_service_s(batch_max, single_s, per_row_s) + np.asarray(batch_max) * request_s
    return np.minimum(np.asarray(devices, dtype=np.float64) / cycle, batch_max / full)


def task_latency_s(
    local_s: ArrayLike,
    transmit_s: ArrayLike,
    server_s: ArrayLike,
    queue_s: ArrayLike = 0.0,
    downlink_s: ArrayLike = 0.0,
) -> np.ndarray:
    """End-to-end latency of one task (shi2025 Eq. 1, zhang2026 Eq. 2): the head on the device,
    the upload, the result's download, the wait in the server's queue and the tail on the
    server (zhang2026 has no queue and no download: their terms are 0)."""
    return np.asarray(local_s, dtype=np.float64) + transmit_s + downlink_s + queue_s + server_s


def with_exit(always: ArrayLike, offloaded: ArrayLike, exit_probability: ArrayLike) -> np.ndarray:
    """A task's expected latency or energy with an early exit at its cut that ends it on the
    device with probability ``exit_probability`` (BranchyNet's expected cost): what every task
    pays (the head and the exit head) plus, for the share that goes on, what offloading adds
    (the upload, the queue, the server, the result's download)."""
    return np.asarray(always, dtype=np.float64) + (1.0 - np.asarray(exit_probability)) * offloaded


def task_energy_j(
    compute_s: ArrayLike,
    compute_power_w: ArrayLike,
    transmit_s: ArrayLike,
    transmit_power_w: ArrayLike,
    receive_s: ArrayLike = 0.0,
    receive_power_w: ArrayLike = 0.0,
    device_macs: ArrayLike = 0.0,
    energy_per_mac_j: ArrayLike = np.nan,
) -> np.ndarray:
    """Compute + transmit + receive energy of one task on the device, joules (shi2025 Eq. 5,
    zhang2026 Eq. 3, chukhno2023 Eq. 3).

    Compute energy is power x time (shi2025 Eq. 5, chukhno2023 P_d T_inf), or, where
    ``energy_per_mac_j`` is a number, zeta x the device's MACs (zhang2026 Eq. 3). Transmit energy
    is P_tx x uplink time; receive energy (the result's downlink) is (P_rx + P_E) x downlink time
    in chukhno2023 Eq. 3, passed here as ``receive_power_w``. Linear in every time and MAC count,
    so it also gives per-node and per-value energies whose sum over a cut is the cut's energy.
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
