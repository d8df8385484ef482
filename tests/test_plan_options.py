"""Learned split options in the plan (issue 35): a bottleneck or an early exit at a cut, priced
with the plan's own terms, checked against a per-task computation and a brute-force choice."""

from __future__ import annotations

import pytest
import torch

from edgesplit.compress.accuracy import DigitsNet
from edgesplit.errors import InvalidParameterError
from edgesplit.graph import ModelGraph
from edgesplit.plan import Setting, SplitOption, best_split, cost_terms, evaluate_cuts
from edgesplit.profile import ThroughputModel

RATE_BPS = 2e5
P_COMPUTE_W, P_TRANSMIT_W = 2.0, 1.0


@pytest.fixture(scope="module")
def graph():
    torch.manual_seed(0)
    return ModelGraph.from_module(DigitsNet().eval(), torch.zeros(1, 1, 8, 8), "layer", "digits")


def _setting(arrivals: float = 0.0) -> Setting:
    return Setting(
        ThroughputModel(2e8), ThroughputModel(2e10), RATE_BPS, P_COMPUTE_W, P_TRANSMIT_W,
        arrival_rate_per_s=arrivals,
    )  # fmt: skip


def _per_task(graph, setting, option):
    """The option's latency and energy from the graph's own numbers, by the two branches a task
    can take (exit or go on), not through ``with_exit``."""
    cut = graph.cut(option.cut_index)
    macs = graph.arrays.macs
    head_s = sum(macs[i] for i in range(len(graph.nodes)) if cut.device_mask >> i & 1) / 2e8
    tail_s = sum(macs[i] for i in range(len(graph.nodes)) if not cut.device_mask >> i & 1) / 2e10
    sent_bits = option.bits if option.bits is not None else cut.transfer_bits
    air_s = sent_bits / RATE_BPS
    stay_s = head_s + option.device_s
    stay_j = P_COMPUTE_W * stay_s
    go_s = stay_s + air_s + tail_s + option.server_s
    go_j = stay_j + P_TRANSMIT_W * air_s
    p = option.exit_probability
    return p * stay_s + (1 - p) * go_s, p * stay_j + (1 - p) * go_j


OPTIONS = [
    SplitOption("bottleneck at 3", 3, 0.98, bits=120.0, device_s=2e-4, server_s=1e-4),
    SplitOption("exit at 7", 7, 0.99, device_s=5e-5, exit_probability=0.8),
    SplitOption("exit at 3", 3, 0.95, device_s=5e-5, exit_probability=0.5),
]


def test_each_option_costs_what_its_two_branches_cost(graph):
    setting = _setting()
    _, candidates = best_split(graph, setting, OPTIONS, model_top1=0.996)
    for candidate in candidates[1:]:
        latency_s, energy_j = _per_task(graph, setting, candidate.option)
        assert candidate.latency_s == pytest.approx(latency_s, rel=1e-9)
        assert candidate.energy_j == pytest.approx(energy_j, rel=1e-9)


def test_an_option_that_changes_nothing_costs_the_plain_cut(graph):
    """No exit, the cut's own fp32 bits, no extra work: exactly the plain split's numbers."""
    setting = _setting(arrivals=3.0)
    terms = cost_terms(graph, setting)
    for index in (2, 5, 9):
        cut = graph.cut(index)
        same = SplitOption("same", index, 0.996, bits=float(cut.transfer_bits))
        plain = evaluate_cuts(terms, [cut], "latency")[0]
        _, candidates = best_split(graph, setting, [same], model_top1=0.996)
        assert candidates[1].latency_s == pytest.approx(plain.latency_s, rel=1e-12)
        assert candidates[1].energy_j == pytest.approx(plain.energy_j, rel=1e-12)


@pytest.mark.parametrize("objective", ["latency", "energy", "weighted"])
@pytest.mark.parametrize("floor", [0.0, 0.97, 0.985, 0.996])
def test_the_choice_is_the_brute_force_best_above_the_floor(graph, objective, floor):
    setting = _setting()
    chosen, candidates = best_split(graph, setting, OPTIONS, 0.996, floor, objective, 0.5)
    allowed = [c for c in candidates if c.top1 >= floor]
    values = {c.option.name if c.option else "plain": c.objective for c in allowed}
    name = chosen.option.name if chosen.option else "plain"
    assert values[name] == min(values.values())
    assert chosen.top1 >= floor
    if floor <= 0.95:
        assert name != "plain"  # an exit that skips 80 % of uploads at a 200 kbit/s link pays


