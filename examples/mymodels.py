"""An own model for `edgesplit`: a small CNN with a residual block and a concatenation, so that
its cuts are not a chain (some send two tensors).

    edgesplit graph examples/mymodels.py:Net --input-shape 1,3,96,96
    edgesplit cuts examples/mymodels.py:Net:width=32 --input-shape 1,3,96,96
"""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """stem -> residual block (x + f(x)) -> two branches concatenated -> pooled classifier."""

    def __init__(self, width: int = 16, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU())
        self.residual = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width),
        )  # fmt: skip
        self.left = nn.Conv2d(width, width, 1)
        self.right = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.head = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = torch.relu(x + self.residual(x))
        x = torch.cat([self.left(x), self.right(x)], dim=1)
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
