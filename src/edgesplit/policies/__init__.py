"""Deciders for the MEC simulator: thread allocation on the edge server (more in later issues)."""

from edgesplit.policies.threads import thread_allocation_equal, thread_allocation_ta

__all__ = ["thread_allocation_equal", "thread_allocation_ta"]
