"""``edgesplit/SlotMEC-v0``: shi2025's system as a Gymnasium environment.

Observation (shi2025 Eq. 16, ``contract.SlotState``): arrivals lambda_n(t), battery E_n(t),
uplink B_n(t) and the server's threads K(t). Action: a Dict with one cut position per device
(``cut``, 0 sends the input) and the server threads per device (``threads``): the same fields as
a ``contract.Decision``. An allocation of Eq. 13-14 (counts of at least k_min summing to K(t),
which changes every slot) runs as given; any other request in the action space is fitted to
one (``slot.fit_threads``: K(t) shared in proportion to it), so that every action the space
holds is a valid one, as Gymnasium's contract asks; ``info["threads"]`` is what ran. On a GPU
server every task runs alone (threads 1). The env decides nothing:
learners that output only cuts train through ``sim.wrappers.ThreadAllocation``, which applies an
allocator, and policies step the env with a ``Decision`` through ``sim.wrappers.DecisionEnv``.
Reward: the utility Eq. 10 (see ``slot``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edgesplit.contract import SLOT_FIELDS, Decision, SlotState
from edgesplit.energy import IrradianceSeries
from edgesplit.errors import InvalidParameterError
from edgesplit.net import DeviceRates, RateModel, ReplayRates, UmiRates, UniformRates
from edgesplit.sim.scenario import Scenario, Uplink, scenario_for
from edgesplit.sim.slot import (
    SlotOutcome,
    SlotSystem,
    build_slot_system,
    cut_rows,
    fit_threads,
    irradiance_series,
    slot_step,
)


def rate_model(uplink: Uplink) -> RateModel:
    """The rate model a scenario's ``uplink`` describes."""
    if uplink.kind == "trace":
        return ReplayRates.from_csv(uplink.trace_file or "", uplink.trace_column)
    if uplink.kind == "umi":
        return UmiRates(
            uplink.frequency_hz, uplink.bandwidth_hz, uplink.device_power_dbm,
            uplink.server_power_dbm, uplink.antenna_gain_db, uplink.noise_figure_db,
            uplink.distance_m,
        )  # fmt: skip
    return UniformRates(uplink.low_bps, uplink.high_bps)


def scenario_rates(scenario: Scenario) -> RateModel:
    """The rates of a scenario's devices: the scenario's link, or per device type its own
    (``devices[i].uplink``; types without one share the scenario's)."""
    if all(device.uplink is None for device in scenario.devices):
        return rate_model(scenario.uplink)
    links = [scenario.uplink, *(d.uplink for d in scenario.devices if d.uplink is not None)]
    group_of, own = [], 0
    for device in scenario.devices:
        if device.uplink is not None:
            own += 1
        group_of += [own if device.uplink is not None else 0] * device.count
    return DeviceRates(tuple(rate_model(link) for link in links), np.array(group_of))


