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
    """``step`` takes a ``Decision`` (what every policy's ``decide`` returns) and passes the
    env its Gymnasium action; everything else is the wrapped env's."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.fields = env.unwrapped.action_fields

    def step(self, decision: Decision) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        return self.env.step(decision.as_action(self.fields))


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
