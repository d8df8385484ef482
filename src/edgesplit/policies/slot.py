"""Deciders for shi2025's slot style: local only, edge only (EO), random, Neurosurgeon, DADS, and
the exact per-slot optimum; each with a thread allocator (TA, BS, equal or utility-aware), so
that shi2025's combinations are names: ``eo+ta``, ``eo+bs``, ``dads+ta``, ``dads+bs``.

Every cost comes from the simulator's own functions (``edgesplit.sim.slot``, which composes them
with ``edgesplit.costs``) on the observed state (Eq. 16: arrivals, batteries, uplink rate,
K(t)); the downlink is taken to run at the uplink's rate (the observation has no other) and the
slot's harvest, which no decider observes, as zero. Threads come from
``sim.slot.allocate_threads``, the same call the training env's ``ThreadAllocation`` makes.
"""

from __future__ import annotations

import numpy as np

from edgesplit.contract import Decision, SlotState
from edgesplit.costs import task_latency_s
from edgesplit.policies.base import Policy
from edgesplit.policies.threads import best_allocation, make_allocator
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.slot import (
    allocate_threads,
    build_slot_system,
    fixed_latency_s,
    slot_step,
)


class SlotPolicy(Policy):
    """A slot-style decider: a rule for the cuts, and an allocator for the threads."""

    styles = ("slot",)
    default_allocator = "ta"

    def __init__(
        self, scenario: str | Scenario, seed: int = 0, allocator: str | None = None
    ) -> None:
        super().__init__(scenario, seed)
        self.system = build_slot_system(self.scenario)
        self.allocator_name = allocator or self.default_allocator
        self.allocator = make_allocator(self.allocator_name, self.system)

    def decide(self, observation: np.ndarray) -> Decision:
        state = SlotState.decode(observation, self.system.n_devices)
        cuts = self.cuts(state)
        return Decision(
            cut=cuts, threads=allocate_threads(self.system, state, cuts, self.allocator)
        )

    def cuts(self, state: SlotState) -> np.ndarray:
        """0-based cut positions per device."""
        raise NotImplementedError


class LocalOnly(SlotPolicy):
    """Every device runs its whole model."""

    name = "local"

    def cuts(self, state: SlotState) -> np.ndarray:
        return self.system.n_cuts - 1


class EdgeOnly(SlotPolicy):
    """Every device sends its input: shi2025's EO (``eo+ta``, ``eo+bs``)."""

    name = "eo"

    def cuts(self, state: SlotState) -> np.ndarray:
        return np.zeros(self.system.n_devices, dtype=np.int64)


class RandomCuts(SlotPolicy):
    """A uniformly random cut per device."""

    name = "random"

    def cuts(self, state: SlotState) -> np.ndarray:
        return self.rng.integers(0, self.system.n_cuts)


def _candidate_cuts(system, allowed: np.ndarray | None = None) -> np.ndarray:
    """[C, devices]: candidate c of device n (clamped to its last cut; where ``allowed`` (stacked
    rows) excludes a cut, the device's all-local cut stands in)."""
    width = int(system.n_cuts.max())
    cuts = np.minimum(np.arange(width)[:, None], system.n_cuts[None, :] - 1)
    if allowed is not None:
        ok = allowed[system.row_offset[None, :] + cuts]
        cuts = np.where(ok, cuts, system.n_cuts[None, :] - 1)
    return cuts


class Dads(SlotPolicy):
    """DADS: per device, the cut of least latency (head + transmit + tail at the device's equal
    share of K(t) threads, queueing ignored); the optimum of this additive cost, which
    ``graph.best_cut`` finds by min-cut on the model graph (tests check they agree)."""

    name = "dads"
    single_tensor = False

    def assumed_threads(self, state: SlotState) -> int:
        return max(self.system.k_min, state.threads_total // self.system.n_devices, 1)

    def cuts(self, state: SlotState) -> np.ndarray:
        system = self.system
        allowed = system.crossing_count <= 1 if self.single_tensor else None
        candidates = _candidate_cuts(system, allowed)
        local, link, downlink = fixed_latency_s(
            system, candidates, state.uplink_bps, state.uplink_bps
        )
        k = 0 if system.gpu_server else min(self.assumed_threads(state), system.max_threads)
        server = system.tail_s[system.row_offset[None, :] + candidates, k]
        latency = task_latency_s(local, link.latency_s, server, downlink_s=downlink)
        return candidates[np.argmin(latency, axis=0), np.arange(system.n_devices)]


class Neurosurgeon(Dads):
    """Neurosurgeon: per device, the single-tensor cut of least latency for its own task,
    assuming the whole server (contention and queueing ignored)."""

    name = "neurosurgeon"
    single_tensor = True

    def assumed_threads(self, state: SlotState) -> int:
        return state.threads_total


class SlotOptimum(SlotPolicy):
    """The exact optimum of the slot's utility U(t) over every joint decision (cuts and threads,
    Eq. 13-15): each device's utility term depends only on its own cut and threads, so the best
    cut for every thread count (all evaluated by ``slot_step`` in one batch) and a dynamic
    program over the thread budget (``threads.best_allocation``) give the joint optimum; tests
    check it against brute-force enumeration. Myopic: it maximizes this slot, not the episode."""

    name = "optimum"
    default_allocator = "equal"  # unused: the optimum chooses its threads

    def decide(self, observation: np.ndarray) -> Decision:
        state = SlotState.decode(observation, self.system.n_devices)
        cuts, threads = self.solve(state)
        return Decision(cut=cuts, threads=threads)

    def solve(self, state: SlotState) -> tuple[np.ndarray, np.ndarray]:
        system, n = self.system, self.system.n_devices
        if system.gpu_server:  # one thread column: every task gets "1"
            total, ks = n, np.array([1])
        else:
            total, ks = state.threads_total, np.arange(system.k_min, state.threads_total + 1)
        candidates = _candidate_cuts(system)  # [C, n]
        shape = (len(candidates), len(ks), n)
        outcome = slot_step(
            system, state.battery_j,
            np.broadcast_to(candidates[:, None, :], shape),
            np.broadcast_to(ks[None, :, None], shape),
            state.arrivals, state.uplink_bps, state.uplink_bps, 0.0,
        )  # fmt: skip
        best_cut = np.argmax(outcome.utility, axis=0)  # [k, n]
        value = np.take_along_axis(outcome.utility, best_cut[None], axis=0)[0]  # [k, n]
        threads = best_allocation(value, ks, total)
        chosen = best_cut[np.searchsorted(ks, threads), np.arange(n)]
        return candidates[chosen, np.arange(n)], threads
