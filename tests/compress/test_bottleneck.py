"""Learned bottlenecks at a cut: the entropy coder against the prior's closed form, training
that is real, seeded and resumable, and files that load without running code."""

import json

import numpy as np
import pytest
import torch
from scipy.stats import norm

from edgesplit.compress import distill
from edgesplit.compress.accuracy import digits_model, evaluate
from edgesplit.compress.bottleneck import (
    RANGE,
    SYMBOL_BOUND,
    ZSTD,
    Bottleneck,
    BottleneckConfig,
    BottleneckInfo,
    decode_latents,
    encode_latents,
    file_pair,
    load_bottleneck,
    range_words,
    save_bottleneck,
    zstd_symbols,
)
from edgesplit.compress.distill import (
    bottleneck_halves,
    bottleneck_split,
    score_bottleneck,
    train_bottleneck,
    tuned_parameters,
)
from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph

CUT = 3  # the DigitsNet's first ReLU: 32 x 8 x 8 crosses


@pytest.fixture(scope="module")
def digits():
    model, data = digits_model()
    graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name="digits")
    return model, graph, data


def _prior_bottleneck(means, scales) -> Bottleneck:
    bottleneck = Bottleneck(8, 4, 4, BottleneckConfig(latent_channels=len(means)))
    with torch.no_grad():
        bottleneck.prior_mean.copy_(torch.tensor(means))
        bottleneck.prior_log_scale.copy_(torch.tensor(scales).log())
    return bottleneck


def test_the_coder_is_lossless_and_as_short_as_the_priors_closed_form():
    bottleneck = _prior_bottleneck([0.0, 2.5, -1.0], [0.6, 3.0, 12.0])
    rng = np.random.default_rng(0)
    draws = rng.normal([0.0, 2.5, -1.0], [0.6, 3.0, 12.0], size=(5, 4, 4, 3)).transpose(0, 3, 1, 2)
    latents = torch.from_numpy(np.rint(draws)).to(torch.int32)
    payload = range_words(bottleneck, latents)
    assert torch.equal(decode_latents(bottleneck, bytes([RANGE]) + payload, 5), latents)
    # scipy's normal CDF, not the module's: the ideal length of these symbols under the prior
    mean = np.array([0.0, 2.5, -1.0])[None, :, None, None]
    scale = np.array([0.6, 3.0, 12.0])[None, :, None, None]
    symbols = latents.numpy()
    ideal = -np.log2(
        norm.cdf((symbols + 0.5 - mean) / scale) - norm.cdf((symbols - 0.5 - mean) / scale)
    )
    with torch.no_grad():
        bits = float(bottleneck.bits(latents.float()).sum())
    assert bits == pytest.approx(ideal.sum(), rel=1e-4)
    # range coding: within two 32-bit words of state and a fraction of a percent of the ideal
    assert ideal.sum() <= 8 * len(payload) <= ideal.sum() * 1.01 + 64


