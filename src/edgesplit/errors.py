"""Exceptions raised by edgesplit.

Every message names the offending field or value and what is allowed, so that the CLI can print it
as is (one line, no traceback) and a library user can catch a precise type.
"""

from __future__ import annotations


class EdgesplitError(Exception):
    """Base class of every error edgesplit raises on purpose."""


class InvalidParameterError(EdgesplitError, ValueError):
    """A numeric or categorical parameter is outside its allowed range."""

    def __init__(self, field: str, value: object, allowed: str) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        super().__init__(f"{field}={value!r} is invalid: {allowed}")


class UnknownModelError(EdgesplitError, KeyError):
    """A model name that the model zoo does not know."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown model {name!r}{hint} (`edgesplit models` lists the known ones)")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class ModelLoadError(EdgesplitError):
    """A user model named by import path could not be imported or built."""


class UntraceableModelError(EdgesplitError):
    """Neither torch.fx nor torch.export could turn the model into a graph."""


class InvalidInputError(EdgesplitError, ValueError):
    """The example input does not fit the model (shape, dtype or type)."""


class CutIndexError(EdgesplitError, IndexError):
    """A cut index outside 0..S - 1."""

    def __init__(self, index: object, count: int) -> None:
        self.index = index
        self.count = count
        super().__init__(f"cut index {index!r} is out of range: this graph has cuts 0..{count - 1}")


class CutLimitExceededError(EdgesplitError):
    """Enumerating every cut would exceed the caller's limit."""


class InvalidCutError(EdgesplitError, ValueError):
    """A set of device nodes that is not a valid cut (not closed under predecessors)."""


class ModelMismatchError(EdgesplitError, ValueError):
    """A model passed to split() does not match the graph it is split along."""


class ProfileError(EdgesplitError):
    """A latency profile is missing, corrupted, or lacks what was asked of it."""


class ProfileMismatchError(ProfileError):
    """A profile describes another model or input than the graph it is used with."""


class DeviceUnavailableError(EdgesplitError):
    """A processor was requested that this machine does not have (CUDA without a GPU)."""


class ScenarioError(EdgesplitError, ValueError):
    """A scenario file or preset that is not valid (the message names the field)."""


class CompressionError(EdgesplitError):
    """A model cannot be compressed as asked (a layer that blocks structured pruning, a
    quantization backend this machine lacks)."""


def describe(error: BaseException) -> str:
    """An error as one line: its type and the first line of its message (what a one-line
    refusal quotes of a library's own error)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".strip()
