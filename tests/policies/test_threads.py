"""Thread allocation: shi2025 Alg. 1 (TA) against exhaustive search, and the equal split."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.threads import (
    thread_allocation_bs,
    thread_allocation_equal,
    thread_allocation_ta,
)


def _convex_latency(rng: np.random.Generator, n: int, k_max: int) -> np.ndarray:
    """Latency a + b/k (+ an all-local task or two that threads do not help): convex in k."""
    k = np.arange(k_max + 1, dtype=float)
    with np.errstate(divide="ignore"):
        latency = rng.random((n, 1)) * 0.1 + rng.random((n, 1)) / k[None, :]
    latency[:, 0] = np.inf
    local = rng.random(n) < 0.25
    latency[local] = rng.random((local.sum(), 1))
    return latency


def _best(latency: np.ndarray, total: int, k_min: int) -> float:
    n = len(latency)
    best = np.inf
    for split in itertools.product(range(k_min, total + 1), repeat=n):
        if sum(split) == total:
            best = min(best, sum(latency[i, k] for i, k in enumerate(split)))
    return best


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(2, 4), st.integers(0, 2))
def test_ta_reaches_the_optimum_on_convex_latencies(seed, n, k_min):
    rng = np.random.default_rng(seed)
    total = n * k_min + int(rng.integers(0, 7))
    total = max(total, n)  # an offloaded task needs one thread
    latency = _convex_latency(rng, n, total)
    threads = thread_allocation_ta(latency, total, max(k_min, 0), rng, epsilon_s=0.0)
    assert threads.sum() == total and (threads >= k_min).all()
    got = latency[np.arange(n), threads].sum()
    assert got == pytest.approx(_best(latency, total, k_min), rel=1e-12)


def test_ta_never_drops_below_k_min_and_is_seeded():
    latency = np.tile(np.linspace(1.0, 0.1, 17), (3, 1))
    latency[2] = 0.5  # an all-local task: a free donor, but only down to k_min
    a = thread_allocation_ta(latency, 16, 2, np.random.default_rng(1))
    b = thread_allocation_ta(latency, 16, 2, np.random.default_rng(1))
    assert np.array_equal(a, b) and a[2] == 2 and a.sum() == 16


def test_equal_split_and_impossible_budgets():
    assert list(thread_allocation_equal(np.zeros((3, 17)), 16, 1)) == [6, 5, 5]
    with pytest.raises(InvalidParameterError, match=">= 3 devices x k_min 6 = 18"):
        thread_allocation_ta(np.zeros((3, 17)), 16, 6, np.random.default_rng())


@pytest.mark.filterwarnings("error")
def test_ta_with_queues_no_thread_count_stabilises():
    """A task unstable at every thread count gives nothing to gain; an unstable one that k + 1
    threads stabilise is served first (an infinite gain), with no inf - inf arithmetic."""
    latency = np.full((3, 9), np.inf)
    latency[1, 4:] = 1.0 / np.arange(4, 9)  # stable from 4 threads on
    latency[2, 1:] = 0.5 + 1.0 / np.arange(1, 9)
    threads = thread_allocation_ta(latency, 8, 1, np.random.default_rng(0))
    assert threads.sum() == 8 and (threads >= 1).all()
    assert threads[1] >= 4  # the stabilisable queue got its threads
    finite = latency[[1, 2], threads[[1, 2]]].sum()
    assert finite == pytest.approx(
        min(latency[1, k] + latency[2, 7 - k] for k in range(4, 7)), rel=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(0, 3))
def test_bs_finds_the_fewest_threads_meeting_each_deadline(seed, n, k_min):
    rng = np.random.default_rng(seed)
    total = n * max(k_min, 1) + int(rng.integers(0, 12))
    latency = _convex_latency(rng, n, total)  # falls with k: binary search applies
    deadline = rng.uniform(0.05, 1.2, n)
    threads = thread_allocation_bs(latency, total, k_min, deadline)
    assert threads.sum() == total and (threads >= k_min).all()
    # the fewest by a linear scan, then the documented repair and spare hand-out
    fewest = []
    for i in range(n):
        meeting = [k for k in range(k_min, total + 1) if latency[i, k] <= deadline[i]]
        fewest.append(meeting[0] if meeting else total)
    fewest = np.maximum(np.array(fewest), k_min)
    if fewest.sum() <= total:
        spare = total - fewest.sum()
        expected = fewest + spare // n + (np.arange(n) < spare % n)
        assert np.array_equal(threads, expected)
    else:
        assert (threads <= fewest).all()
