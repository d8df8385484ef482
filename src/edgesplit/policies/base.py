"""The one interface of every decider: ``policy.decide(observation) -> Decision``.

A policy is built from a scenario (its static data: the cost tables, the devices, the servers)
and a seed; it sees only observations (``contract.SlotState`` / ``WindowState`` encodings) and
returns a ``contract.Decision``. Learners (``policies.common.Learner``) add ``train``, ``save``
and ``load``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from edgesplit.contract import Decision
from edgesplit.sim.scenario import Scenario, scenario_for


class Policy(ABC):
    """A decider for one scenario style."""

    name: ClassVar[str]
    styles: ClassVar[tuple[str, ...]]
    # what ``--set FIELD=VALUE`` may change on a decider that does not learn: field -> its type
    # (a pydantic type: the text is parsed and checked as that); a learner's are its config's
    settable: ClassVar[dict[str, Any]] = {}

    def __init__(self, scenario: str | Scenario, seed: int = 0) -> None:
        self.scenario = scenario_for(scenario, self.styles, f"policy {self.name}")
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        """Start an episode (reseeds the policy's own randomness when a seed is given)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)

    @abstractmethod
    def decide(self, observation: np.ndarray) -> Decision:
        """The decision for this observation."""
