"""``edgesplit/SlotMEC-v0``: shi2025's system as a Gymnasium environment.

Observation (shi2025 Eq. 16): arrivals lambda_n(t), battery E_n(t), uplink B_n(t) (the same for
every device on a shared link) and the server's threads K(t). Action: one number per device in
[-1, 1] (a tanh output), mapped to a cut by Eq. 19. Threads are allocated inside the step by a
pluggable allocator (default: shi2025 Alg. 1, TA). Reward: the utility Eq. 10 (see ``slot``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edgesplit.energy import CloudProcess, IrradianceSeries, clearsky_series, read_midc, sample_day
from edgesplit.errors import InvalidParameterError
from edgesplit.net import ReplayRateTrace, dbm_to_w, sample_umi_pathloss_db, shannon_rate_bps
from edgesplit.net.umi import thermal_noise_w
from edgesplit.policies.threads import Allocator, make_allocator
from edgesplit.sim.decision import Decision
from edgesplit.sim.scenario import Scenario, scenario_for
from edgesplit.sim.slot import (
    SlotOutcome,
    SlotState,
    action_to_cuts,
    build_slot_system,
    latency_by_threads,
    slot_step,
)


class SlotMECEnv(gym.Env):
    """shi2025's time-slot MEC system (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self, scenario: str | Scenario = "shi2025-wifi", allocator: str | Allocator = "ta"
    ) -> None:
        self.scenario = scenario_for(scenario, ("slot",), "SlotMEC (use TaskWindowMEC)")
        self.system = build_slot_system(self.scenario)
        self.allocate = make_allocator(allocator, self.system.deadline_s)
        server = self.scenario.servers[0]
        self.gpu_server = self.system.max_threads == 1 and server.threads is None
        self.threads_range = server.threads or (self.system.max_threads, self.system.max_threads)
        if self.threads_range[1] > self.system.max_threads:
            raise InvalidParameterError(
                "servers.0.threads", list(self.threads_range),
                f"at most {self.system.max_threads}: the server profile's cores",
            )  # fmt: skip
        uplink = self.scenario.uplink
        self.trace = (
            ReplayRateTrace.from_csv(uplink.trace_file, uplink.trace_column)
            if uplink.kind == "trace"
            else None
        )
        n = self.system.n_devices
        max_rate = {"uniform": uplink.high_bps, "trace": self.trace.max_bps if self.trace else 0.0}
        rate_high = max_rate.get(uplink.kind, uplink.bandwidth_hz * 64.0)
        high = np.concatenate(
            [self.system.arrivals_high, self.system.capacity_j, np.full(n, rate_high),
             [self.threads_range[1]]]
        ).astype(np.float32)  # fmt: skip
        self.observation_space = spaces.Box(0.0, high, dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (n,), dtype=np.float32)
        self._irradiance: IrradianceSeries | None = None

    # -- state ---------------------------------------------------------------------------------

    def _draw_state(self) -> None:
        rng, system, uplink = self.np_random, self.system, self.scenario.uplink
        n = system.n_devices
        self.arrivals = rng.uniform(system.arrivals_low, system.arrivals_high)
        low, high = self.threads_range
        self.threads_total = int(rng.integers(low, high + 1))
        if uplink.kind == "umi":
            distance = rng.uniform(*uplink.distance_m, n)
            loss_db, _ = sample_umi_pathloss_db(rng, distance, uplink.frequency_hz)
            noise = thermal_noise_w(uplink.bandwidth_hz, uplink.noise_figure_db)
            gain_db = uplink.antenna_gain_db - loss_db
            self.uplink_bps = shannon_rate_bps(
                uplink.bandwidth_hz, dbm_to_w(uplink.device_power_dbm + gain_db), noise, 0.0
            )
            self.downlink_bps = shannon_rate_bps(
                uplink.bandwidth_hz, dbm_to_w(uplink.server_power_dbm + gain_db), noise, 0.0
            )
            return
        rate = (
            self.trace.rate_bps(rng, self.slot)
            if self.trace
            else rng.uniform(uplink.low_bps, uplink.high_bps)
        )
        self.uplink_bps = np.full(n, float(rate))
        self.downlink_bps = self.uplink_bps

    def _observation(self) -> np.ndarray:
        state = SlotState(self.arrivals, self.battery_j, self.uplink_bps, self.threads_total)
        return state.observation()

    def _irradiance_series(self) -> IrradianceSeries:
        spec = self.scenario.irradiance
        if spec.kind == "sample_day":
            return sample_day()
        if spec.kind == "midc":
            return read_midc(spec.midc_file or "")
        return clearsky_series(
            spec.latitude, spec.longitude, spec.date, spec.timezone, spec.altitude_m,
            clouds=CloudProcess() if spec.clouds else None,
            seed=int(self.np_random.integers(2**31)),
        )  # fmt: skip

    # -- Gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.slot = 0
        self.battery_j = self.system.capacity_j.copy()
        self.violations = {"energy": 0, "queue": 0}
        self._irradiance = self._irradiance_series()
        self._draw_state()
        return self._observation(), {}

    def step(self, action: np.ndarray | Decision):
        """One slot. ``action``: the Eq. 19 vector, or a ``Decision`` (cut indices, and threads
        or None for the allocator's)."""
        if isinstance(action, Decision):
            cuts = self._checked_cuts(action.cut_index)
            threads = (
                self.allocate_threads(cuts)
                if action.threads is None
                else self._checked_threads(action.threads)
            )
        else:
            cuts = action_to_cuts(self.system, np.asarray(action, dtype=np.float64))
            threads = self.allocate_threads(cuts)
        outcome = self.apply(cuts, threads)
        self.slot += 1
        self._draw_state()
        truncated = self.slot >= self.scenario.episode_slots
        return (
            self._observation(),
            outcome.reward,
            False,
            truncated,
            self._info(cuts, threads, outcome),
        )

    def _checked_cuts(self, cut_index: np.ndarray) -> np.ndarray:
        cut_index = np.asarray(cut_index)
        n_cuts = self.system.n_cuts
        if cut_index.shape != n_cuts.shape or ((cut_index < 1) | (cut_index > n_cuts)).any():
            raise InvalidParameterError(
                "decision.cut_index", cut_index.tolist(),
                f"one index per device in 1..S with S = {n_cuts.tolist()}",
            )  # fmt: skip
        return cut_index.astype(np.int64) - 1

    def _checked_threads(self, threads: np.ndarray) -> np.ndarray:
        threads = np.asarray(threads)
        k_min = 0 if self.gpu_server else self.scenario.servers[0].min_threads_per_task
        total = len(threads) if self.gpu_server else self.threads_total
        if (
            threads.shape != (self.system.n_devices,)
            or threads.sum() != total
            or (threads < k_min).any()
        ):
            raise InvalidParameterError(
                "decision.threads", threads.tolist(),
                f"{self.system.n_devices} counts >= k_min {k_min} summing to K(t) = {total}",
            )  # fmt: skip
        return threads.astype(np.int64)

    def allocate_threads(self, cuts: np.ndarray) -> np.ndarray:
        """The allocator's threads for these cuts in the current state."""
        if self.gpu_server:
            return np.ones(len(cuts), dtype=np.int64)
        latency = latency_by_threads(
            self.system, cuts, self.arrivals, self.uplink_bps, self.downlink_bps
        )
        k_min = self.scenario.servers[0].min_threads_per_task
        return np.asarray(self.allocate(latency, self.threads_total, k_min, self.np_random))

    def apply(self, cuts: np.ndarray, threads: np.ndarray) -> SlotOutcome:
        """Run the current slot with these decisions (advances the batteries)."""
        seconds = self.scenario.start_s + self.slot * self.scenario.slot_s
        outcome = slot_step(
            self.system, self.battery_j, cuts, threads, self.arrivals,
            self.uplink_bps, self.downlink_bps, self._irradiance.at(seconds),
        )  # fmt: skip
        self.battery_j = outcome.battery_j
        self.violations["energy"] += int(np.count_nonzero(outcome.served < 1.0))
        self.violations["queue"] += int(np.count_nonzero(outcome.unstable))
        return outcome

    def _info(self, cuts: np.ndarray, threads: np.ndarray, outcome: SlotOutcome) -> dict[str, Any]:
        return {
            "cut_index": cuts + 1,
            "threads": threads,
            "local_s": outcome.local_s,
            "transmit_s": outcome.transmit_s,
            "queue_s": outcome.queue_s,
            "server_s": outcome.server_s,
            "downlink_s": outcome.downlink_s,
            "latency_s": outcome.latency_s,
            "energy_j": outcome.consumed_j,
            "harvested_j": outcome.harvested_j,
            "battery_j": outcome.battery_j,
            "served": outcome.served,
            "utility": outcome.utility,
            "violations": dict(self.violations),
        }
