"""``edgesplit/TaskWindowMEC-v0`` (zhang2026's task-aware MDP) and ``edgesplit/TimeSlotMEC-v0``
(the same system decided at fixed time slots, zhang2026 Fig. 7's comparison).

Observation (zhang2026 Eq. 7, ``contract.WindowState``): remaining tasks X_n and distances d_n
(the time-slot variant adds each device's unfinished work, seconds). Action: a Dict of arrays
with a ``contract.Decision``'s names, one row per device: the window size (tasks, 1..W_max), and
per task position a cut position (0 sends the input), a channel, a server and a transmit power
``power_w``; the time-slot variant has one task decision per device. For multi-agent learners,
``device_observation_space`` and ``device_action_space`` describe one device's share, and
``device_observations`` / ``joint_action`` convert. With ``difference_rewards=True`` the
task-window env's ``info["difference_reward"]`` holds each device's difference reward
(``sim.window.difference_rewards``), the per-agent credit of EMH-PPO's and MAHPPO's
``credit="difference"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edgesplit.contract import (
    TIME_SLOT_FIELDS,
    WINDOW_FIELDS,
    Decision,
    WindowState,
    window_task_cap,
)
from edgesplit.errors import InvalidParameterError
from edgesplit.sim.scenario import Scenario, scenario_for
from edgesplit.sim.window import (
    build_window_system,
    channel_gains,
    difference_rewards,
    time_slot_step,
    window_step,
)


class _ZhangBase(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    styles: tuple[str, ...] = ()
    action_fields: tuple[str, ...] = ()

    def __init__(self, scenario: str | Scenario) -> None:
        self.scenario = scenario_for(scenario, self.styles, type(self).__name__)
        self.system = build_window_system(self.scenario)
        self.task_cap = window_task_cap(self.system.mean_tasks)

    def _draw_distances(self) -> None:
        rng = self.np_random
        self.distance_m = rng.uniform(self.system.distance_low, self.system.distance_high)
        self.gain = channel_gains(self.system, rng, self.distance_m)

    def _task_spaces(self, shape: tuple[int, ...]) -> dict[str, spaces.Space]:
        radio, system = self.scenario.radio, self.system
        cut_counts = np.broadcast_to(system.n_cuts.reshape(-1, *([1] * (len(shape) - 1))), shape)
        return {
            "cut": spaces.MultiDiscrete(np.array(cut_counts)),
            "channel": spaces.MultiDiscrete(np.full(shape, radio.channels)),
            "server": spaces.MultiDiscrete(np.full(shape, system.n_servers)),
            "power_w": spaces.Box(0.0, radio.max_transmit_power_w, shape, dtype=np.float32),
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        tasks = self.np_random.poisson(self.system.mean_tasks)
        self.remaining = np.clip(tasks, 1, self.task_cap).astype(np.int64)
        self.completed = 0
        self._draw_distances()
        return self.observation(), {}

    def step(self, action: dict[str, np.ndarray]):
        """One step with a Gymnasium action (a dict of this env's fields)."""
        if not isinstance(action, dict) or set(action) != set(self.action_fields):
            raise InvalidParameterError(
                "action", type(action).__name__, f"a dict with {', '.join(self.action_fields)}"
            )
        return self.step_decision(Decision.from_action(action))

    def step_decision(self, decision: Decision):
        """One step with a Decision (what ``DecisionEnv`` passes), each field checked against
        its space (one clear line) and taken at the space's precision, as an action would be."""
        taken = {}  # each field as the action space holds it (power in float32)
        for key, space in self.action_space.spaces.items():
            value = getattr(decision, key)
            if value is None:
                raise InvalidParameterError(
                    "decision", f"no {key}", f"{', '.join(self.action_fields)} all set"
                )
            value = np.asarray(value)
            taken[key] = value.astype(space.dtype)
            if value.shape != space.shape or not space.contains(taken[key]):
                raise InvalidParameterError(f"action.{key}", value.tolist(), f"within {space}")
        return self._step(Decision.from_action(taken))

    def get_state(self) -> dict[str, Any]:
        """The env's whole mutable state as plain data (what a resumable checkpoint stores)."""
        return {
            "remaining": self.remaining.copy(),
            "completed": self.completed,
            "distance_m": self.distance_m.copy(),
            "gain": self.gain.copy(),
            "rng": self.np_random.bit_generator.state,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from ``get_state``'s data (mid-episode included)."""
        self.remaining = np.asarray(state["remaining"], dtype=np.int64).copy()
        self.completed = int(state["completed"])
        self.distance_m = np.asarray(state["distance_m"], dtype=np.float64).copy()
        self.gain = np.asarray(state["gain"], dtype=np.float64).copy()
        self.np_random.bit_generator.state = state["rng"]

    def device_observations(self, observation: np.ndarray) -> np.ndarray:
        """The joint observation as one row per device."""
        return np.asarray(observation).reshape(-1, self.system.n_devices).T


class TaskWindowMECEnv(_ZhangBase):
    """zhang2026's task-aware MDP: one decision per task window (see the module docstring)."""

    styles = ("task_window",)
    action_fields = WINDOW_FIELDS

    def __init__(
        self, scenario: str | Scenario = "zhang2026", difference_rewards: bool = False
    ) -> None:
        super().__init__(scenario)
        self.difference_rewards = difference_rewards
        system, radio = self.system, self.scenario.radio
        n, width = system.n_devices, self.scenario.window_reward.window_max
        high = WindowState.high(system.mean_tasks, system.distance_high)
        self.observation_space = spaces.Box(0.0, high.astype(np.float32), dtype=np.float32)
        self.action_space = spaces.Dict(
            {
                "window": spaces.MultiDiscrete(np.full(n, width), start=np.ones(n, np.int64)),
                **self._task_spaces((n, width)),
            }
        )
        self.device_observation_space = spaces.Box(
            0.0, np.array([self.task_cap, system.distance_high.max()], dtype=np.float32),
            dtype=np.float32,
        )  # fmt: skip
        cuts = int(system.n_cuts.max())
        self.device_action_space = spaces.Dict(
            {
                "window": spaces.Discrete(width, start=1),
                "cut": spaces.MultiDiscrete(np.full(width, cuts)),
                "channel": spaces.MultiDiscrete(np.full(width, radio.channels)),
                "server": spaces.MultiDiscrete(np.full(width, system.n_servers)),
                "power_w": spaces.Box(0.0, radio.max_transmit_power_w, (width,), dtype=np.float32),
            }
        )

    def observation(self) -> np.ndarray:
        """The current observation (what the last ``reset`` or ``step`` returned)."""
        return WindowState(self.remaining, self.distance_m).encode()

    def upcoming_gains(self, windows: int) -> np.ndarray:
        """The path gains with shadowing [windows, devices] of this window and the next
        ``windows - 1``, as the env will draw them: the draws do not depend on the actions,
        so a clairvoyant bound (``sim.window_bound``) can see them. Leaves the env as it was."""
        state = self.get_state()
        gains = [self.gain.copy()]
        for _ in range(windows - 1):
            self._draw_distances()
            gains.append(self.gain.copy())
        self.set_state(state)
        return np.array(gains)

    def joint_action(self, device_actions: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Stack one action per device (``device_action_space``) into the joint action."""
        return {
            key: np.stack([np.asarray(a[key]) for a in device_actions]) for key in self.action_space
        }

    def _step(self, decision: Decision):
        outcome = window_step(self.system, self.remaining, decision, self.gain)
        differences = (
            difference_rewards(self.system, self.remaining, decision, self.gain, outcome.reward)
            if self.difference_rewards
            else None
        )
        self.remaining = self.remaining - outcome.window
        self.completed += int(outcome.window.sum())
        self._draw_distances()
        terminated = bool((self.remaining == 0).all())
        info = {
            "window": outcome.window,
            "device_latency_s": outcome.device_latency_s,
            "duration_s": outcome.duration_s,
            "waiting_s": outcome.waiting_s,
            "energy_j": outcome.energy_j,
            "task_latency_s": outcome.costs.latency_s,
            "task_energy_j": outcome.costs.energy_j,
            "task_local_s": outcome.costs.local_s,
            "task_transmit_s": outcome.costs.transmit_s,
            "task_server_s": outcome.costs.server_s,
            "task_rate_bps": outcome.costs.rate_bps,
            "task_codec": outcome.costs.codec,
            "task_power_w": outcome.costs.power_w,
            "completed": self.completed,
        }
        if differences is not None:
            info["difference_reward"] = differences
        return self.observation(), outcome.reward, terminated, False, info


class TimeSlotMECEnv(_ZhangBase):
    """zhang2026's system decided every ``time_slot_s`` seconds (see the module docstring).

    A slot may start no task (every device still busy), so slots do not bound an episode as
    windows do: an episode is truncated after ``HORIZON_FACTOR`` times the longest all-local run
    (the task cap x the slowest device's local latency), and ``info["unfinished"]`` counts the
    tasks not yet started."""

    styles = ("task_window", "time_slot")
    action_fields = TIME_SLOT_FIELDS
    HORIZON_FACTOR = 10

    def __init__(self, scenario: str | Scenario = "zhang2026") -> None:
        super().__init__(scenario)
        self.slot_s = self.scenario.time_slot_s
        system = self.system
        local_s = system.head_s[system.row_offset[:, 0] + system.n_cuts - 1].max()
        self.max_slots = int(np.ceil(self.HORIZON_FACTOR * self.task_cap * local_s / self.slot_s))
        high = WindowState.high(self.system.mean_tasks, self.system.distance_high, busy=True)
        self.observation_space = spaces.Box(0.0, high.astype(np.float32), dtype=np.float32)
        self.action_space = spaces.Dict(self._task_spaces((self.system.n_devices,)))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.busy_s = np.zeros(self.system.n_devices)
        self.slots = 0
        return super().reset(seed=seed, options=options)

    def observation(self) -> np.ndarray:
        """The current observation (what the last ``reset`` or ``step`` returned)."""
        return WindowState(self.remaining, self.distance_m, self.busy_s).encode()

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "busy_s": self.busy_s.copy(), "slots": self.slots}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.busy_s = np.asarray(state["busy_s"], dtype=np.float64).copy()
        self.slots = int(state["slots"])

    def _step(self, decision: Decision):
        outcome = time_slot_step(
            self.system, self.remaining, self.busy_s, self.slot_s, decision, self.gain
        )
        self.remaining = self.remaining - outcome["started"]
        self.busy_s = outcome["busy_s"]
        self.completed += int(outcome["started"].sum())
        self._draw_distances()
        self.slots += 1
        terminated = bool((self.remaining == 0).all() and (self.busy_s == 0).all())
        truncated = not terminated and self.slots >= self.max_slots
        info = {**outcome, "slot_s": self.slot_s, "unfinished": int(self.remaining.sum())}
        return self.observation(), outcome["reward"], terminated, truncated, info
