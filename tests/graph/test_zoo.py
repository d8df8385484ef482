"""The named models: listing, seeded building, inputs, errors."""

from __future__ import annotations

import pytest
import torch
import torchvision

from edgesplit.errors import InvalidParameterError, UnknownModelError
from edgesplit.graph.constants import known_models
from edgesplit.graph.zoo import build_model, example_input, list_models, load_model


def test_lists_torchvision_classification_models():
    names = list_models()
    assert names == sorted(torchvision.models.list_models(module=torchvision.models))
    assert known_models() == names  # the shipped list `edgesplit models` prints
    assert {"resnet50", "googlenet", "mobilenet_v2", "vit_b_16"} <= set(names)
    assert "fasterrcnn_resnet50_fpn" not in names  # detection models are not classifiers


def test_same_seed_same_weights_and_input():
    a, b, c = (
        build_model("resnet18", seed=3),
        build_model("resnet18", seed=3),
        build_model("resnet18", seed=4),
    )
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    assert torch.equal(example_input("resnet18", 64, seed=1), example_input("resnet18", 64, seed=1))
    assert example_input("resnet18", 64).shape == (1, 3, 64, 64)
    assert not a.training


def test_building_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model("resnet18", seed=9)
    assert torch.equal(torch.rand(3), expected)


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match=r"unknown model 'resnet05'; did you mean resnet50"):
        build_model("resnet05")


@pytest.mark.parametrize(
    ("name", "size"), [("resnet18", 16), ("inception_v3", 64), ("resnet18", 64.0)]
)
def test_too_small_or_non_integer_inputs(name, size):
    with pytest.raises(InvalidParameterError, match="input_size="):
        example_input(name, size)


def test_load_model_by_name_or_import_path():
    by_name = load_model("resnet18", seed=2)
    by_path = load_model("torchvision.models:resnet18", seed=2)
    assert torch.equal(by_name.conv1.weight, by_path.conv1.weight)
    assert not by_path.training


def test_a_factory_takes_keyword_arguments():
    from pathlib import Path

    from edgesplit.errors import ModelLoadError

    examples = Path(__file__).resolve().parent.parent.parent / "examples" / "mymodels.py"
    assert load_model(f"{examples}:Net").stem[0].out_channels == 16
    wide = load_model(f"{examples}:Net:width=32,classes=5")
    assert wide.stem[0].out_channels == 32 and wide.head.out_features == 5
    with pytest.raises(ModelLoadError, match="not a keyword argument"):
        load_model(f"{examples}:Net:width=32,5")
    with pytest.raises(ModelLoadError, match="unexpected keyword argument 'depth'"):
        load_model(f"{examples}:Net:depth=3")
