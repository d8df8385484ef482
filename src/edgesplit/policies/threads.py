"""Thread allocation on the edge server: shi2025's TA (Alg. 1), its BS baseline, an equal split,
and a utility-aware allocator (edgesplit's), each an ``Allocator`` (``contract``) by name.

Each takes ``latency_s[n, k]``: device n's end-to-end latency if it gets k threads (k = 0 ... K),
with +inf where k threads cannot serve it (k = 0 for an offloaded task, or an unstable queue).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from edgesplit.contract import Allocator
from edgesplit.errors import InvalidParameterError
from edgesplit.sim.slot import SlotSystem, device_utility


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


def thread_allocation_bs(
    latency_s: np.ndarray, total_threads: int, k_min: int, deadline_s: np.ndarray
) -> np.ndarray:
    """shi2025's BS baseline: per task, a binary search for the fewest threads (>= k_min) that
    meet its deadline D_max (all K where none does); the spare threads of Eq. 13 are handed out
    evenly, one at a time in device order. When the tasks need more than K, the largest
    allocation gives up one thread at a time (never below k_min) until the sum is K.

    Binary search assumes latency falls as threads rise, as the profiles' tails mostly do; where
    a measured curve is not monotone it finds a thread count meeting the deadline, not always the
    fewest.
    """
    latency_s = np.asarray(latency_s, dtype=np.float64)
    n, _ = _check(latency_s, total_threads, k_min)
    deadline_s = np.broadcast_to(np.asarray(deadline_s, dtype=np.float64), (n,))
    low = np.full(n, k_min, dtype=np.int64)
    high = np.full(n, total_threads, dtype=np.int64)
    rows = np.arange(n)
    meets_at_all = latency_s[rows, high] <= deadline_s
    while (low < high).any():  # vectorized bisection: one step for every task at once
        middle = (low + high) // 2
        meets = latency_s[rows, middle] <= deadline_s
        searching = low < high
        high = np.where(searching & meets, middle, high)
        low = np.where(searching & ~meets, middle + 1, low)
    threads = np.where(meets_at_all, low, total_threads)
    threads = np.maximum(threads, k_min)
    while threads.sum() > total_threads:
        threads[int(np.argmax(threads))] -= 1
    spare = total_threads - int(threads.sum())
    threads += spare // n
    threads[: spare % n] += 1
    return threads


def best_allocation(value: np.ndarray, ks: np.ndarray, total: int) -> np.ndarray:
    """max sum_n value[j_n, n] over thread counts k_n = ks[j_n] with sum_n k_n = total: a dynamic
    program over the devices and the thread budget (exact)."""
    n = value.shape[1]
    best = np.full((n + 1, total + 1), -np.inf)
    best[0, 0] = 0.0
    pick = np.zeros((n + 1, total + 1), dtype=np.int64)
    for i in range(n):  # devices x budget x choices: tiny (N <= tens, K <= 16)
        for used in range(total + 1):
            if not np.isfinite(best[i, used]):
                continue
            for j, k in enumerate(ks):
                if used + k <= total and best[i, used] + value[j, i] > best[i + 1, used + k]:
                    best[i + 1, used + k] = best[i, used] + value[j, i]
                    pick[i + 1, used + k] = k
    threads, used = np.zeros(n, dtype=np.int64), total
    for i in range(n, 0, -1):
        threads[i - 1] = pick[i, used]
        used -= pick[i, used]
    return threads


@dataclass(frozen=True)
class TA:
    """shi2025 Alg. 1 as an allocator. Its random start (lines 1-3) is drawn from a generator
    seeded by ``seed`` and the inputs, so that the same state gets the same threads wherever TA
    runs (the training env's wrapper and the trained policy cannot disagree)."""

    name: ClassVar[str] = "ta"
    seed: int = 0
    epsilon_s: float = 1e-6

    def __call__(self, latency_s: np.ndarray, total_threads: int, k_min: int) -> np.ndarray:
        latency_s = np.ascontiguousarray(latency_s, dtype=np.float64)
        key = zlib.crc32(latency_s.tobytes())
        rng = np.random.default_rng([self.seed, key, int(total_threads), int(k_min)])
        return thread_allocation_ta(latency_s, total_threads, k_min, rng, self.epsilon_s)


@dataclass(frozen=True)
class BinarySearch:
    """shi2025's BS baseline as an allocator: the fewest threads meeting each deadline."""

    name: ClassVar[str] = "bs"
    deadline_s: np.ndarray = field(repr=False)

    def __call__(self, latency_s: np.ndarray, total_threads: int, k_min: int) -> np.ndarray:
        return thread_allocation_bs(latency_s, total_threads, k_min, self.deadline_s)


@dataclass(frozen=True)
class Equal:
    """K threads split as evenly as possible."""

    name: ClassVar[str] = "equal"

    def __call__(self, latency_s: np.ndarray, total_threads: int, k_min: int) -> np.ndarray:
        return thread_allocation_equal(latency_s, total_threads, k_min)


@dataclass(frozen=True)
class UtilityAware:
    """The split of K(t) threads that maximises the slot's utility (shi2025 Eq. 10) for the given
    cuts, exactly: TA minimises the plain sum of latencies, while Eq. 10 weighs each device's
    latency by 1 / D_max,n, clips it at 2 D_max and penalises an unstable queue. A device's term
    of Eq. 10 depends only on its own threads (its energy not at all), so
    ``sim.slot.device_utility`` per device and thread count and ``best_allocation`` over the
    budget give the optimum."""

    name: ClassVar[str] = "utility"
    system: SlotSystem = field(repr=False)

    def __call__(self, latency_s: np.ndarray, total_threads: int, k_min: int) -> np.ndarray:
        latency_s = np.asarray(latency_s, dtype=np.float64)
        _check(latency_s, total_threads, k_min)
        ks = np.arange(k_min, total_threads + 1)
        by_k = latency_s[:, ks].T  # [k, devices]
        value = device_utility(self.system, 0.0, by_k, 1.0, np.isinf(by_k))
        return best_allocation(value, ks, total_threads)


ALLOCATORS: dict[str, Callable[[SlotSystem], Allocator]] = {
    "ta": lambda system: TA(),
    "bs": lambda system: BinarySearch(system.deadline_s),
    "equal": lambda system: Equal(),
    "utility": lambda system: UtilityAware(system),
}


def make_allocator(name: str, system: SlotSystem) -> Allocator:
    """The allocator called ``name`` (``ALLOCATORS``) for ``system``."""
    if name not in ALLOCATORS:
        raise InvalidParameterError("allocator", name, f"one of {', '.join(ALLOCATORS)}")
    return ALLOCATORS[name](system)
