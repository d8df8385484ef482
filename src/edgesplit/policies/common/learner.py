"""What every learner shares beyond its own update loop: seeded construction that leaves the
global torch generator alone, policy files (tensors plus a JSON sidecar) and the check that a
file fits the scenario it is loaded for."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import torch
from pydantic import ConfigDict, TypeAdapter, ValidationError
from torch import nn

from edgesplit.errors import InvalidParameterError
from edgesplit.fields import allowed_by
from edgesplit.policies.common.checkpoint import (
    check_compatible,
    load_policy,
    save_policy,
    scenario_hash,
)

# A learner config is a pydantic dataclass of ``checks``' field types: checked when it is made
# (from Python, a policy file or ``--set``), so no NaN, infinity or out-of-range number trains.
LEARNER_CONFIG = ConfigDict(extra="forbid")


class Learner(ABC):
    """Mixed into a ``Policy`` that trains. A subclass names its ``config_class``, the scenario
    fields its networks depend on (``compatible_fields``), builds its networks from
    ``self.config`` in ``build`` and lists them in ``modules``; it owns its update loop
    (``train(trainer)``) and the env it trains in (``training_env``)."""

    config_class: ClassVar[type]
    compatible_fields: ClassVar[tuple[str, ...]]

    # -- to implement ---------------------------------------------------------------------------

    @abstractmethod
    def build(self) -> None:
        """Create the networks from ``self.config``."""

    @abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """The networks a policy file holds, by name."""

    @abstractmethod
    def training_env(self) -> gym.Env:
        """The environment this learner trains in (its action encoding, its credit)."""

    @abstractmethod
    def train(self, trainer: Any) -> None:
        """Train in ``trainer.env`` (``policies.training.Trainer``), resumable."""

    def extra_tensors(self) -> dict[str, torch.Tensor]:
        """Tensors beyond the networks' (e.g. an observation scale)."""
        return {}

    def load_extra(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Restore what ``extra_tensors`` and ``extra_meta`` saved (nothing by default)."""
        return None

    def extra_meta(self) -> dict[str, Any]:
        return {}

    # -- shared ---------------------------------------------------------------------------------

    @contextmanager
    def seeded(self, seed: int):
        """Build under ``torch.manual_seed(seed)`` without touching the global generator; the
        generator's state after building is where training's sampling starts
        (``start_sampling``), so a run is the same whoever constructed what before."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
            self._sampling_state = torch.get_rng_state()

    def start_sampling(self) -> None:
        """Continue the torch generator where construction left it (a fresh training run)."""
        torch.set_rng_state(self._sampling_state)

    def tensors(self) -> dict[str, torch.Tensor]:
        flat = {
            f"{prefix}.{name}": value
            for prefix, module in self.modules().items()
            for name, value in module.state_dict().items()
        }
        return {**flat, **self.extra_tensors()}

    def metadata(self) -> dict[str, Any]:
        data = self.scenario.model_dump(mode="json")
        return {
            "policy": self.name,
            "config": asdict(self.config),
            "scenario": {"name": self.scenario.name, "sha256": scenario_hash(data), "data": data},
            **self.extra_meta(),
        }

    def save(self, path: str | Path) -> None:
        """Write ``path`` (tensors) and its ``.json`` sidecar."""
        save_policy(path, self.tensors(), self.metadata())

    def load(self, path: str | Path) -> None:
        """Load a policy file written by ``save`` (checked against this scenario)."""
        self.load_state(*load_policy(path))

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        check_compatible(
            meta, self.name, self.scenario.model_dump(mode="json"), self.compatible_fields
        )
        try:
            self.config = self.config_class(**meta["config"])
        except (TypeError, ValidationError) as error:
            said = error.errors()[0]["msg"] if isinstance(error, ValidationError) else error
            raise InvalidParameterError(
                "checkpoint", "its config", f"{self.config_class.__name__} fields ({said})"
            ) from None
        with torch.random.fork_rng(devices=[]):  # initialising layers must not move the generator
            self.build()
        for prefix, module in self.modules().items():
            state = {
                name.removeprefix(f"{prefix}."): value
                for name, value in tensors.items()
                if name.startswith(f"{prefix}.")
            }
            try:
                module.load_state_dict(state)
            except RuntimeError:
                raise InvalidParameterError(
                    "checkpoint", f"its {prefix} weights",
                    f"the shapes its config gives ({meta['config']}); is it from an older "
                    "edgesplit?",
                ) from None  # fmt: skip
        self.load_extra(tensors, meta)


def configured(config: Any, settings: dict[str, str]) -> Any:
    """``config`` (a learner's config dataclass) with fields set from text, parsed by pydantic
    as the fields' types (``edgesplit train --set imitation_steps=1000``)."""
    known = {field.name for field in fields(config)}
    for key in settings:
        if key not in known:
            raise InvalidParameterError(
                "--set", key, f"a field of {type(config).__name__}: {', '.join(sorted(known))}"
            )
    try:
        return TypeAdapter(type(config)).validate_python({**asdict(config), **settings})
    except ValidationError as error:
        key = str(error.errors()[0]["loc"][0])
        said = allowed_by(error, type(getattr(config, key)))
        raise InvalidParameterError(f"--set {key}", settings[key], said) from None
