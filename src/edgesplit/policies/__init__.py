"""Deciders: one interface (``decide(observation) -> Decision``), baselines, the exact optimum,
thread allocation, learners, evaluation and training (see docs/policies.md)."""

from edgesplit.policies.base import Policy
from edgesplit.policies.registry import make_policy, policy_names
from edgesplit.policies.threads import (
    thread_allocation_bs,
    thread_allocation_equal,
    thread_allocation_ta,
)
from edgesplit.sim.decision import Decision

__all__ = [
    "Decision",
    "Policy",
    "make_policy",
    "policy_names",
    "thread_allocation_bs",
    "thread_allocation_equal",
    "thread_allocation_ta",
]
