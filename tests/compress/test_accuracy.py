"""Accuracy on scikit-learn's digits: a real trained model, real pruning, real codecs."""

import json

import pytest
import torch

from edgesplit.compress.accuracy import (
    DigitsNet,
    accuracy_vs_codec,
    accuracy_vs_pf,
    digits_data,
    digits_model,
    digits_subset,
    evaluate,
    shipped_digits_path,
    topk_accuracy,
    trained_digits_model,
)
from edgesplit.errors import InvalidParameterError


@pytest.fixture(scope="module")
def trained():
    return trained_digits_model(seed=0, epochs=12)


def test_topk_against_a_hand_count():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.5], [0.2, 0.3, 0.4]])
    labels = torch.tensor([1, 2, 0])
    assert topk_accuracy(logits, labels, 1) == pytest.approx(1 / 3)
    assert topk_accuracy(logits, labels, 2) == pytest.approx(2 / 3)
    assert topk_accuracy(logits, labels, 3) == 1.0


def test_data_is_seeded_and_stratified():
    first, again, other = digits_data(0), digits_data(0), digits_data(1)
    assert torch.equal(first.x_test, again.x_test)
    assert not torch.equal(first.x_test, other.x_test)
    assert len(first.y_train) + len(first.y_test) == 1797
    counts = torch.bincount(first.y_test, minlength=10)
    assert counts.min() >= 43 and counts.max() <= 46  # a quarter of each class's ~180


def test_training_is_real_and_reproducible(trained):
    model, data = trained
    top1, top3 = evaluate(model, data)
    assert top1 > 0.93 and top3 >= top1
    untrained = evaluate(DigitsNet().eval(), data)[0]
    assert untrained < 0.3
    again, _ = trained_digits_model(seed=0, epochs=12)
    with torch.no_grad():
        assert torch.equal(again(data.x_test), model(data.x_test))


def test_pruning_costs_accuracy_and_fine_tuning_wins_it_back(trained):
    model, data = trained
    reference = evaluate(model, data)
    structured = accuracy_vs_pf(model, data, "structured", [0.0, 0.7])
    assert (structured[0].top1, structured[0].top3) == reference  # pf 0 is the model itself
    assert structured[1].top1 < reference[0] - 0.1  # 70 % of channels gone hurts
    assert structured[1].nonzero_params < 0.2 * structured[0].nonzero_params
    tuned = accuracy_vs_pf(model, data, "structured", [0.7], finetune_epochs=4)[0]
    assert tuned.top1 > structured[1].top1 + 0.1
    unstructured = accuracy_vs_pf(model, data, "unstructured", [0.5], finetune_epochs=2)[0]
    # fine-tuning keeps the pruned weights at zero
    assert unstructured.nonzero_params < 0.6 * structured[0].nonzero_params


def test_codecs_per_cut(trained):
    model, data = trained
    reference = evaluate(model, data)
    rows = accuracy_vs_codec(model, data, ["fp32", "int8", "int1"])
    cuts = sorted({r.cut for r in rows})
    assert len(cuts) >= 5
    by = {(r.cut, r.codec): r for r in rows}
    for cut in cuts:
        # fp32 through the split model is the unsplit model, exactly
        assert (by[cut, "fp32"].top1, by[cut, "fp32"].top3) == reference
        assert abs(by[cut, "int8"].top1 - reference[0]) <= 0.02
        assert by[cut, "int8"].transfer_bits < by[cut, "fp32"].transfer_bits / 3.5
    # one bit per element destroys the early feature maps
    assert min(by[cut, "int1"].top1 for cut in cuts) < reference[0] - 0.2


def test_training_does_not_depend_on_the_callers_threads():
    from edgesplit.graph.trace import torch_threads

    with torch_threads(2):
        two, data = trained_digits_model(seed=3, epochs=2)
    with torch_threads(1):
        one, _ = trained_digits_model(seed=3, epochs=2)
    with torch.no_grad():
        assert torch.equal(one(data.x_test), two(data.x_test))


