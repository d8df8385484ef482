"""What passes between deciders and worlds (simulated or live): the ``Decision``, the
observation layouts ``SlotState`` and ``WindowState``, and the ``Allocator`` protocol. NumPy
only: no torch, no simulator, no policies."""

from edgesplit.contract.allocator import Allocator
from edgesplit.contract.decision import (
    SLOT_FIELDS,
    TIME_SLOT_FIELDS,
    WINDOW_FIELDS,
    Decision,
)
from edgesplit.contract.observations import SlotState, WindowState, window_task_cap

__all__ = [
    "SLOT_FIELDS",
    "TIME_SLOT_FIELDS",
    "WINDOW_FIELDS",
    "Allocator",
    "Decision",
    "SlotState",
    "WindowState",
    "window_task_cap",
]
