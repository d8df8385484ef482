"""Transition storage the learners share: arrays (so that a checkpoint can hold them), a replay
ring for off-policy learners and a rollout for on-policy ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from edgesplit.errors import InvalidParameterError

Spec = dict[str, tuple[tuple[int, ...], type]]


class ArrayBuffer:
    """``capacity`` rows of named arrays (``spec``: name -> (row shape, dtype))."""

    def __init__(self, capacity: int, spec: Spec) -> None:
        self.capacity, self.added = capacity, 0
        self.arrays = {
            key: np.zeros((capacity, *shape), dtype) for key, (shape, dtype) in spec.items()
        }

    def _write(self, row: int, values: dict[str, Any]) -> None:
        for key, value in values.items():
            self.arrays[key][row] = value

    def state_dict(self) -> dict[str, Any]:
        return {"arrays": self.arrays, "added": self.added}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """A checkpoint's arrays, refused unless they have this buffer's fields and shapes (a
        checkpoint of another edgesplit version or config)."""
        arrays = {key: np.asarray(value) for key, value in state["arrays"].items()}
        expected = {key: value.shape for key, value in self.arrays.items()}
        found = {key: value.shape for key, value in arrays.items()}
        if found != expected:
            keys = set(found) | set(expected)
            differ = sorted(k for k in keys if found.get(k) != expected.get(k))
            raise InvalidParameterError(
                "checkpoint", "its buffer",
                f"the fields and shapes this learner stores (they differ in {', '.join(differ)}: "
                "written by another edgesplit version; start the run again)",
            )  # fmt: skip
        self.arrays = arrays
        self.added = int(state["added"])


class ReplayBuffer(ArrayBuffer):
    """Uniform experience replay: a ring of ``capacity`` transitions."""

    @property
    def size(self) -> int:
        return min(self.added, self.capacity)

    def add(self, **values: Any) -> None:
        self._write(self.added % self.capacity, values)
        self.added += 1

    def sample(self, rng: np.random.Generator, batch: int) -> dict[str, torch.Tensor]:
        index = rng.integers(0, self.size, batch)
        return {key: torch.as_tensor(value[index]) for key, value in self.arrays.items()}


class RolloutBuffer(ArrayBuffer):
    """One on-policy rollout of ``capacity`` consecutive transitions."""

    @property
    def full(self) -> bool:
        return self.added == self.capacity

    def add(self, **values: Any) -> None:
        self._write(self.added, values)
        self.added += 1

    def clear(self) -> None:
        self.added = 0
