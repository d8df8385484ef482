"""Policies by name: ``make_policy("dads+ta", scenario)``; learners load a checkpoint with
``make_policy("ddp+ta", scenario, checkpoint="runs/ddp/policy.pt")``."""

from __future__ import annotations

from pathlib import Path

from edgesplit.errors import InvalidParameterError
from edgesplit.policies.base import Policy
from edgesplit.policies.slot import Dads, EdgeOnly, LocalOnly, Neurosurgeon, RandomCuts, SlotOptimum
from edgesplit.policies.window import AgileNNStyle, LocalWindow, RandomWindow, WindowOptimum
from edgesplit.sim.scenario import Scenario, load_scenario

# name -> (class path, allocator); classes are imported on use (learners import torch)
_SLOT = {
    "local": (LocalOnly, None),
    "random": (RandomCuts, None),
    "eo+ta": (EdgeOnly, "ta"),
    "eo+bs": (EdgeOnly, "bs"),
    "dads+ta": (Dads, "ta"),
    "dads+bs": (Dads, "bs"),
    "neurosurgeon+ta": (Neurosurgeon, "ta"),
    "optimum": (SlotOptimum, None),
    "ddp+ta": ("edgesplit.policies.ddpg:DDPPolicy", "ta"),
}
_WINDOW = {
    "local": (LocalWindow, None),
    "random": (RandomWindow, None),
    "agilenn": (AgileNNStyle, None),
    "optimum": (WindowOptimum, None),
    "emh-ppo": ("edgesplit.policies.ppo:EMHPPO", None),
    "mahppo": ("edgesplit.policies.ppo:MAHPPO", None),
    "h-ppo": ("edgesplit.policies.ppo:HPPO", None),
}
_REGISTRY = {"slot": _SLOT, "task_window": _WINDOW}
LEARNERS = ("ddp+ta", "emh-ppo", "mahppo", "h-ppo")


def policy_names(style: str | None = None) -> list[str]:
    """The policy names (of one scenario style, or all)."""
    styles = [style] if style else list(_REGISTRY)
    return sorted({name for s in styles for name in _REGISTRY.get(s, {})})


def _class(entry):
    if isinstance(entry, str):
        import importlib

        module, name = entry.split(":")
        return getattr(importlib.import_module(module), name)
    return entry


def make_policy(
    name: str,
    scenario: str | Scenario,
    seed: int = 0,
    checkpoint: str | Path | None = None,
) -> Policy:
    """A policy by name for ``scenario``; a learner's weights come from ``checkpoint``."""
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    known = _REGISTRY.get(scenario.style, {})
    if name not in known:
        everywhere = policy_names()
        for_style = policy_names(scenario.style)
        where = (
            f"one of {', '.join(for_style)} for the {scenario.style} style"
            if for_style
            else f"a {scenario.style}-style policy: none is implemented yet"
        )
        if name not in everywhere:
            where = f"one of {', '.join(everywhere)}"
        raise InvalidParameterError("policy", name, where)
    entry, allocator = known[name]
    policy = _class(entry)(scenario, seed=seed, allocator=allocator)
    if checkpoint is not None:
        if name not in LEARNERS:
            raise InvalidParameterError(
                "checkpoint", str(checkpoint), f"none: {name} does not learn"
            )
        policy.load(checkpoint)
    return policy


def policy_from_spec(spec: str, scenario: Scenario, seed: int = 0) -> tuple[str, Policy]:
    """``name`` or ``name=checkpoint`` (a learner's policy.pt) -> (label, policy)."""
    name, _, checkpoint = spec.partition("=")
    policy = make_policy(name.strip(), scenario, seed, checkpoint.strip() or None)
    return spec.strip(), policy
