"""The cost composers against independent computations: M/D/1 (shi2025 Eq. 3) against an
event-by-event simulation of the queue, task energy against the papers' forms written out."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.costs import md1_waiting_time_s, task_energy_j, task_latency_s


def simulate_fifo_waiting_s(
    rng: np.random.Generator, arrival_rate_per_s: float, service_s: float, tasks: int
) -> np.ndarray:
    """Waiting times of ``tasks`` Poisson arrivals at a FIFO single server with deterministic
    service, event by event (the Lindley recursion W_{i+1} = max(0, W_i + S - A_{i+1}))."""
    gaps = rng.exponential(1.0 / arrival_rate_per_s, tasks)
    waiting = np.zeros(tasks)
    for i in range(1, tasks):
        waiting[i] = max(0.0, waiting[i - 1] + service_s - gaps[i])
    return waiting


@pytest.mark.parametrize("rho", [0.2, 0.5, 0.8])
def test_closed_form_matches_simulation(rho):
    service = 0.05
    rate = rho / service
    simulated = simulate_fifo_waiting_s(np.random.default_rng(7), rate, service, 400_000)
    expected = float(md1_waiting_time_s(rate, service))
    assert expected == pytest.approx(rho * service / (2 * (1 - rho)))  # Pollaczek-Khinchine
    tolerance = 0.03 if rho < 0.8 else 0.08  # heavier load, slower convergence
    assert simulated[10_000:].mean() == pytest.approx(expected, rel=tolerance)


def test_edge_cases_are_never_negative_or_nan():
    values = md1_waiting_time_s(
        np.array([5.0, 20.0, 40.0, 0.0, 3.0]), np.array([0.0, 0.05, 0.05, 0.1, 0.1])
    )
    assert values[0] == 0.0  # all local: no queue
    assert np.isinf(values[1]) and np.isinf(values[2])  # rho = 1 and rho = 2: unstable
    assert values[3] == 0.0  # no arrivals
    assert values[4] == pytest.approx(3 * 0.01 / (2 * 0.7))
    assert not np.isnan(values).any() and (values >= 0).all()


def test_task_energy_forms():
    # shi2025: power x time for compute and transmission.
    assert task_energy_j(0.2, 8.6, 0.1, 6.5) == pytest.approx(8.6 * 0.2 + 6.5 * 0.1)
    # zhang2026 Eq. 3: zeta x MACs replaces power x time.
    assert task_energy_j(
        0.2, 8.6, 0.1, 1.0, device_macs=4.089e9, energy_per_mac_j=1e-11
    ) == pytest.approx(0.04089 + 0.1)
    # chukhno2023 Eq. 3: receiving the result costs (P_rx + P_E) x downlink time.
    assert task_energy_j(0.0, 2.8, 0.5, 0.01, 0.002, 5.44) == pytest.approx(0.005 + 0.002 * 5.44)


def test_composers_take_floats_and_arrays_alike():
    """The same call on a [3, 4] batch equals the call on each entry's floats."""
    rng = np.random.default_rng(0)
    parts = rng.uniform(0, 1, (5, 3, 4))
    batch = task_latency_s(*parts)
    energy = task_energy_j(parts[0], 2.0, parts[1], 0.5, parts[2], 0.1)
    for i in range(3):
        for j in range(4):
            scalar = [float(p[i, j]) for p in parts]
            assert batch[i, j] == task_latency_s(*scalar)
            assert energy[i, j] == task_energy_j(scalar[0], 2.0, scalar[1], 0.5, scalar[2], 0.1)


def _closed_loop_events(
    devices, batch_max, single_s, per_row_s, request_s, away_s, delay_s, batches=4000
):
    """A discrete-event run of the closed loop: devices come back ``away_s`` after their answer;
    the lane, when free, takes up to ``batch_max`` waiting requests (a batch that is not full
    waits ``delay_s`` after its first request for more) and is busy for t(b) plus ``request_s``
    per request. Tasks per second over the run."""
    import heapq

    back = [away_s] * devices  # when each device's next request reaches the server
    heapq.heapify(back)
    now, done = 0.0, 0
    for _ in range(batches):
        now = max(now, back[0])
        if batch_max > 1 and sum(t <= now for t in back) < batch_max:
            now = max(now, back[0] + delay_s)  # the leader waits for the batch to fill
        rows = []
        while back and back[0] <= now and len(rows) < batch_max:
            rows.append(heapq.heappop(back))
        now += single_s + (len(rows) - 1) * per_row_s + len(rows) * request_s
        done += len(rows)
        for _ in rows:
            heapq.heappush(back, now + away_s)
    return done / now


@pytest.mark.parametrize(
    ("devices", "batch_max", "away_s", "delay_s"),
    [(1, 1, 0.004, 0.0), (4, 1, 0.004, 0.0), (16, 1, 0.004, 0.0), (1, 16, 0.004, 0.002),
     (4, 16, 0.004, 0.002), (16, 16, 0.004, 0.002), (32, 8, 0.001, 0.002), (3, 8, 0.05, 0.0),
     (3, 8, 0.05, 0.01)],
)  # fmt: skip
def test_closed_loop_throughput_matches_an_event_simulation(devices, batch_max, away_s, delay_s):
    from edgesplit.costs import batch_service_s, closed_loop_throughput_per_s

    single_s, per_row_s, request_s = 0.0088, 0.0045, 0.0012
    terms = (devices, batch_max, single_s, per_row_s, request_s, away_s, delay_s)
    formula = float(closed_loop_throughput_per_s(*terms))
    simulated = _closed_loop_events(*terms)
    assert formula == pytest.approx(simulated, rel=0.01)
    assert float(batch_service_s(1, single_s, per_row_s)) == single_s
    assert float(batch_service_s(9, single_s, per_row_s)) == pytest.approx(single_s + 8 * per_row_s)
