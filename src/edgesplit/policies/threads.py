"""Thread allocation on the edge server: shi2025's TA (Alg. 1) and an equal split.

Both take ``latency_s[n, k]``: device n's end-to-end latency if it gets k threads (k = 0 ... K),
with +inf where k threads cannot serve it (k = 0 for an offloaded task, or an unstable queue).
"""

from __future__ import annotations

import numpy as np

from edgesplit.errors import InvalidParameterError


def _check(latency_s: np.ndarray, total_threads: int, k_min: int) -> tuple[int, int]:
    n, width = latency_s.shape
    if k_min < 0 or n * k_min > total_threads:
        raise InvalidParameterError(
            "threads", total_threads, f">= {n} devices x k_min {k_min} = {n * k_min}"
        )
    if width <= total_threads:
        raise InvalidParameterError(
            "latency_s", latency_s.shape, f"columns for 0..{total_threads} threads"
        )
    return n, width


def _row_latency(latency_s: np.ndarray, threads: np.ndarray) -> np.ndarray:
    return latency_s[np.arange(len(threads)), threads]


def _change_s(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """after - before, where a latency that stays infinite (an unstable queue) changes by 0."""
    both = np.isinf(before) & np.isinf(after)
    with np.errstate(invalid="ignore"):
        return np.where(both, 0.0, after - before)


def thread_allocation_ta(
    latency_s: np.ndarray,
    total_threads: int,
    k_min: int,
    rng: np.random.Generator,
    epsilon_s: float = 1e-6,
    max_rounds: int = 100_000,
) -> np.ndarray:
    """shi2025 Alg. 1: start every task at k_min, hand the rest out at random (lines 1-3), then
    repeatedly move one thread from the task whose latency rises least when it loses one to the
    task whose latency falls most when it gains one, while that lowers the total latency by more
    than ``epsilon_s`` (lines 5-21). All K threads are always allocated (Eq. 13), never fewer
    than k_min to a task (Eq. 14).

    Two printed lines are read as the text around them describes: line 9 forbids a drop below
    k_min (as printed it would allow only such drops), and line 17 compares the latency changes
    (delta D_down > delta D_up) rather than the latencies of two different tasks.
    """
    latency_s = np.asarray(latency_s, dtype=np.float64)
    n, _ = _check(latency_s, total_threads, k_min)
    threads = np.full(n, k_min, dtype=np.int64)
    spare = total_threads - n * k_min
    if spare:
        np.add.at(threads, rng.integers(0, n, spare), 1)
    rows = np.arange(n)
    for _ in range(max_rounds):
        now = _row_latency(latency_s, threads)
        can_drop = threads - 1 >= k_min
        up = np.where(can_drop, latency_s[rows, np.maximum(threads - 1, 0)], np.inf)
        down = latency_s[rows, np.minimum(threads + 1, latency_s.shape[1] - 1)]
        rise = np.where(can_drop, _change_s(now, up), np.inf)
        fall = -_change_s(now, down)
        donor = int(np.argmin(rise))
        fall[donor] = -np.inf  # a thread moved to its own task changes nothing
        taker = int(np.argmax(fall))
        # The move lowers the total latency by fall - rise (inf when it stabilises a queue).
        if not np.isfinite(rise[donor]) or not fall[taker] - rise[donor] > epsilon_s:
            break
        threads[donor] -= 1
        threads[taker] += 1
    return threads


def thread_allocation_equal(latency_s: np.ndarray, total_threads: int, k_min: int) -> np.ndarray:
    """K threads split as evenly as possible (the first K mod N tasks get one more)."""
    n, _ = _check(np.asarray(latency_s), total_threads, k_min)
    threads = np.full(n, total_threads // n, dtype=np.int64)
    threads[: total_threads % n] += 1
    return threads
