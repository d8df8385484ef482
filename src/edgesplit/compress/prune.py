"""Pruning at a pruning factor pf: structured (whole channels removed by Torch-Pruning's DepGraph,
so MACs, latency and the tensors a cut sends shrink) or unstructured (the smallest-magnitude
weights set to zero by ``torch.nn.utils.prune``: dense kernels get no faster, but the model
travels smaller in a sparse encoding, ``compress.sparse``).

A model spec names a variant after ``@``: ``resnet34@structured-0.5``. The graph layer resolves
such specs through :func:`apply_variant` (pruning is deterministic: L1 magnitude on the seeded
model), so a pruned model flows through ``ModelGraph``, cuts, profiles, cost tables and the
runtime under its own name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from edgesplit.errors import (
    CompressionError,
    InvalidInputError,
    InvalidParameterError,
    describe,
)
from edgesplit.graph.trace import normalize_inputs
from edgesplit.vocabulary import PRUNE_METHODS

PRUNE_SCOPES = ("global", "layer")
_PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def check_pf(pf: float, field: str = "pf") -> float:
    """``pf`` as a float in [0, 1), or InvalidParameterError naming ``field``."""
    if isinstance(pf, bool) or not isinstance(pf, int | float) or not 0.0 <= float(pf) < 1.0:
        raise InvalidParameterError(field, pf, "a pruning factor in [0, 1), e.g. 0.5")
    return float(pf)


@dataclass(frozen=True)
class Variant:
    """A compression of a model: ``method`` (``PRUNE_METHODS``) at pruning factor ``pf``.

    Structured: ``pf`` is the share of channels removed from every prunable layer (Torch-Pruning's
    ``pruning_ratio``; parameters fall roughly as (1 - pf)^2). Unstructured: the share of weights
    of the convolution and linear layers set to zero (chukhno2023's magnitude pruning).
    """

    method: str
    pf: float

    def __post_init__(self) -> None:
        if self.method not in PRUNE_METHODS:
            raise InvalidParameterError("method", self.method, " or ".join(PRUNE_METHODS))
        check_pf(self.pf)

    def __str__(self) -> str:
        return f"{self.method}-{self.pf:g}"

    @classmethod
    def parse(cls, text: str) -> Variant:
        """``structured-0.5`` -> Variant("structured", 0.5)."""
        method, _, value = text.rpartition("-")
        try:
            pf = float(value)
        except ValueError:
            raise InvalidParameterError(
                "model variant", text, "METHOD-PF, e.g. structured-0.5 or unstructured-0.7"
            ) from None
        return cls(method, pf)


def split_spec(spec: str) -> tuple[str, Variant | None]:
    """``"resnet34@structured-0.5"`` -> ("resnet34", Variant); a spec without ``@`` -> (spec,
    None)."""
    if "@" not in spec:
        return spec, None
    base, _, variant = spec.rpartition("@")
    return base, Variant.parse(variant)


def apply_variant(model: nn.Module, example: tuple[torch.Tensor, ...], variant: Variant) -> float:
    """Prune ``model`` in place as ``variant`` says; returns the pruning time in seconds."""
    start = time.perf_counter()
    if variant.method == "structured":
        prune_structured(model, example, variant.pf)
    else:
        prune_unstructured(model, variant.pf)
    return time.perf_counter() - start


def run_example(model: nn.Module, example: tuple[torch.Tensor, ...]):
    """``model``'s answer to ``example``, or InvalidInputError when the input does not fit."""
    try:
        with torch.no_grad():
            return model(*example)
    except Exception as error:  # any error of the user's forward: the input does not fit it
        shapes = ", ".join(str(tuple(x.shape)) for x in example)
        raise InvalidInputError(
            f"{type(model).__name__} does not run on an input of shape {shapes}: "
            f"{describe(error)} (set the input shape)"
        ) from None


def output_layers(model: nn.Module, example: tuple[torch.Tensor, ...]) -> list[nn.Module]:
    """The convolution and linear layers whose outputs are the model's output channels (the
    classifier): pruning them would change what the model answers, so they are kept whole."""
    output = run_example(model, example)
    if not isinstance(output, torch.Tensor) or output.dim() < 2:
        return []
    classes = output.shape[1]
    return [
        module
        for module in model.modules()
        if isinstance(module, _PRUNABLE) and _out_channels(module) == classes
    ]


def _out_channels(module: nn.Module) -> int:
    return module.out_features if isinstance(module, nn.Linear) else module.out_channels


def prune_structured(
    model: nn.Module, example: tuple[torch.Tensor, ...] | torch.Tensor, pf: float
) -> nn.Module:
    """Remove the share ``pf`` of channels of every prunable layer, by L1 magnitude, with
    Torch-Pruning's dependency graph (residual adds and concatenations pruned consistently);
    the output layers stay whole. The model changes in place and is returned in eval mode.

    A model Torch-Pruning cannot follow, or one that no longer runs or answers in the same shape
    afterwards (a hard-coded channel count in ``forward``), raises CompressionError naming the
    layer where it can."""
    import torch_pruning as tp

    pf = check_pf(pf)
    example = normalize_inputs(example)
    model.eval()
    reference = run_example(model, example)
    if pf == 0.0:
        return model
    kept = output_layers(model, example)
    prunable = [m for m in model.modules() if isinstance(m, _PRUNABLE) and m not in kept]
    if not prunable:
        raise CompressionError(
            f"{type(model).__name__} has no convolution or linear layer to prune structurally "
            "other than its output layer"
        )
    try:
        pruner = tp.pruner.MetaPruner(
            model,
            example,
            importance=tp.importance.MagnitudeImportance(p=1),
            pruning_ratio=pf,
            ignored_layers=kept,
        )
        pruner.step()
    except Exception as error:  # Torch-Pruning's own errors carry no common type
        raise CompressionError(
            f"Torch-Pruning cannot prune {type(model).__name__} structurally: {describe(error)}"
        ) from None
    _check_still_runs(model, example, reference)
    return model.eval()


def _check_still_runs(
    model: nn.Module, example: tuple[torch.Tensor, ...], reference: torch.Tensor
) -> None:
    where: list[str] = []  # "in layer 'x'" while x runs, "right after layer 'x'" once it is done

    def entering(name: str):
        def hook(module, inputs):
            where[:] = [f"in layer {name!r}"]

        return hook

    def leaving(name: str):
        def hook(module, inputs, output):
            where[:] = [f"right after layer {name!r}"]

        return hook

    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(entering(name)))
            handles.append(module.register_forward_hook(leaving(name)))
    try:
        with torch.no_grad():
            output = model(*example)
    except Exception as error:
        place = where[0] if where else "before its first layer"
        raise CompressionError(
            f"after structured pruning {type(model).__name__} fails {place}: "
            f"{describe(error)} (its forward fixes a channel count "
            "that pruning changed; prune it unstructured instead)"
        ) from None
    finally:
        for handle in handles:
            handle.remove()
    if isinstance(reference, torch.Tensor) and tuple(output.shape) != tuple(reference.shape):
        raise CompressionError(
            f"after structured pruning {type(model).__name__} answers in shape "
            f"{tuple(output.shape)} instead of {tuple(reference.shape)}: its output comes from a "
            "layer pruning cannot tell apart from the rest"
        )


def prune_unstructured(model: nn.Module, pf: float, scope: str = "global") -> nn.Module:
    """Set the share ``pf`` of the weights of every convolution and linear layer to zero, by
    magnitude: over all layers at once (``global``, ``torch.nn.utils.prune.global_unstructured``)
    or per layer (``layer``). The pruning is made permanent (no masks or hooks left)."""
    from torch.nn.utils import prune

    pf = check_pf(pf)
    if scope not in PRUNE_SCOPES:
        raise InvalidParameterError("scope", scope, " or ".join(PRUNE_SCOPES))
    layers = [(m, "weight") for m in model.modules() if isinstance(m, _PRUNABLE)]
    if not layers:
        raise CompressionError(f"{type(model).__name__} has no convolution or linear layer")
    if pf > 0.0:
        if scope == "global":
            prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=pf)
        else:
            for module, name in layers:
                prune.l1_unstructured(module, name, amount=pf)
        for module, name in layers:
            prune.remove(module, name)
    return model.eval()


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(parameters, non-zero parameters)."""
    total = sum(p.numel() for p in model.parameters())
    nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    return total, nonzero
