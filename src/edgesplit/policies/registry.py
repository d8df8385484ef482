"""Policies by name: ``make_policy("dads+ta", scenario)``; learners load a policy file with
``make_policy("ddp+ta", scenario, checkpoint="runs/ddp/policy.pt")``.

Slot-style names are ``RULE+ALLOCATOR``: a cut rule (``eo``, ``dads``, ``neurosurgeon``, the
learner ``ddp``) and a thread allocator (``policies.threads.ALLOCATORS``: ``ta``, ``bs``,
``equal``, ``utility``); ``local``, ``random``, ``optimum`` and ``mpc`` stand alone (local and
random allocate with TA, the optimum and the MPC choose their threads)."""

from __future__ import annotations

import importlib
from pathlib import Path

from edgesplit.errors import InvalidParameterError
from edgesplit.fields import allowed_by
from edgesplit.policies.base import Policy
from edgesplit.policies.slot import (
    BatteryMPC,
    Dads,
    EdgeOnly,
    LocalOnly,
    Neurosurgeon,
    RandomCuts,
    SlotOptimum,
)
from edgesplit.policies.threads import ALLOCATORS
from edgesplit.policies.window import (
    AgileNNStyle,
    EdgeLect,
    EdgeRandom,
    EdgeRoundRobin,
    FixedAssignment,
    GreedyMarginal,
    LocalWindow,
    NearOffload,
    RandomWindow,
    WindowOptimum,
)
from edgesplit.sim.scenario import Scenario, load_scenario
from edgesplit.vocabulary import STYLES

# the deciders that learn (they import torch: their classes are imported on use); the tables
# below take them from here, and ``is_learner`` asks here
_LEARNERS = {
    "ddp": "edgesplit.policies.ddpg:DDPPolicy",
    "emh-ppo": "edgesplit.policies.ppo:EMHPPO",
    "mahppo": "edgesplit.policies.ppo:MAHPPO",
    "h-ppo": "edgesplit.policies.ppo:HPPO",
    "slot-ppo": "edgesplit.policies.slots:SlotPPO",
}
_SLOT_ALONE = {
    "local": LocalOnly,
    "random": RandomCuts,
    "optimum": SlotOptimum,
    "mpc": BatteryMPC,
}
_SLOT_RULES = {
    "eo": EdgeOnly,
    "dads": Dads,
    "neurosurgeon": Neurosurgeon,
    "ddp": _LEARNERS["ddp"],
}
_WINDOW = {
    "local": LocalWindow,
    "random": RandomWindow,
    "agilenn": AgileNNStyle,
    "edge+random": EdgeRandom,
    "edge+round-robin": EdgeRoundRobin,
    "edge+lect": EdgeLect,
    "fixed-assignment": FixedAssignment,
    "near-offload": NearOffload,
    "greedy": GreedyMarginal,
    "repeated-optimum": WindowOptimum,
    "planner": "edgesplit.policies.planner:WindowPlanner",  # imports Numba and SciPy
    **{name: _LEARNERS[name] for name in ("emh-ppo", "mahppo", "h-ppo", "slot-ppo")},
}
_TIME_SLOT = {"emh-ppo": "edgesplit.policies.ppo:TimeSlotEMHPPO"}  # zhang2026 Fig. 7


def _slot_names() -> dict[str, tuple[object, str | None]]:
    names: dict[str, tuple[object, str | None]] = {n: (c, None) for n, c in _SLOT_ALONE.items()}
    for rule, entry in _SLOT_RULES.items():
        for allocator in ALLOCATORS:
            names[f"{rule}+{allocator}"] = (entry, allocator)
    return names


def _registry(style: str) -> dict[str, tuple[object, str | None]]:
    if style == "slot":
        return _slot_names()
    if style == "task_window":
        return {name: (entry, None) for name, entry in _WINDOW.items()}
    if style == "time_slot":
        return {name: (entry, None) for name, entry in _TIME_SLOT.items()}
    return {}


def policy_names(style: str | None = None) -> list[str]:
    """The policy names (of one scenario style, or all)."""
    styles = [style] if style else ["slot", "task_window"]
    return sorted({name for s in styles for name in _registry(s)})


def is_learner(name: str) -> bool:
    """Whether the policy called ``name`` learns (and so needs a policy file to decide)."""
    return name.partition("+")[0] in _LEARNERS


def _class(entry: object) -> type[Policy]:
    if isinstance(entry, str):
        module, name = entry.split(":")
        return getattr(importlib.import_module(module), name)
    return entry  # type: ignore[return-value]


def check_policy_name(name: str, style: str) -> None:
    """Refuse a policy name that no ``style`` policy has, saying which names there are."""
    if name in _registry(style):
        return
    everywhere = policy_names()
    for_style = policy_names(style)
    where = (
        f"one of {', '.join(for_style)} for the {style} style"
        if for_style
        else f"a {style}-style policy: none is implemented yet"
    )
    if name not in everywhere:
        where = f"one of {', '.join(everywhere)}"
    raise InvalidParameterError("policy", name, where)


