"""M/D/1 (shi2025 Eq. 3) against an event-by-event simulation of the queue."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.sim.queues import md1_waiting_time_s, simulate_fifo_waiting_s


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