def test_an_impossible_floor_and_a_bad_option_are_named(graph):
    with pytest.raises(InvalidParameterError, match="min_accuracy"):
        best_split(graph, _setting(), OPTIONS, model_top1=0.996, min_top1=0.999)
    with pytest.raises(InvalidParameterError, match="exit_probability"):
        SplitOption("both", 3, 0.9, bits=100.0, exit_probability=0.5)
    with pytest.raises(InvalidParameterError, match="top1"):
        SplitOption("x", 3, 1.5)


def test_plan_min_accuracy_weighs_the_shipped_options_on_the_command_line():
    """`edgesplit plan --min-accuracy` on the shipped 8x8 CNN: the JSON's choice is
    ``best_split``'s over ``split_options``; a floor no candidate reaches and a model without
    shipped options are one-line errors."""
    import json

    from typer.testing import CliRunner

    from edgesplit.cli import app
    from edgesplit.compress.accuracy import digits_model
    from edgesplit.compress.shipped import classifier_spec, split_options

    spec = classifier_spec("digitsnet")
    powers = ["--compute-power-w", str(P_COMPUTE_W), "--transmit-power-w", str(P_TRANSMIT_W)]
    args = ["plan", spec, "--input-shape", "1,1,8,8", "--device-gmacs", "0.2",
            "--server-gmacs", "20", "--uplink-mbps", "0.2", "--granularity", "layer",
            *powers]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--min-accuracy", "0.985", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    model, images = digits_model()
    graph = ModelGraph.from_module(model, images.x_test[:1], "layer", spec)
    setting = _setting()
    options, model_top1 = split_options(spec, graph, setting.device, setting.server)
    chosen, candidates = best_split(graph, setting, options, model_top1, 0.985)
    assert data["chosen"]["option"] == chosen.option.name and chosen.top1 >= 0.985
    assert data["chosen"]["latency_s"] == pytest.approx(chosen.latency_s)
    assert len(data["candidates"]) == len(candidates) == len(options) + 1
    too_high = CliRunner().invoke(app, [*args, "--min-accuracy", "0.9999"])
    assert too_high.exit_code == 1 and "min_accuracy" in too_high.stderr
    other = CliRunner().invoke(app, ["plan", "resnet18", "--input-size", "64", "--device-gmacs",
                                     "1", "--server-gmacs", "10",
                                     "--min-accuracy", "0.9"])  # fmt: skip
    assert other.exit_code == 1 and "shipped bottlenecks and exits" in other.stderr


def test_a_plain_splits_lossy_codec_is_weighed_by_the_top1_it_keeps_at_its_cut():
    """`plan --min-accuracy` with int8 on the link: the plain split's top-1 is int8's at the
    plan's cut on the test images (``accuracy_vs_codec``), and ``best_split`` drops a plain
    split whose codec falls below the floor."""
    import json

    from typer.testing import CliRunner

    from edgesplit.cli import app
    from edgesplit.compress.accuracy import accuracy_vs_codec, digits_model
    from edgesplit.compress.shipped import classifier_spec, split_options

    spec = classifier_spec("digitsnet")
    args = ["plan", spec, "--input-shape", "1,1,8,8", "--device-gmacs", "0.2", "--server-gmacs",
            "20", "--uplink-mbps", "5", "--granularity", "layer", "--link", "epyc2",
            "--codecs", "fp32,int8", "--min-accuracy", "0.9", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (plain,) = [c for c in json.loads(result.stdout)["candidates"] if c["option"] is None]
    model, data = digits_model()
    (row,) = accuracy_vs_codec(model, data, ["int8"], "layer", [plain["cut_index"]])
    assert plain["top1"] == pytest.approx(row.top1, abs=1e-9)
    graph = ModelGraph.from_module(model, data.x_test[:1], "layer", spec)
    options, model_top1 = split_options(spec, graph, _setting().device, _setting().server)
    chosen, candidates = best_split(graph, _setting(), options, model_top1, 0.9,
                                    plain_top1=lambda cut: 0.5)  # fmt: skip
    assert candidates[0].top1 == 0.5 and chosen.option is not None
