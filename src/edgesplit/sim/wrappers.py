"""Thin wrappers over the environments: stepping with a ``Decision``, and applying a thread
allocator for learners whose action is only the cuts."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from edgesplit.contract import Allocator, Decision, SlotState
from edgesplit.sim.slot import allocate_threads


class DecisionEnv(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """``step`` takes a ``Decision`` (what every policy's ``decide`` returns) and hands it to
    the env's ``step_decision`` as it is (the env checks it as it checks an action);
    everything else is the wrapped env's."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def step(self, decision: Decision) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return self.env.step_decision(decision)


class ThreadAllocation(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """``SlotMEC-v0`` for a learner whose action is one cut position per device: the threads
    come from ``allocator`` (shi2025's DDP trains with TA, Alg. 1) through
    ``sim.slot.allocate_threads`` on the observation the learner saw, the same call a policy
    makes when it decides, so training and evaluation use one allocation."""

    def __init__(self, env: gym.Env, allocator: Allocator) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, allocator=allocator)
        gym.ActionWrapper.__init__(self, env)
        self.allocator = allocator
        self.action_space = spaces.MultiDiscrete(env.unwrapped.system.n_cuts)

    def action(self, action: np.ndarray) -> dict[str, np.ndarray]:
        base = self.env.unwrapped
        state = SlotState.decode(base.observation(), base.system.n_devices)
        cuts = np.asarray(action, dtype=np.int64)
        return {"cut": cuts, "threads": allocate_threads(base.system, state, cuts, self.allocator)}


class BoxActions(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """An env whose action is one Box in [0, 1]^d, for learners that take only a Box
    (stable-baselines3's TD3, SAC, DDPG; its PPO takes no Dict): each coordinate drives one
    entry of the wrapped env's Dict action, in the Dict's order: a discrete entry of n choices
    by floor(x n) (x = 1 takes the last) and a bounded continuous one by low + x (high - low).
    Every point of the Box is an action of the wrapped env (registered as
    ``edgesplit/SlotMECBox-v0``, ``TaskWindowMECBox-v0`` and ``TimeSlotMECBox-v0``)."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        self.parts = []  # (key, the subspace, its entries)
        for key, space in env.action_space.spaces.items():
            if isinstance(space, spaces.Box) and not space.is_bounded():
                raise ValueError(f"BoxActions needs bounded Box entries; {key!r} is not")
            if not isinstance(space, spaces.Box | spaces.MultiDiscrete):
                raise ValueError(f"BoxActions takes Box and MultiDiscrete entries, not {key!r}")
            self.parts.append((key, space, int(np.prod(space.shape))))
        size = sum(entries for _, _, entries in self.parts)
        self.action_space = spaces.Box(0.0, 1.0, (size,), dtype=np.float32)

    def action(self, action: np.ndarray) -> dict[str, np.ndarray]:
        x = np.clip(np.asarray(action, dtype=np.float64), 0.0, 1.0)
        out, start = {}, 0
        for key, space, entries in self.parts:
            part = x[start : start + entries].reshape(space.shape)
            start += entries
            if isinstance(space, spaces.MultiDiscrete):
                choice = np.minimum(np.floor(part * space.nvec), space.nvec - 1)
                out[key] = (space.start + choice).astype(space.dtype)
            else:
                out[key] = (space.low + part * (space.high - space.low)).astype(space.dtype)
        return out
