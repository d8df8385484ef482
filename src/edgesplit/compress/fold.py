"""Batch-normalisation folding: an inference-time BatchNorm after a convolution (or a linear
layer) is an affine map per channel, so it folds into that layer's weights and bias and the
model runs one operator fewer per pair, with the same outputs up to float rounding.

``fold_batchnorm`` rewrites a torch.fx GraphModule: every ``BatchNorm1d/2d/3d`` module whose
input is a ``Conv1d/2d/3d`` (or a ``Linear`` for ``BatchNorm1d``) that nothing else reads is
replaced by one fused layer (PyTorch's ``torch.nn.utils.fusion`` does the arithmetic). It works
on whole traced models and on the heads and tails ``graph.split`` makes, so the runtime folds
each side after splitting and the cut numbering (which counts the BatchNorm nodes) is the
traced graph's on both sides: a pair that a cut separates stays unfolded. The module given is
left unchanged (its submodules are shared with the model it came from): fused layers are new
submodules of a copy.
"""

from __future__ import annotations

import copy

from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

_PAIRS = (
    (nn.Conv1d, nn.BatchNorm1d),
    (nn.Conv2d, nn.BatchNorm2d),
    (nn.Conv3d, nn.BatchNorm3d),
    (nn.Linear, nn.BatchNorm1d),
)


def _foldable(layer: nn.Module, norm: nn.Module) -> bool:
    """A pair in eval mode whose BatchNorm keeps running statistics (in training mode, or
    without them, it normalises each batch by itself, which no weights can express)."""
    if not any(isinstance(layer, a) and type(norm) is b for a, b in _PAIRS):
        return False
    trained = norm.track_running_stats and norm.running_mean is not None
    return trained and not (layer.training or norm.training)


def fold_batchnorm(module: fx.GraphModule) -> tuple[fx.GraphModule, int]:
    """A copy of ``module`` with every foldable layer + BatchNorm pair (both in eval mode, as
    ``graph.split``'s halves are) fused, and the number of pairs folded."""
    folded = fx.GraphModule(module, copy.deepcopy(module.graph))
    folded.training = module.training
    count = 0
    for node in list(folded.graph.nodes):
        source = node.args[0] if node.op == "call_module" and node.args else None
        if not (
            isinstance(source, fx.Node)
            and source.op == "call_module"
            and len(source.users) == 1
            and _foldable(folded.get_submodule(source.target), folded.get_submodule(node.target))
        ):
            continue
        layer, norm = folded.get_submodule(source.target), folded.get_submodule(node.target)
        fuse = fuse_linear_bn_eval if isinstance(layer, nn.Linear) else fuse_conv_bn_eval
        name = f"{source.target.replace('.', '_')}_folded"
        folded.add_submodule(name, fuse(layer, norm))
        source.target = name
        node.replace_all_uses_with(source)
        folded.graph.erase_node(node)
        count += 1
    folded.graph.lint()
    folded.delete_all_unused_submodules()
    folded.recompile()
    return folded, count
