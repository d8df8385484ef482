"""Shared fixtures: the test models, traced once per session and worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from edgesplit.graph import ModelGraph
from edgesplit.graph.zoo import build_model, example_input

# The models the graph issue names; splits are checked on 64 x 64 inputs (cut structure does not
# depend on the input size, and the forward passes stay cheap).
TEST_MODELS = (
    "alexnet",
    "vgg16_bn",
    "resnet34",
    "resnet50",
    "resnet152",
    "mobilenet_v2",
    "googlenet",
    "densenet121",
)
SMALL_INPUT = 64


def pytest_configure(config: pytest.Config) -> None:
    # One thread per pytest-xdist worker: the workers already use both cores.
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The runtime tests first: they start real processes and wait on them, so starting them
    early lets the quick tests fill the workers meanwhile instead of leaving one worker on a
    long run at the end (order within each group kept, the same in every xdist worker)."""
    items.sort(key=lambda item: "tests/runtime/" not in item.nodeid)


ZooEntry = tuple[nn.Module, torch.Tensor, ModelGraph]


@pytest.fixture(scope="session")
def zoo() -> Callable[..., ZooEntry]:
    """``zoo(name, granularity="operator", size=64)`` -> (model, input, graph), cached."""
    models: dict[str, nn.Module] = {}
    graphs: dict[tuple[str, str, int], ZooEntry] = {}

    def get(name: str, granularity: str = "operator", size: int = SMALL_INPUT) -> ZooEntry:
        key = (name, granularity, size)
        if key not in graphs:
            model = models.setdefault(name, build_model(name))
            x = example_input(name, size)
            graphs[key] = (model, x, ModelGraph.from_module(model, x, granularity, model_name=name))
        return graphs[key]

    return get
