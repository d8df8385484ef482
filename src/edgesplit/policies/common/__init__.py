"""The small core the learners share (networks, buffers, checkpoint files, the ``Learner`` base);
each algorithm keeps its own update loop in its own module."""

from edgesplit.policies.common.buffers import ArrayBuffer, ReplayBuffer, RolloutBuffer
from edgesplit.policies.common.checkpoint import (
    convert_legacy_policy,
    load_checkpoint,
    load_policy,
    save_checkpoint,
    save_policy,
)
from edgesplit.policies.common.learner import Learner, configured
from edgesplit.policies.common.nets import mlp

__all__ = [
    "ArrayBuffer",
    "Learner",
    "ReplayBuffer",
    "RolloutBuffer",
    "configured",
    "convert_legacy_policy",
    "load_checkpoint",
    "load_policy",
    "mlp",
    "save_checkpoint",
    "save_policy",
]