def test_the_shipped_weights_measure_what_their_sidecar_says():
    """The digits model the experiments measure comes from shipped safetensors weights (the same
    on every CPU): it loads into a DigitsNet and scores the sidecar's test accuracy (an image
    or two may flip on another CPU's arithmetic); without shipped weights the model is trained
    here, the same as ``trained_digits_model``."""
    path = shipped_digits_path(0, 40)
    sidecar = json.loads(path.with_suffix(".json").read_text())
    model, data = digits_model(0, 40)
    top1, top3 = evaluate(model, data)
    assert abs(top1 - sidecar["test_top1"]) <= 2 / len(data.y_test)
    assert abs(top3 - sidecar["test_top3"]) <= 2 / len(data.y_test)
    assert not shipped_digits_path(3, 2).exists()
    mine, _ = digits_model(3, 2)
    theirs, _ = trained_digits_model(3, 2)
    for key, value in mine.state_dict().items():
        assert torch.equal(value, theirs.state_dict()[key])


def test_a_subset_keeps_every_class_in_proportion_and_the_test_images():
    data = digits_data(0)
    subset = digits_subset(data, 200, seed=1)
    counts = torch.bincount(subset.y_train, minlength=10)
    share = torch.bincount(data.y_train, minlength=10) / len(data.y_train)
    assert len(subset.y_train) == 200 and (counts - 200 * share).abs().max() <= 1
    assert torch.equal(subset.x_test, data.x_test)
    rows = {tuple(x.flatten().tolist()) for x in data.x_train}
    assert all(tuple(x.flatten().tolist()) in rows for x in subset.x_train)
    assert digits_subset(data, len(data.y_train)) is data
    with pytest.raises(InvalidParameterError, match="samples"):
        digits_subset(data, 5)


def test_the_network_without_batchnorm_is_the_same_but_its_norms():
    with_norm, without = DigitsNet(), DigitsNet(batchnorm=False)
    norms = [m for m in with_norm.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 3 and not any(
        isinstance(m, torch.nn.BatchNorm2d) for m in without.modules()
    )
    assert sum(p.numel() for p in with_norm.parameters()) - sum(
        p.numel() for p in without.parameters()
    ) == sum(p.numel() for m in norms for p in m.parameters())
    assert without(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_the_input_as_a_file_png_is_lossless_and_jpeg_grows_with_quality():
    """PNG decodes to the raw 8-bit image (so both score alike); raw 8-bit is 8 bits per
    pixel; JPEG files grow with their quality; MobileNet-V2's inputs are resized copies."""
    from edgesplit.compress.accuracy import accuracy_vs_input_codec

    model, data = digits_model()
    rows = {r.method: r for r in accuracy_vs_input_codec(model, data, [10, 95])}
    assert rows["raw8"].transfer_bits == 8 * 8 * 8
    assert (rows["png"].top1, rows["png"].top3) == (rows["raw8"].top1, rows["raw8"].top3)
    assert abs(rows["raw8"].top1 - evaluate(model, data)[0]) <= 1 / len(data.y_test)
    assert rows["jpeg-q10"].transfer_bits < rows["jpeg-q95"].transfer_bits
    big = digits_data(0, "mobilenet_v2")
    assert big.x_test.shape[1:] == (3, 32, 32)
    assert torch.equal(big.x_test[:, 0], big.x_test[:, 2]) and torch.equal(big.y_test, data.y_test)


def test_dropout_in_training_is_seeded_and_leaves_the_callers_generator_alone():
    """A model with dropout (MobileNet-V2 has one) trains to the same weights whatever torch's
    global generator held, and training does not move that generator."""
    from torch import nn

    from edgesplit.compress.accuracy import train

    data = digits_data(0)

    def trained(state: int) -> nn.Module:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Dropout(0.5), nn.Linear(32, 10))
        torch.manual_seed(state)
        before = torch.random.get_rng_state()
        train(model, data, 1, seed=5)
        assert torch.equal(torch.random.get_rng_state(), before)
        return model

    first, second = trained(1), trained(2)
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key])
