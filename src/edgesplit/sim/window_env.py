"""``edgesplit/TaskWindowMEC-v0`` (zhang2026's task-aware MDP) and ``edgesplit/TimeSlotMEC-v0``
(the same system decided at fixed time slots, zhang2026 Fig. 7's comparison).

Observation (zhang2026 Eq. 7): remaining tasks X_n and distances d_n (the time-slot variant adds
each device's unfinished work, seconds). Action: a Dict of arrays, one row per device: the window
size (value w means w + 1 tasks), and per task position a cut (0 = send the input), a channel, a
server and a transmit power; the time-slot variant has one task decision per device. For
multi-agent learners, ``device_observation_space`` and ``device_action_space`` describe one
device's share, and ``device_observations`` / ``joint_action`` convert. With
``difference_rewards=True`` the task-window env's ``info["difference_reward"]`` holds each
device's difference reward (``sim.window.difference_rewards``), the per-agent credit of
EMH-PPO's and MAHPPO's ``credit="difference"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edgesplit.errors import InvalidParameterError
from edgesplit.sim.decision import Decision
from edgesplit.sim.scenario import Scenario, scenario_for
from edgesplit.sim.window import (
    build_window_system,
    channel_gains,
    difference_rewards,
    task_costs,
    window_step,
)


def _as_action(action: Decision, window: bool) -> dict[str, np.ndarray]:
    """The Gymnasium action of a ``Decision`` (window: tasks per device, 1..W_max)."""
    needed = (
        ("window", "channel", "server", "power_w") if window else ("channel", "server", "power_w")
    )
    missing = [name for name in needed if getattr(action, name) is None]
    if missing:
        raise InvalidParameterError("decision", f"no {', '.join(missing)}", "every field set")
    converted = {
        "cut": np.asarray(action.cut_index) - 1,
        "channel": np.asarray(action.channel),
        "server": np.asarray(action.server),
        "power": np.asarray(action.power_w, dtype=np.float32),
    }
    if window:
        converted["window"] = np.asarray(action.window) - 1
    return converted


class _ZhangBase(gym.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    styles: tuple[str, ...] = ()

    def __init__(self, scenario: str | Scenario) -> None:
        self.scenario = scenario_for(scenario, self.styles, type(self).__name__)
        self.system = build_window_system(self.scenario)
        self.task_cap = int(np.ceil(4 * self.system.mean_tasks.max() + 50))

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
            "power": spaces.Box(0.0, radio.max_transmit_power_w, shape, dtype=np.float32),
        }

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        tasks = self.np_random.poisson(self.system.mean_tasks)
        self.remaining = np.clip(tasks, 1, self.task_cap).astype(np.int64)
        self.completed = 0
        self._draw_distances()
        return self._observation(), {}

    def _checked(
        self, action: dict[str, np.ndarray] | Decision, window: bool
    ) -> dict[str, np.ndarray]:
        if not isinstance(action, Decision):
            return action
        converted = _as_action(action, window)
        for key, space in self.action_space.spaces.items():
            if not space.contains(converted[key]):
                raise InvalidParameterError(
                    f"decision.{'cut_index' if key == 'cut' else key}",
                    np.asarray(converted[key]).tolist(),
                    f"within {space} (cut_index and window 1-based)",
                )
        return converted

    def device_observations(self, observation: np.ndarray) -> np.ndarray:
        """The joint observation as one row per device."""
        return np.asarray(observation).reshape(-1, self.system.n_devices).T


class TaskWindowMECEnv(_ZhangBase):
    """zhang2026's task-aware MDP: one decision per task window (see the module docstring)."""

    styles = ("task_window",)
    difference_rewards = False  # class default: envs pickled in older checkpoints lack the field

    def __init__(
        self, scenario: str | Scenario = "zhang2026", difference_rewards: bool = False
    ) -> None:
        super().__init__(scenario)
        self.difference_rewards = difference_rewards
        n, width = self.system.n_devices, self.scenario.window_reward.window_max
        self.observation_space = spaces.Box(
            0.0,
            np.concatenate([np.full(n, self.task_cap), self.system.distance_high]).astype(
                np.float32
            ),
            dtype=np.float32,
        )
        self.action_space = spaces.Dict(
            {"window": spaces.MultiDiscrete(np.full(n, width)), **self._task_spaces((n, width))}
        )
        self.device_observation_space = spaces.Box(
            0.0,
            np.array([self.task_cap, self.system.distance_high.max()], dtype=np.float32),
            dtype=np.float32,
        )
        cuts = int(self.system.n_cuts.max())
        self.device_action_space = spaces.Dict(
            {
                "window": spaces.Discrete(width),
                "cut": spaces.MultiDiscrete(np.full(width, cuts)),
                "channel": spaces.MultiDiscrete(np.full(width, self.scenario.radio.channels)),
                "server": spaces.MultiDiscrete(np.full(width, self.system.n_servers)),
                "power": spaces.Box(
                    0.0, self.scenario.radio.max_transmit_power_w, (width,), dtype=np.float32
                ),
            }
        )

    def _observation(self) -> np.ndarray:
        return np.concatenate([self.remaining, self.distance_m]).astype(np.float32)

    def joint_action(self, device_actions: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
        """Stack one action per device (``device_action_space``) into the joint action."""
        return {
            key: np.stack([np.asarray(a[key]) for a in device_actions]) for key in self.action_space
        }

    def step(self, action: dict[str, np.ndarray] | Decision):
        action = self._checked(action, window=True)
        args = (
            self.system, self.remaining, np.asarray(action["window"]) + 1,
            np.asarray(action["cut"]), np.asarray(action["channel"]), np.asarray(action["server"]),
            np.asarray(action["power"], dtype=np.float64), self.gain,
        )  # fmt: skip
        outcome = window_step(*args)
        differences = difference_rewards(*args, outcome.reward) if self.difference_rewards else None
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
            "completed": self.completed,
        }
        if differences is not None:
            info["difference_reward"] = differences
        return self._observation(), outcome.reward, terminated, False, info


