"""Early exits: the curve against a per-image count, real training on the digits, files that
load without running code."""

import json

import pytest
import torch

from edgesplit.compress.accuracy import digits_model, evaluate
from edgesplit.compress.bottleneck import file_pair
from edgesplit.compress.distill import bottleneck_halves, teacher_targets
from edgesplit.compress.exits import (
    ExitConfig,
    ExitInfo,
    exit_curve,
    load_exit,
    save_exit,
    train_exit,
)
from edgesplit.compress.shipped import score_exit
from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph

CUT = 7  # the DigitsNet's max pool: 64 x 4 x 4


def test_the_curve_counts_what_a_per_image_loop_counts():
    generator = torch.Generator().manual_seed(0)
    exit_logits = 3 * torch.randn(200, 10, generator=generator)
    model_logits = torch.randn(200, 10, generator=generator)
    labels = torch.randint(0, 10, (200,), generator=generator)
    thresholds = (0.0, 0.3, 0.6, 0.9, 1.01)
    for point, threshold in zip(exit_curve(exit_logits, model_logits, labels, thresholds),
                                thresholds, strict=True):  # fmt: skip
        exited = right = right_exited = 0
        for e, m, y in zip(exit_logits, model_logits, labels, strict=True):
            sure = float(torch.softmax(e, 0).max())
            if sure >= threshold:
                exited += 1
                right += int(e.argmax() == y)
                right_exited += int(e.argmax() == y)
            else:
                right += int(m.argmax() == y)
        assert point.exit_rate == pytest.approx(exited / 200)
        assert point.top1 == pytest.approx(right / 200)
        assert point.exited_top1 == (pytest.approx(right_exited / exited) if exited else None)
    first, last = exit_curve(exit_logits, model_logits, labels, (0.0, 1.01))
    assert first.exit_rate == 1.0 and last.exit_rate == 0.0 and last.exited_top1 is None


@pytest.fixture(scope="module")
def trained():
    model, data = digits_model()
    graph = ModelGraph.from_module(model, data.x_test[:1], "layer", model_name="digits")
    head, _, shape = bottleneck_halves(model, graph, CUT)
    targets = teacher_targets(model, head, data.x_train)
    config = ExitConfig()  # 30 epochs on precomputed maps: seconds
    exit_head = train_exit(targets.crossing, targets.logits, data.y_train, config)
    return model, graph, data, head, shape, targets, config, exit_head


def test_an_exit_trained_on_the_digits_is_confident_where_it_is_right_and_seeded(trained):
    model, _, data, head, _, targets, config, exit_head = trained
    curve = {p.threshold: p for p in score_exit(model, head, exit_head, data)}
    # a confident exit is about as right as the model, and confident on most digits
    assert curve[0.9].exited_top1 >= evaluate(model, data)[0] - 0.01
    assert curve[0.9].exit_rate > 0.3
    assert curve[0.5].exit_rate > curve[0.99].exit_rate
    rates = [p.exit_rate for _, p in sorted(curve.items())]
    assert rates == sorted(rates, reverse=True)  # a higher threshold lets fewer exit
    again = train_exit(targets.crossing, targets.logits, data.y_train, config)
    for key, value in exit_head.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])


def test_an_exit_file_round_trips_and_a_bad_one_is_named(trained, tmp_path):
    _, graph, data, head, shape, _, config, exit_head = trained
    info = ExitInfo("x", "digits", "layer", CUT, graph.fx_key(graph.cut(CUT)), shape, 10, config)
    path = save_exit(tmp_path / "x", exit_head, info)
    loaded, loaded_info = load_exit(path)
    assert loaded_info == info
    crossing = head(data.x_test[:5])[0]
    with torch.no_grad():
        assert torch.equal(loaded(crossing), exit_head(crossing))
    sidecar = file_pair(path)[1]
    record = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**record, "crossing_shape": [3, 4, 4]}))
    with pytest.raises(InvalidParameterError, match="exit's sidecar and weights"):
        load_exit(path)
    sidecar.write_text(json.dumps({**record, "format": "edgesplit.bottleneck"}))
    with pytest.raises(InvalidParameterError, match=r"not a edgesplit\.exit sidecar"):
        load_exit(path)


def test_exit_config_is_checked_by_name():
    with pytest.raises(InvalidParameterError, match="hidden_channels"):
        ExitConfig(hidden_channels=0)
    with pytest.raises(InvalidParameterError, match="temperature"):
        ExitConfig(temperature=float("nan"))
