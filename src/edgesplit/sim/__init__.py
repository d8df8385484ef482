"""The MEC system simulator: scenarios, the vectorized system steps, Gymnasium environments.

Importing this package registers ``edgesplit/SlotMEC-v0`` (shi2025), ``edgesplit/TaskWindowMEC-v0``
(zhang2026) and ``edgesplit/TimeSlotMEC-v0`` (zhang2026's system at fixed slots) with Gymnasium.
It does not import torch: the cost tables are package data or a user cache.
"""

from gymnasium.envs.registration import register, registry

from edgesplit.sim.scenario import Scenario, load_scenario, presets

_ENVS = {
    "edgesplit/SlotMEC-v0": "edgesplit.sim.slot_env:SlotMECEnv",
    "edgesplit/TaskWindowMEC-v0": "edgesplit.sim.window_env:TaskWindowMECEnv",
    "edgesplit/TimeSlotMEC-v0": "edgesplit.sim.window_env:TimeSlotMECEnv",
}
for _id, _entry in _ENVS.items():
    if _id not in registry:
        register(id=_id, entry_point=_entry)

__all__ = ["Scenario", "load_scenario", "presets"]
