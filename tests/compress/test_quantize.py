"""Int8 through ONNX Runtime (and PT2E where it runs): accuracy kept on real data, cached
artifacts, clear refusals."""

import importlib.util

import pytest
import torch

from edgesplit.compress import quantize
from edgesplit.compress.accuracy import evaluate, trained_digits_model
from edgesplit.compress.quantize import check_backend, quantize_int8
from edgesplit.errors import CompressionError, InvalidParameterError


@pytest.fixture(scope="module")
def trained():
    return trained_digits_model(seed=1, epochs=12)


def test_onnxruntime_int8_keeps_accuracy_and_caches(trained, tmp_path):
    model, data = trained
    calibration = [data.x_train[i : i + 64] for i in range(0, 256, 64)]
    first = quantize_int8(model, data.x_test[:1], calibration, "onnxruntime", cache=tmp_path)
    assert not first.cached
    reference = evaluate(model, data)
    top1, _ = evaluate(first, data)
    assert top1 >= reference[0] - 0.02
    with torch.no_grad():
        float_logits = model(data.x_test)
    int8_logits = first(data.x_test)
    assert not torch.equal(int8_logits, float_logits)  # it really is another computation
    agree = (int8_logits.argmax(1) == float_logits.argmax(1)).float().mean()
    assert agree >= 0.97
    again = quantize_int8(model, data.x_test[:1], calibration, "onnxruntime", cache=tmp_path)
    assert again.cached
    assert torch.equal(again(data.x_test), int8_logits)
    float_bytes = sum(p.numel() * 4 for p in model.parameters())
    assert first.size_bytes < float_bytes  # int8 weights (plus the graph) beat float32


def test_refusals(monkeypatch, trained):
    model, data = trained
    with pytest.raises(InvalidParameterError, match="int8 backend"):
        check_backend("tensorrt")
    with pytest.raises(InvalidParameterError, match="calibration"):
        quantize_int8(model, data.x_test[:1], [], "onnxruntime")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        quantize.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    with pytest.raises(CompressionError, match=r"onnxruntime is not available.*onnxruntime"):
        check_backend("onnxruntime")


@pytest.mark.slow
def test_pt2e_int8_keeps_accuracy(trained):
    model, data = trained
    calibration = [data.x_train[i : i + 64] for i in range(0, 256, 64)]
    q = quantize_int8(model, data.x_test[:64], calibration, "pt2e")
    reference = evaluate(model, data)
    with torch.no_grad():
        logits = torch.cat([q(data.x_test[i : i + 64]) for i in range(0, 448, 64)])
    top1 = float((logits.argmax(1) == data.y_test[:448]).float().mean())
    assert top1 >= reference[0] - 0.03


@pytest.mark.slow
def test_pt2e_refuses_a_residual_model_in_one_line():
    """torchao 0.18's X86InductorQuantizer fails on ResNet's conv + add + relu partitions
    (measured with torch 2.14); the error is one line pointing at ONNX Runtime."""
    from edgesplit.graph.zoo import build_model, example_input

    x = example_input("resnet18", 64)
    with pytest.raises(
        CompressionError, match=r"pt2e cannot quantize ResNet.*onnxruntime"
    ) as error:
        quantize_int8(build_model("resnet18"), x, [x], "pt2e")
    assert "\n" not in str(error.value)


def test_heads_and_tails_quantize_alone(trained, tmp_path):
    """An int8 head on the device with a float tail (and the reverse) keeps the digits
    accuracy; a head handing over two tensors answers two."""
    from edgesplit.graph import ModelGraph
    from edgesplit.graph.split import split
    from edgesplit.graph.zoo import build_model, example_input, random_input

    model, data = trained
    graph = ModelGraph.from_module(model, data.x_test[:1], "layer")
    cut = graph.cuts()[len(graph.cuts()) // 2]
    head, tail = split(model, graph, cut)
    calibration = [data.x_train[i : i + 64] for i in range(0, 256, 64)]
    int8_head = quantize_int8(head, data.x_test[:1], calibration, cache=tmp_path)
    with torch.no_grad():
        crossing = head(data.x_test)
        handed = int8_head(data.x_test)
        assert isinstance(handed, tuple) and len(handed) == len(crossing) == 1
        top1 = float((tail(*handed).argmax(1) == data.y_test).float().mean())
    reference = evaluate(model, data)[0]
    assert top1 >= reference - 0.02
    with torch.no_grad():
        tail_calibration = [head(batch) for batch in calibration]
    int8_tail = quantize_int8(tail, head(data.x_test[:1]), tail_calibration, cache=tmp_path)
    top1 = float((int8_tail(*crossing).argmax(1) == data.y_test).float().mean())
    assert top1 >= reference - 0.02

    resnet = build_model("resnet18")
    x = example_input("resnet18", 64)
    graph = ModelGraph.from_module(resnet, x, "operator")
    two = next(c for c in graph.cuts() if len(c.crossing) == 2)
    head, _ = split(resnet, graph, two)
    samples = [random_input((4, 3, 64, 64), s) for s in range(1, 4)]
    int8_head = quantize_int8(head, x, samples, cache=tmp_path)
    with torch.no_grad():
        expected, got = head(x), int8_head(x)
    assert len(got) == 2
    for a, b in zip(expected, got, strict=True):
        assert a.shape == b.shape
        cosine = torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0)
        assert cosine > 0.98
