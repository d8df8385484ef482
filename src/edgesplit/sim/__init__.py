"""The MEC system simulator: scenarios, the vectorized system steps, Gymnasium environments.

Importing this package registers ``edgesplit/SlotMEC-v0`` (shi2025), ``edgesplit/TaskWindowMEC-v0``
(zhang2026) and ``edgesplit/TimeSlotMEC-v0`` (zhang2026's system at fixed slots) with Gymnasium,
each taking every action its space holds, and the same three with one Box action for learners
that take nothing else (``edgesplit/SlotMECBox-v0`` and so on: ``BoxActions``).
It does not import torch: the cost tables are package data or a user cache.
"""

from functools import partial
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator, register, registry

from edgesplit.sim.scenario import Scenario, load_scenario, presets
from edgesplit.sim.wrappers import BoxActions, DecisionEnv, ThreadAllocation

ENV_OF_STYLE = {
    "slot": "edgesplit/SlotMEC-v0",
    "task_window": "edgesplit/TaskWindowMEC-v0",
    "time_slot": "edgesplit/TimeSlotMEC-v0",
}
_ENTRY_POINTS = {
    "edgesplit/SlotMEC-v0": "edgesplit.sim.slot_env:SlotMECEnv",
    "edgesplit/TaskWindowMEC-v0": "edgesplit.sim.window_env:TaskWindowMECEnv",
    "edgesplit/TimeSlotMEC-v0": "edgesplit.sim.window_env:TimeSlotMECEnv",
}


def _boxed(entry: str, **kwargs: Any) -> gym.Env:
    """The env of ``entry`` with one Box action (``BoxActions``)."""
    return BoxActions(load_env_creator(entry)(**kwargs))


for _id, _entry in _ENTRY_POINTS.items():
    for _name, _creator in ((_id, _entry), (_id.replace("-v0", "Box-v0"), partial(_boxed, _entry))):
        if _name not in registry:
            register(id=_name, entry_point=_creator)


def make_env(scenario: Scenario, **kwargs: Any) -> gym.Env:
    """The environment of a scenario's style (unwrapped: it takes the Gymnasium action)."""
    return gym.make(ENV_OF_STYLE[scenario.style], scenario=scenario, **kwargs).unwrapped


def decision_env(scenario: Scenario, **kwargs: Any) -> DecisionEnv:
    """The environment of a scenario's style, stepped with a ``contract.Decision``."""
    return DecisionEnv(make_env(scenario, **kwargs))


__all__ = [
    "ENV_OF_STYLE",
    "BoxActions",
    "DecisionEnv",
    "Scenario",
    "ThreadAllocation",
    "decision_env",
    "load_scenario",
    "make_env",
    "presets",
]
