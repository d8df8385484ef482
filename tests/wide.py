"""A model with many parallel branches: its cuts explode (2**branches), its graph stays tiny."""

from __future__ import annotations

import torch
from torch import nn


class WideModel(nn.Module):
    def __init__(self, branches: int = 20) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Linear(4, 4) for _ in range(branches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.branches], dim=1)
