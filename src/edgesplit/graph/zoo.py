"""The models edgesplit knows by name (torchvision's classification models, built with random
weights, ``weights=None``, seeded, never downloaded) and user models named by import path."""

from __future__ import annotations

import ast
import contextlib
import difflib
import importlib
import importlib.util
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from edgesplit.checks import positive
from edgesplit.compress.prune import apply_variant, split_spec
from edgesplit.errors import InvalidParameterError, ModelLoadError, UnknownModelError
from edgesplit.graph.constants import DEFAULT_INPUT_SIZE, MIN_INPUT_SIZE

if TYPE_CHECKING:
    from edgesplit.graph.model_graph import ModelGraph

_MIN_SIZE_BY_MODEL = {"inception_v3": 75}


def list_models() -> list[str]:
    """Names of torchvision's classification models, sorted (torchvision is imported only
    here and in ``build_model``: a process running its own models never loads it)."""
    import torchvision

    return sorted(torchvision.models.list_models(module=torchvision.models))


def check_model_name(name: str) -> None:
    """Raise UnknownModelError (with close matches) unless ``name`` is a known model."""
    known = list_models()
    if name not in known:
        raise UnknownModelError(name, difflib.get_close_matches(name, known, n=3))


def build_model(name: str, seed: int = 0) -> nn.Module:
    """A torchvision classification model with seeded random weights, in eval mode."""
    import torchvision

    check_model_name(name)
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        torch.manual_seed(seed)
        # GoogLeNet and Inception v3 warn that their default init will change; it is irrelevant
        # for random weights.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        model = torchvision.models.get_model(name, weights=None)
    return model.eval()


def example_input(name: str, input_size: int = DEFAULT_INPUT_SIZE, seed: int = 0) -> torch.Tensor:
    """A seeded random image batch of one, shaped for ``name`` (1 x 3 x size x size)."""
    minimum = _MIN_SIZE_BY_MODEL.get(name, MIN_INPUT_SIZE)
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < minimum:
        raise InvalidParameterError(
            "input_size", input_size, f"an integer number of pixels >= {minimum} for {name}"
        )
    return random_input((1, 3, input_size, input_size), seed)


