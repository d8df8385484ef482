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

from typing import Any, ClassVar, Literal

import numpy as np

from edgesplit.contract import Decision, SlotState
from edgesplit.costs import task_latency_s
from edgesplit.energy.forecast import clear_sky_index_forecast
from edgesplit.policies.base import Policy
from edgesplit.policies.threads import best_allocation, make_allocator
from edgesplit.sim.scenario import Scenario
from edgesplit.sim.slot import (
    SlotOutcome,
    allocate_threads,
    build_slot_system,
    fixed_latency_s,
    irradiance_series,
    site_clear_sky,
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
            state.arrivals, state.uplink_bps, state.uplink_bps, self.irradiance_now(),
        )  # fmt: skip
        score = self.score(state, outcome)
        best_cut = np.argmax(score, axis=0)  # [k, n]
        value = np.take_along_axis(score, best_cut[None], axis=0)[0]  # [k, n]
        threads = best_allocation(value, ks, total)
        chosen = best_cut[np.searchsorted(ks, threads), np.arange(n)]
        return candidates[chosen, np.arange(n)], threads

    def irradiance_now(self) -> float:
        """The irradiance the slot's decision assumes: none (no decider observes it)."""
        return 0.0

    def score(self, state: SlotState, outcome: SlotOutcome) -> np.ndarray:
        """What the search maximises per device and candidate: the slot's utility."""
        return outcome.utility


class BatteryMPC(SlotOptimum):
    """Battery-aware model-predictive control: the slot's exact optimum (as ``optimum``) of its
    utility plus the value of each device's battery afterwards, re-planned every slot.

    The value comes from a dynamic program over the next ``horizon_slots`` slots (None: the
    rest of the episode), per device on a grid of ``grid`` battery levels (linear in between):
    each future slot at the expected arrivals (the range's middle), the uplink as observed now
    (persistence), an equal share of the mean K(t), and the forecast harvest, every cut
    evaluated by the simulator's ``slot_step`` with its battery rule (Eq. 4, Eq. 12 enforced).
    The current slot also counts the forecast harvest, which ``optimum`` takes as zero. The
    episode's end values the battery at nothing. A battery run down by a myopic choice costs
    future slots unserved tasks (Eq. 12 violations) or forced low-energy cuts; the program sees
    that and keeps a reserve.

    The harvest forecast (``forecast``, a setting: ``--set forecast=perfect``):

    - ``clear-sky-index`` (default): re-made every slot from what the panel measured before it,
      the site's clear sky times the last hour's clear-sky index
      (``energy.forecast.clear_sky_index_forecast``), for the measured days (TMY3, the sample
      day, MIDC files; an MIDC file's last-hour mean, having no site);
    - ``perfect``: the scenario's series itself, which is perfect foresight of a measured day.

    A scenario of clear sky with seeded clouds is forecast as the clear sky times the cloud
    process's mean index in both (the clouds are the env's draw)."""

    name = "mpc"
    horizon_slots: int | None = None
    grid = 41
    forecast: str = "clear-sky-index"
    settable: ClassVar[dict[str, Any]] = {"forecast": Literal["clear-sky-index", "perfect"]}

    def __init__(
        self, scenario: str | Scenario, seed: int = 0, allocator: str | None = None
    ) -> None:
        super().__init__(scenario, seed, allocator)
        spec = self.scenario
        self.times_s = spec.start_s + np.arange(spec.episode_slots) * spec.slot_s
        self.series = irradiance_series(spec.irradiance, seed, expected=True)
        self.expected_w_m2 = np.array([self.series.at(t) for t in self.times_s])
        clouds = spec.irradiance.kind == "clearsky" and spec.irradiance.clouds
        self.measured = not clouds  # the series is what the world's panel measures
        self.clear_sky = None if clouds else site_clear_sky(spec.irradiance)
        self.forecast_w_m2 = self.expected_w_m2
        self.slot = 0

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self.slot = 0

    def decide(self, observation: np.ndarray) -> Decision:
        self.forecast_w_m2 = self.harvest_forecast()
        decision = super().decide(observation)
        self.slot += 1
        return decision

    def harvest_forecast(self) -> np.ndarray:
        """The irradiance forecast for every slot of the episode, made at the current slot
        (only the slots from now on are used)."""
        if self.forecast == "perfect" or not self.measured:
            return self.expected_w_m2
        now = self.times_s[min(self.slot, len(self.times_s) - 1)]
        return clear_sky_index_forecast(self.series, self.clear_sky, now, self.times_s)

    def irradiance_now(self) -> float:
        return float(self.forecast_w_m2[min(self.slot, len(self.forecast_w_m2) - 1)])

    def score(self, state: SlotState, outcome: SlotOutcome) -> np.ndarray:
        return outcome.utility + self.battery_value(self.future_values(state), outcome.battery_j)

    def levels(self) -> np.ndarray:
        """[grid, devices] battery levels of the program."""
        return np.linspace(0.0, 1.0, self.grid)[:, None] * self.system.capacity_j[None, :]

    def battery_value(self, values: np.ndarray, battery_j: np.ndarray) -> np.ndarray:
        """Linear interpolation of per-device ``values`` [grid, devices] at ``battery_j``
        [..., devices]."""
        position = battery_j / self.system.capacity_j * (self.grid - 1)
        low = np.clip(np.floor(position).astype(np.int64), 0, self.grid - 2)
        share = np.clip(position - low, 0.0, 1.0)
        device = np.arange(self.system.n_devices)
        return values[low, device] * (1 - share) + values[low + 1, device] * share

    def future_values(self, state: SlotState) -> np.ndarray:
        """The value [grid, devices] of each battery level at the start of the next slot."""
        system, spec = self.system, self.scenario
        last = spec.episode_slots
        if self.horizon_slots is not None:
            last = min(last, self.slot + 1 + self.horizon_slots)
        arrivals = (system.arrivals_low + system.arrivals_high) / 2
        threads = max(
            system.k_min, (system.threads_low + system.threads_high) // 2 // system.n_devices, 1
        )
        threads = 1 if system.gpu_server else min(threads, system.max_threads)
        candidates = _candidate_cuts(system)  # [C, n]
        levels = self.levels()
        shape = (self.grid, len(candidates), system.n_devices)
        battery = np.broadcast_to(levels[:, None, :], shape)
        cuts = np.broadcast_to(candidates[None], shape)
        values = np.zeros((self.grid, system.n_devices))
        for t in range(last - 1, self.slot, -1):
            outcome = slot_step(
                system, battery, cuts, np.full(shape, threads), arrivals, state.uplink_bps,
                state.uplink_bps, float(self.forecast_w_m2[t]),
            )  # fmt: skip
            values = (outcome.utility + self.battery_value(values, outcome.battery_j)).max(axis=1)
        return values
