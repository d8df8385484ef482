"""Deciders: one interface (``decide(observation) -> Decision``), baselines, the exact optimum,
thread allocators, learners, evaluation and training (see docs/policies.md)."""

from edgesplit.contract import Decision
from edgesplit.policies.base import Policy
from edgesplit.policies.registry import make_policy, policy_names
from edgesplit.policies.threads import ALLOCATORS, make_allocator

__all__ = ["ALLOCATORS", "Decision", "Policy", "make_allocator", "make_policy", "policy_names"]