def random_input(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """A seeded standard-normal tensor of ``shape``."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def load_model(spec: str, seed: int = 0, example: torch.Tensor | None = None) -> nn.Module:
    """A zoo model by name, or a user model as ``file.py:factory`` or ``package.module:factory``,
    optionally with keyword arguments: ``file.py:factory:width=32,blocks=2``; either may name a
    compressed variant after ``@`` (``resnet34@structured-0.5``, ``edgesplit.compress.prune``),
    pruned on ``example`` (default: the model's example image).

    ``factory`` is an ``nn.Module`` subclass or a function returning a module, called with those
    arguments (Python literals; anything else is passed as a string) under
    ``torch.manual_seed(seed)``; an ``nn.Module`` instance is used as is.
    """
    if "@" in spec:
        # A variant is resolved by the compress layer: the one place the graph layer calls up,
        # because a pruned model's identity (and so its graph, profile and tables) is its spec.

        base, variant = split_spec(spec)
        model = load_model(base, seed)
        if example is None:
            example = spec_input(base, seed=seed)
        apply_variant(model, (example,), variant)
        return model
    if ":" not in spec:
        return build_model(spec, seed=seed)
    where, _, attribute = spec.rpartition(":")
    kwargs: dict[str, Any] = {}
    if "=" in attribute:
        kwargs = _keyword_arguments(attribute, spec)
        where, _, attribute = where.rpartition(":")
    elif ":" in where:  # FILE:FACTORY:ARGUMENTS without an argument's "="
        kwargs = _keyword_arguments(attribute, spec)  # raises, naming it
    module = _import(where, spec)
    if not hasattr(module, attribute):
        raise ModelLoadError(f"{where} has no attribute {attribute!r} (from {spec!r})")
    factory = getattr(module, attribute)
    if isinstance(factory, nn.Module):
        if kwargs:
            raise ModelLoadError(f"{spec}: {attribute} is a module instance; it takes no arguments")
        return factory.eval()
    if not callable(factory):
        raise ModelLoadError(
            f"{spec} is a {type(factory).__name__}, not a torch.nn.Module, a Module class or a "
            "function returning a module"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = factory(**kwargs)
        except (Exception, SystemExit) as error:
            raise ModelLoadError(f"calling {spec} failed: {_said(error)}") from None
    if not isinstance(model, nn.Module):
        raise ModelLoadError(f"{spec} returned a {type(model).__name__}, not a torch.nn.Module")
    return model.eval()


def _keyword_arguments(text: str, spec: str) -> dict[str, Any]:
    """``"width=32,name=a"`` -> {"width": 32, "name": "a"} (values read as Python literals)."""
    kwargs = {}
    for part in text.split(","):
        name, equals, value = part.partition("=")
        if not equals or not name.strip().isidentifier():
            raise ModelLoadError(
                f"{spec}: {part!r} is not a keyword argument (write name=value, comma-separated)"
            )
        try:
            kwargs[name.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            kwargs[name.strip()] = value.strip()
    return kwargs


def _import(where: str, spec: str):
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise ModelLoadError(f"no file {where!r} (from {spec!r})")
            module_spec = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules.setdefault(path.stem, module)
            module_spec.loader.exec_module(module)
            return module
        return importlib.import_module(where)
    except ModelLoadError:
        raise
    except (Exception, SystemExit) as error:  # a user's file may call exit() when imported
        raise ModelLoadError(f"cannot import {where!r} (from {spec!r}): {_said(error)}") from None


def _said(error: BaseException) -> str:
    """What a user's code raised, in one line (exit() and its status too)."""
    if isinstance(error, SystemExit):
        return f"it called exit({error.code!r})"
    return f"{type(error).__name__}: {error}"


def parse_input_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` -> (1, 3, 224, 224), or InvalidParameterError."""
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise InvalidParameterError(
            "--input-shape", text, "comma-separated positive integers, e.g. 1,3,224,224"
        )
    return shape


def spec_input(
    spec: str, input_size: int = DEFAULT_INPUT_SIZE, input_shape: str | None = None, seed: int = 0
) -> torch.Tensor:
    """The seeded example input of a model spec: ``input_shape`` such as "1,3,96,96" when
    given, else an image of ``input_size`` pixels (checked against a zoo model's minimum)."""
    base = spec.rpartition("@")[0] or spec  # a variant takes its base model's input
    if input_shape is not None:
        return random_input(parse_input_shape(input_shape), seed)
    if ":" in base:
        side = int(positive("--input-size", input_size))
        return random_input((1, 3, side, side), seed)
    return example_input(base, input_size, seed)


def load_traced(
    spec: str,
    granularity: str = "operator",
    input_size: int = DEFAULT_INPUT_SIZE,
    input_shape: str | None = None,
    seed: int = 0,
    parameters: Mapping[str, torch.Tensor] | None = None,
) -> tuple[nn.Module, torch.Tensor, ModelGraph]:
    """A model (a zoo name or ``file.py:factory`` / ``package.module:factory``), a seeded example
    input (``input_shape`` such as "1,3,96,96", else an image of ``input_size`` pixels) and its
    graph. ``parameters``: the model's state (``shared_state``'s) taken in place of the model's
    own before it is traced: the model then holds those tensors, not copies."""
    from edgesplit.graph.model_graph import ModelGraph

    x = spec_input(spec, input_size, input_shape, seed)
    model = load_model(spec, seed=seed, example=x)
    if parameters is not None:
        model.load_state_dict(parameters, assign=True)
    graph = ModelGraph.from_module(model, x, granularity, model_name=spec)
    _return_freed_memory()  # what building and tracing used (tens of MB on large models)
    return model, x, graph


def shared_state(
    spec: str, input_size: int = DEFAULT_INPUT_SIZE, input_shape: str | None = None
) -> dict[str, torch.Tensor]:
    """The state (parameters and buffers) of ``spec`` moved into shared memory, for processes
    that load the same model (``load_traced``'s ``parameters``): passed to a spawned process, a
    tensor travels as a file descriptor of memory no name refers to, so nothing is copied and
    nothing is left behind when the processes end."""
    model = load_model(spec, example=spec_input(spec, input_size, input_shape))
    state = {name: tensor.share_memory_() for name, tensor in model.state_dict().items()}
    del model
    _return_freed_memory()
    return state


def _return_freed_memory() -> None:
    """Hand the heap's free pages back to the system (glibc keeps the blocks a model's build and
    trace freed for reuse otherwise); nothing where the C library is not glibc."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