class SlotMECEnv(gym.Env):
    """shi2025's time-slot MEC system (see the module docstring)."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    action_fields = SLOT_FIELDS

    def __init__(self, scenario: str | Scenario = "shi2025-wifi") -> None:
        self.scenario = scenario_for(scenario, ("slot",), "SlotMEC (use TaskWindowMEC)")
        self.system = build_slot_system(self.scenario)
        self.rates = scenario_rates(self.scenario)
        system = self.system
        high = SlotState.high(
            system.arrivals_high, system.capacity_j, self.rates.max_bps, system.threads_high
        )
        self.observation_space = spaces.Box(0.0, high.astype(np.float32), dtype=np.float32)
        self.action_space = spaces.Dict(
            {
                "cut": spaces.MultiDiscrete(system.n_cuts),
                "threads": spaces.MultiDiscrete(np.full(system.n_devices, system.max_threads + 1)),
            }
        )
        self._irradiance: IrradianceSeries | None = None

    # -- state ---------------------------------------------------------------------------------

    def _draw_state(self) -> None:
        rng, system = self.np_random, self.system
        self.arrivals = rng.uniform(system.arrivals_low, system.arrivals_high)
        self.threads_total = int(rng.integers(system.threads_low, system.threads_high + 1))
        self.uplink_bps, self.downlink_bps = self.rates.draw(rng, self.slot, system.n_devices)

    def observation(self) -> np.ndarray:
        """The current observation (what the last ``reset`` or ``step`` returned)."""
        return SlotState(
            self.arrivals, self.battery_j, self.uplink_bps, self.threads_total
        ).encode()

    def set_link_rates(
        self, uplink_bps: np.ndarray, downlink_bps: np.ndarray | None = None
    ) -> None:
        """Replace this slot's drawn rates with rates measured elsewhere (the live controller's
        estimates): the next ``observation`` and ``step`` take them; the downlink follows the
        uplink unless given."""
        n = self.system.n_devices
        up = np.asarray(uplink_bps, dtype=np.float64)
        down = up if downlink_bps is None else np.asarray(downlink_bps, dtype=np.float64)
        if up.shape != (n,) or down.shape != (n,) or not (up > 0).all() or not (down > 0).all():
            raise InvalidParameterError(
                "uplink_bps", up.tolist(), f"{n} positive rates, one per device"
            )
        self.uplink_bps, self.downlink_bps = up.copy(), down.copy()

    def _irradiance_series(self) -> IrradianceSeries:
        return irradiance_series(self.scenario.irradiance, int(self.np_random.integers(2**31)))

    def get_state(self) -> dict[str, Any]:
        """The env's whole mutable state as plain data (arrays, numbers, the generator's state):
        what a resumable checkpoint stores instead of the object."""
        irradiance = self._irradiance
        return {
            "slot": self.slot,
            "battery_j": self.battery_j.copy(),
            "violations": dict(self.violations),
            "irradiance_w_m2": irradiance.values_w_m2.copy(),
            "irradiance_start": irradiance.start,
            "irradiance_source": irradiance.source,
            "arrivals": self.arrivals.copy(),
            "threads_total": self.threads_total,
            "uplink_bps": self.uplink_bps.copy(),
            "downlink_bps": self.downlink_bps.copy(),
            "rng": self.np_random.bit_generator.state,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from ``get_state``'s data (mid-episode included)."""
        self.slot = int(state["slot"])
        self.battery_j = np.asarray(state["battery_j"], dtype=np.float64).copy()
        self.violations = {key: int(value) for key, value in state["violations"].items()}
        self._irradiance = IrradianceSeries(
            np.asarray(state["irradiance_w_m2"], dtype=np.float64),
            state["irradiance_start"],
            state["irradiance_source"],
        )
        self.arrivals = np.asarray(state["arrivals"], dtype=np.float64).copy()
        self.threads_total = int(state["threads_total"])
        self.uplink_bps = np.asarray(state["uplink_bps"], dtype=np.float64).copy()
        self.downlink_bps = np.asarray(state["downlink_bps"], dtype=np.float64).copy()
        self.np_random.bit_generator.state = state["rng"]

    # -- Gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.slot = 0
        self.battery_j = self.system.capacity_j.copy()
        self.violations = {"energy": 0, "queue": 0}
        self._irradiance = self._irradiance_series()
        self._draw_state()
        return self.observation(), {}

    def step(self, action: dict[str, np.ndarray]):
        """One slot with every device's cut and threads (see the module docstring)."""
        if not isinstance(action, dict) or set(action) != {"cut", "threads"}:
            raise InvalidParameterError(
                "action", type(action).__name__, "a dict with cut and threads (a Decision's)"
            )
        return self.step_decision(Decision.from_action(action))

    def step_decision(self, decision: Decision):
        """One slot with a Decision (what ``DecisionEnv`` passes: no round trip through the
        dict)."""
        cuts, threads = self._checked(decision)
        outcome = self.apply(cuts, threads)
        self.slot += 1
        self._draw_state()
        truncated = self.slot >= self.scenario.episode_slots
        info = {**_info(self.system, cuts, threads, outcome), "violations": dict(self.violations)}
        return self.observation(), outcome.reward, False, truncated, info

    def _checked(self, decision: Decision) -> tuple[np.ndarray, np.ndarray]:
        system = self.system
        if decision.threads is None:
            raise InvalidParameterError("decision", "no threads", "cut, threads all set")
        cuts, threads = np.asarray(decision.cut), np.asarray(decision.threads)
        if cuts.shape != system.n_cuts.shape or ((cuts < 0) | (cuts >= system.n_cuts)).any():
            raise InvalidParameterError(
                "action.cut", cuts.tolist(),
                f"one cut position per device in 0..S-1 with S = {system.n_cuts.tolist()}",
            )  # fmt: skip
        space = self.action_space["threads"]
        if threads.shape != space.shape or ((threads < 0) | (threads >= space.nvec)).any():
            raise InvalidParameterError(
                "action.threads", threads.tolist(),
                f"one count per device in 0..{system.max_threads} (fitted to K(t) = "
                f"{self.threads_total}, each >= k_min {system.k_min})",
            )  # fmt: skip
        if system.gpu_server:
            return cuts.astype(np.int64), np.ones(system.n_devices, dtype=np.int64)
        return cuts.astype(np.int64), fit_threads(threads, self.threads_total, system.k_min)

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


def _info(
    system: SlotSystem, cuts: np.ndarray, threads: np.ndarray, outcome: SlotOutcome
) -> dict[str, Any]:
    learned = {"learned": system.learned[cut_rows(system, cuts)]} if system.learned.any() else {}
    return {
        **learned,
        "cut": cuts,
        "threads": threads,
        "local_s": outcome.local_s,
        "transmit_s": outcome.transmit_s,
        "queue_s": outcome.queue_s,
        "server_s": outcome.server_s,
        "downlink_s": outcome.downlink_s,
        "latency_s": outcome.latency_s,
        "energy_j": outcome.consumed_j,
        "task_energy_j": outcome.task_energy_j,
        "harvested_j": outcome.harvested_j,
        "battery_j": outcome.battery_j,
        "served": outcome.served,
        "utility": outcome.utility,
        "codec": outcome.codec,
    }
