"""A model whose middle waits, on a server's lane only, while a file exists: tests hold a tail on
the server at a known point (admitted, or queued behind it) without timing guesses, while the
same model runs freely on the device (a fallback included)."""

from __future__ import annotations

import multiprocessing
import os
import time

import torch
from torch import fx, nn

from edgesplit.runtime.server import LANE_NAME


def hold(x: torch.Tensor, path: str) -> torch.Tensor:
    """``x``, once ``path`` does not exist when run in a server's lane (traced as one call, run
    on every forward)."""
    if multiprocessing.current_process().name == LANE_NAME:
        while os.path.exists(path):
            time.sleep(0.001)
    return x


fx.wrap("hold")


class Gated(nn.Module):
    """conv -> hold -> conv -> pooled linear; cut between the convolutions to hold the tail."""

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.path = path
        self.first = nn.Conv2d(3, 8, 3, padding=1)
        self.second = nn.Conv2d(8, 8, 3, padding=1)
        self.head = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.first(x)
        x = hold(x, self.path)
        x = torch.relu(self.second(x))
        return self.head(x.mean(dim=(2, 3)))
