"""Observations 1 and 2 on closed forms; the predict-eval report end to end."""

from __future__ import annotations

import numpy as np
import pytest

from edgesplit.experiments.predict_eval import (
    noise_floor_ms,
    observation1,
    observation2,
    predict_eval,
)
from edgesplit.graph import ModelGraph
from edgesplit.graph.zoo import build_model, example_input
from edgesplit.profile.data import Measurements, Profile, Stats, prefix_key
from edgesplit.profile.predictors import eq7_latency_s


def _stats(value: float) -> Stats:
    return Stats(value, value, value, 1)


@pytest.fixture(scope="module")
def graph():
    return ModelGraph.from_module(
        build_model("resnet18"), example_input("resnet18", 64), "fx", model_name="resnet18"
    )


def _profile(graph, whole_s, tail_share=None):
    order = graph.fx_node_order
    cpu = {}
    for k in range(1, 9):
        whole = whole_s(k)
        tails = {}
        if tail_share is not None:
            for i in range(0, len(order) - 1, 10):
                tails[prefix_key(i)] = _stats(whole * tail_share(i, len(order)))
        cpu[k] = Measurements(
            _stats(whole), tuple(np.full(len(order), whole / len(order))), tail=tails
        )
    return Profile(
        "resnet18", graph.input_shapes[0], order, {"cores": 8}, "", "measured", cpu, None
    )


def test_observation1_on_an_eq7_curve(graph):
    truth = (0.2, -0.6, 0.01, -0.02)
    result = observation1(_profile(graph, lambda k: float(eq7_latency_s(k, *truth))))
    assert result.gains_shrink == 1.0
    assert result.speedup[8] == pytest.approx(eq7_latency_s(1, *truth) / eq7_latency_s(8, *truth))
    np.testing.assert_allclose(
        result.fitted_s(np.arange(1, 9.0)), eq7_latency_s(np.arange(1, 9.0), *truth), rtol=1e-3
    )


def test_observation2_is_exact_when_tails_follow_the_node_share(graph):
    profile = _profile(graph, lambda k: 0.1 / k, tail_share=lambda i, n: (n - i - 1) / n)
    result = observation2(profile, graph, 4)
    assert result.r2("nodes") == pytest.approx(1.0)
    assert result.r2("macs") < 1.0


def test_noise_floor_is_zero_for_smooth_measurements(graph):
    profile = _profile(graph, lambda k: 0.05 + 0.1 / k + 0.001 * k, tail_share=lambda i, n: 0.5)
    assert noise_floor_ms(profile) == pytest.approx(0.0, abs=1e-9)


def test_predict_eval_on_the_shipped_reference_profiles():
    report = predict_eval(["mobilenet_v2"], "xeon16", (1, 2, 4, 8, 16))
    (evaluation,) = report.evaluations
    assert evaluation.test_threads == (3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15)
    assert len(evaluation.pairs) == 8 * 11 and all(p.side == "tail" for p in evaluation.pairs)
    assert evaluation.noise_floor_ms is not None and evaluation.noise_floor_ms > 0
    assert [o.threads for o in report.observation2] == [1, 16]
    assert report.observation1[0].speedup[1] == 1.0