def make_policy(
    name: str,
    scenario: str | Scenario,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    settings: dict[str, str] | None = None,
) -> Policy:
    """A policy by name for ``scenario``; a learner's weights come from ``checkpoint`` (a path,
    or the name of a policy file shipped with edgesplit: ``policy_file``), its config fields
    from ``settings`` (text, e.g. ``{"imitation_steps": "1000"}``)."""
    scenario = load_scenario(scenario) if isinstance(scenario, str) else scenario
    check_policy_name(name, scenario.style)
    entry, allocator = _registry(scenario.style)[name]
    cls = _class(entry)
    policy = cls(scenario, seed=seed) if allocator is None else cls(scenario, seed, allocator)
    if settings and not is_learner(name):
        _apply_settings(policy, settings)
    elif settings:
        from edgesplit.policies.common.learner import configured  # imports torch

        config = configured(policy.config, settings)
        policy = (
            cls(scenario, seed=seed, config=config)
            if allocator is None
            else cls(scenario, seed, allocator, config=config)
        )
    if checkpoint is not None:
        if not is_learner(name):
            raise InvalidParameterError(
                "checkpoint", str(checkpoint), f"none: {name} does not learn"
            )
        policy.load(policy_file(checkpoint))
    return policy


SHIPPED = Path(__file__).resolve().parent.parent / "data" / "policies"  # trained policy files


def policy_file(checkpoint: str | Path) -> Path:
    """A learner's policy file: ``checkpoint`` itself when it exists, else the policy file
    shipped with edgesplit of that name (``slot-ppo-zhang2026-100``: ``data/policies``), else
    ``checkpoint`` (whose loading then says it is missing)."""
    path = Path(checkpoint)
    shipped = SHIPPED / f"{path.name}.pt"
    return (
        shipped
        if not path.exists() and path.name == str(checkpoint) and shipped.is_file()
        else path
    )


def setting_values(cls: type[Policy], settings: dict[str, str]) -> dict[str, object]:
    """``settings`` (text) parsed and checked as decider ``cls``'s ``settable`` fields."""
    from pydantic import TypeAdapter, ValidationError

    values = {}
    for key, text in settings.items():
        if key not in cls.settable:
            known = ", ".join(cls.settable)
            allowed = (
                f"one of {cls.name}'s settings: {known}" if known
                else f"none: {cls.name} does not learn and has no settings"
            )  # fmt: skip
            raise InvalidParameterError(f"--set {key}", text, allowed)
        try:
            values[key] = TypeAdapter(cls.settable[key]).validate_python(text)
        except ValidationError as error:
            said = allowed_by(error, cls.settable[key])
            raise InvalidParameterError(f"--set {key}", text, said) from None
    return values


def _apply_settings(policy: Policy, settings: dict[str, str]) -> None:
    """Set a decider's ``settable`` fields from text, each parsed and checked as its type."""
    for key, value in setting_values(type(policy), settings).items():
        setattr(policy, key, value)


def check_settings(spec: str, scenario: Scenario, settings: dict[str, str]) -> None:
    """Refuse, before anything is built, ``settings`` that the decider of ``spec`` (a policy as
    ``--policy`` names it) lacks or whose values its fields do not take; a learner's are its
    policy file's."""
    name = spec.partition("=")[0].strip()
    known = _registry(scenario.style)
    if not settings or name not in known:
        return
    if is_learner(name):
        key = next(iter(settings))
        raise InvalidParameterError(
            f"--set {key}", settings[key], f"none: {name}'s settings are its policy file's"
        )
    setting_values(_class(known[name][0]), settings)


def takes_settings(name: str, fields: list[str]) -> bool:
    """Whether decider ``name`` (not a learner) has every one of ``fields`` among its settings."""
    if is_learner(name):
        return False
    styles = [s for s in STYLES if name in _registry(s)]
    return any(set(fields) <= set(_class(_registry(s)[name][0]).settable) for s in styles)


def policy_from_spec(
    spec: str,
    scenario: Scenario,
    seed: int = 0,
    untrained: bool = False,
    settings: dict[str, str] | None = None,
) -> tuple[str, Policy]:
    """``name`` or ``name=checkpoint`` (a learner's policy.pt) -> (label, policy). A learner
    without a checkpoint is refused (its network is untrained) unless ``untrained``, and then
    labelled so. ``settings``: a decider's ``settable`` fields (``--set budget_s=0.25``)."""
    name, _, checkpoint = (part.strip() for part in spec.partition("="))
    if is_learner(name) and not checkpoint and not untrained:
        raise InvalidParameterError(
            "policy", name,
            f"{name}=path/to/policy.pt: a learner decides with a trained network (from "
            "`edgesplit train`); --untrained evaluates its untrained one, for debugging",
        )  # fmt: skip
    policy = make_policy(name, scenario, seed, checkpoint or None, settings or None)
    label = spec.strip() if checkpoint or not is_learner(name) else f"{name} (untrained)"
    if settings:
        label += " (" + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")"
    return label, policy