class TimeSlotMECEnv(_ZhangBase):
    """zhang2026's system decided every ``time_slot_s`` seconds (see the module docstring)."""

    styles = ("task_window", "time_slot")

    def __init__(self, scenario: str | Scenario = "zhang2026") -> None:
        super().__init__(scenario)
        n = self.system.n_devices
        self.slot_s = self.scenario.time_slot_s
        high = np.concatenate(
            [
                np.full(n, self.task_cap),
                self.system.distance_high,
                np.full(n, np.finfo(np.float32).max),
            ]
        )
        self.observation_space = spaces.Box(0.0, high.astype(np.float32), dtype=np.float32)
        self.action_space = spaces.Dict(self._task_spaces((n,)))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self.busy_s = np.zeros(self.system.n_devices)
        return super().reset(seed=seed, options=options)

    def _observation(self) -> np.ndarray:
        return np.concatenate([self.remaining, self.distance_m, self.busy_s]).astype(np.float32)

    def step(self, action: dict[str, np.ndarray] | Decision):
        action = self._checked(action, window=False)
        outcome = time_slot_step(
            self.system, self.remaining, self.busy_s, self.slot_s,
            np.asarray(action["cut"]), np.asarray(action["channel"]), np.asarray(action["server"]),
            np.asarray(action["power"], dtype=np.float64), self.gain,
        )  # fmt: skip
        self.remaining = self.remaining - outcome["started"]
        self.busy_s = outcome["busy_s"]
        self.completed += int(outcome["started"].sum())
        self._draw_distances()
        terminated = bool((self.remaining == 0).all() and (self.busy_s == 0).all())
        return self._observation(), outcome["reward"], terminated, False, outcome


def time_slot_step(
    system,
    remaining: np.ndarray,
    busy_s: np.ndarray,
    slot_s: float,
    cuts: np.ndarray,
    channels: np.ndarray,
    servers: np.ndarray,
    power_w: np.ndarray,
    gain: np.ndarray,
) -> dict[str, Any]:
    """One fixed slot: every idle device starts tasks back to back with the slot's decision."""
    free = slot_s - busy_s
    active = (remaining > 0) & (free > 0)
    costs = task_costs(
        system, active[:, None], cuts[:, None], channels[:, None], servers[:, None],
        power_w[:, None], gain,
    )  # fmt: skip
    latency, energy = costs.latency_s[:, 0], costs.energy_j[:, 0]
    per_task = np.where(active, latency, 1.0)
    started = np.where(active, np.minimum(remaining, np.ceil(free / per_task)), 0).astype(np.int64)
    busy = np.maximum(busy_s + started * latency - slot_s, 0.0)
    count = int(started.sum())
    weighted = float(
        (started * latency).sum()
        + system.scenario.window_reward.beta / len(started) * (started * energy).sum()
    )
    return {
        "reward": -weighted / count if count else 0.0,
        "started": started,
        "busy_s": busy,
        "task_latency_s": latency,
        "task_energy_j": energy,
        "latency_s": float((started * latency).sum()),
        "energy_j": float((started * energy).sum()),
    }