def test_latents_beyond_the_bound_are_clipped_and_still_coded():
    bottleneck = _prior_bottleneck([0.0], [1.0])
    huge = torch.full((1, 8, 4, 4), 1e6)
    with torch.no_grad():
        bottleneck.encoder[2].bias.fill_(1e6)
        latents = bottleneck.quantize(huge)
    assert int(latents.max()) == SYMBOL_BOUND
    assert torch.equal(decode_latents(bottleneck, encode_latents(bottleneck, latents), 1), latents)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"", "tag none"),
        (b"\x00", "non-empty whole number"),
        (b"\x00\x01\x02\x03", "non-empty whole number"),
        (b"\x00" + b"\xff" * 404, "coder words"),  # no stream the prior could have made
    ],
)
def test_malformed_words_are_refused_by_name(payload, expected):
    bottleneck = _prior_bottleneck([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(InvalidParameterError, match=expected):
        decode_latents(bottleneck, payload, 1)


def test_a_stream_for_more_images_is_refused():
    bottleneck = _prior_bottleneck([0.0, 0.0], [2.0, 2.0])
    two = torch.zeros((2, 2, 4, 4), dtype=torch.int32)
    words = bytes([RANGE]) + range_words(bottleneck, two)
    with pytest.raises(InvalidParameterError, match="exactly the latents of 1"):
        decode_latents(bottleneck, words, 1)


def test_a_cut_where_several_values_cross_is_refused():
    import torchvision

    model = torchvision.models.resnet18(weights=None).eval()
    graph = ModelGraph.from_module(model, torch.zeros(1, 3, 32, 32), "operator", model_name="r18")
    inside_a_block = next(c for c in graph.cuts() if len(c.crossing) == 2)
    with pytest.raises(InvalidParameterError, match="sends 2 value"):
        bottleneck_halves(model, graph, inside_a_block.index)
    with pytest.raises(InvalidParameterError, match="sends 0 value"):
        bottleneck_halves(model, graph, len(graph.cuts()) - 1)


def test_config_is_checked_by_name():
    with pytest.raises(InvalidParameterError, match="stride"):
        BottleneckConfig(stride=3)
    with pytest.raises(InvalidParameterError, match="latent_channels"):
        BottleneckConfig(latent_channels=0)
    with pytest.raises(InvalidParameterError, match="rate_weight"):
        BottleneckConfig(rate_weight=-1.0)


def test_training_keeps_accuracy_and_the_rate_weight_buys_bits(digits):
    model, graph, data = digits
    head, _, _ = bottleneck_halves(model, graph, CUT)
    teacher = evaluate(model, data)[0]
    scores = {}
    for weight in (0.0, 0.03):
        config = BottleneckConfig(
            latent_channels=2, hidden_channels=16, stride=2, rate_weight=weight, epochs=4,
            batch=16, lr=5e-3,
        )  # fmt: skip
        bottleneck, tail = train_bottleneck(model, graph, CUT, data, config, progress=False)
        scores[weight] = score_bottleneck(head, bottleneck, tail, data)
    for score in scores.values():
        assert score.top1 >= teacher - 0.15  # 4 epochs on 32 latents keep most answers
        assert score.ideal_bits <= score.range_bits <= score.ideal_bits + 64
        assert score.coded_bits <= min(score.range_bits, score.zstd_bits) + 8  # the tag byte
        assert score.range_bits < score.zstd_bits  # on 8x8 maps the learned prior wins
    fp32_bits = 32 * 32 * 8 * 8
    assert scores[0.0].coded_bits < fp32_bits / 50
    assert scores[0.03].coded_bits < 0.8 * scores[0.0].coded_bits


def test_training_resumes_to_the_weights_of_an_uninterrupted_run(digits, tmp_path, monkeypatch):
    model, graph, data = digits
    config = BottleneckConfig(latent_channels=2, hidden_channels=8, stride=2, epochs=3)
    straight, _ = train_bottleneck(model, graph, CUT, data, config, progress=False)
    stem = tmp_path / "run"
    save = distill._save

    def interrupted(*args):  # Ctrl-C right after the first epoch's checkpoint
        save(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(distill, "_save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_bottleneck(model, graph, CUT, data, config, checkpoint=stem, progress=False)
    monkeypatch.setattr(distill, "_save", save)
    assert json.loads(file_pair(stem)[1].read_text())["epochs_done"] == 1
    resumed, _ = train_bottleneck(model, graph, CUT, data, config, checkpoint=stem, progress=False)
    for key, value in straight.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key
    other = BottleneckConfig(latent_channels=2, hidden_channels=8, stride=2, epochs=4)
    with pytest.raises(InvalidParameterError, match="delete it or name another"):
        train_bottleneck(model, graph, CUT, data, other, checkpoint=stem, progress=False)


def test_a_fine_tuned_tail_travels_with_the_bottleneck_and_loads_without_code(digits, tmp_path):
    model, graph, data = digits
    config = BottleneckConfig(latent_channels=2, hidden_channels=8, epochs=1, finetune=True)
    bottleneck, tail = train_bottleneck(model, graph, CUT, data, config, progress=False)
    _, own_tail, shape = bottleneck_halves(model, graph, CUT)
    own = own_tail.state_dict()
    changed = {k for k, v in tail.state_dict().items() if not torch.equal(v, own[k])}
    tuned = tuned_parameters(tail)
    # the BatchNorm scales and shifts and the biases moved; the weights and statistics did not
    assert changed == set(tuned) and all(own[k].dim() == 1 for k in changed)
    info = BottleneckInfo(
        "test", "digits", (1, 1, 8, 8), "layer", CUT, graph.fx_key(graph.cut(CUT)), shape, config
    )
    path = save_bottleneck(tmp_path / "b-r0.5", bottleneck, info, tuned)  # a dot in the name
    assert path.name == "b-r0.5.safetensors"
    loaded, loaded_info, tail_state = load_bottleneck(path)
    assert loaded_info == info and set(tail_state) == set(tuned)
    for key, value in tuned.items():
        assert torch.equal(tail_state[key], value)
    crossing = torch.randn(3, *shape)
    with torch.no_grad():
        assert torch.equal(
            loaded.synthesize(loaded.quantize(crossing)),
            bottleneck.synthesize(bottleneck.quantize(crossing)),
        )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    *_, split_tail, _ = bottleneck_split(model, graph, path)
    for key, value in model.state_dict().items():  # the model's own layers are untouched
        assert torch.equal(value, before[key]), key
    for key, value in tail.state_dict().items():
        assert torch.equal(split_tail.state_dict()[key], value)
    sidecar = file_pair(path)[1]
    record = json.loads(sidecar.read_text())
    other = graph.fx_key(graph.cut(CUT + 1))  # another cut of the graph: another crossing shape
    sidecar.write_text(json.dumps({**record, "cut_key": other}))
    with pytest.raises(InvalidParameterError, match="one trained for a cut of this model"):
        bottleneck_split(model, graph, path)
    sidecar.write_text(json.dumps({**record, "cut_key": "0x1234"}))  # no cut of this graph
    with pytest.raises(InvalidParameterError, match="does not have"):
        bottleneck_split(model, graph, path)
    del record["cut_key"]
    sidecar.write_text(json.dumps(record))
    with pytest.raises(InvalidParameterError, match="complete sidecar"):
        load_bottleneck(path)
    path.write_bytes(b"\x80\x04not safetensors")
    sidecar.write_text(json.dumps({**record, "cut_key": "0x1"}))
    with pytest.raises(InvalidParameterError, match="a safetensors file"):
        load_bottleneck(path)


def test_each_message_carries_the_shorter_coding_and_says_which():
    """Latents that repeat in space (constant maps) are shorter as zstd; latents drawn from the
    prior are shorter range-coded; either decodes to what was sent."""
    bottleneck = _prior_bottleneck([0.0, 0.0], [3.0, 3.0])
    repeating = torch.full((1, 2, 4, 4), 9, dtype=torch.int32)
    rng = np.random.default_rng(2)
    drawn = torch.from_numpy(np.rint(rng.normal(0, 3, (1, 2, 4, 4)))).to(torch.int32)
    for latents, tag in ((repeating, ZSTD), (drawn, RANGE)):
        payload = encode_latents(bottleneck, latents)
        shorter = min(len(range_words(bottleneck, latents)), len(zstd_symbols(latents)))
        assert payload[0] == tag and len(payload) == 1 + shorter
        assert torch.equal(decode_latents(bottleneck, payload, 1), latents)


@pytest.mark.parametrize(
    "payload, expected",
    [
        (b"\x07abc", "tag 7"),
        (bytes([ZSTD]) + zstd_symbols(torch.zeros(3, dtype=torch.int32)), "32 bytes"),
        (bytes([ZSTD]) + b"not zstd", "zstd-compressed bytes"),
        (
            bytes([ZSTD]) + zstd_symbols(torch.full((32,), -128, dtype=torch.int32)),
            "within \\+-127",
        ),
    ],
)
def test_malformed_zstd_latents_are_refused_by_name(payload, expected):
    bottleneck = _prior_bottleneck([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(InvalidParameterError, match=expected):
        decode_latents(bottleneck, payload, 1)
