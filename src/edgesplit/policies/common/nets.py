"""Network building blocks the learners share."""

from __future__ import annotations

from torch import nn


def mlp(
    sizes: list[int], activation: type[nn.Module] = nn.ReLU, activate_last: bool = False
) -> nn.Sequential:
    """Linear layers ``sizes[0] -> sizes[1] -> ...`` with ``activation`` between them (and after
    the last one when ``activate_last``)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if activate_last or i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)
