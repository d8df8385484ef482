"""The edgesplit command: JSON output agrees with the library; bad input gives one clear line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.graph import ModelGraph
from edgesplit.graph.zoo import build_model, example_input, list_models

runner = CliRunner()


def _json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_models():
    assert _json("models")["models"] == list_models()
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "resnet50" in result.stdout


def test_graph_and_cuts_agree_with_the_library():
    graph = ModelGraph.from_module(build_model("resnet18"), example_input("resnet18", 64))
    data = _json("graph", "resnet18", "--input-size", "64")
    assert data["node_count"] == len(graph.nodes)
    assert data["total_macs"] == graph.total_macs
    assert data["param_bytes"] == graph.param_bytes
    assert [n["name"] for n in data["nodes"]] == [n.name for n in graph.nodes]
    largest = max(graph.values, key=lambda v: v.size_bits)
    assert data["largest_activations"][0]["size_bits"] == largest.size_bits
    cuts = _json("cuts", "resnet18", "--input-size", "64")
    assert cuts["cut_count"] == len(graph.cuts())
    for record, cut in zip(cuts["cuts"], graph.cuts(), strict=True):
        assert record["index"] == cut.index
        assert int(record["device_mask"], 16) == cut.device_mask
        assert record["transfer_bits"] == cut.transfer_bits
        assert record["crossing"] == list(cut.crossing)


def test_tables_print():
    for args in (["graph", "resnet18"], ["cuts", "resnet18", "--rows", "5"], ["plan", "resnet18"]):
        result = runner.invoke(app, [*args, "--input-size", "64"])
        assert result.exit_code == 0, result.output
    assert "showing 5 of" in runner.invoke(app, ["cuts", "resnet18", "--rows", "5"]).stdout


def test_split_runs_the_cut_and_reports_what_crosses():
    graph = ModelGraph.from_module(build_model("resnet18"), example_input("resnet18", 64))
    data = _json("split", "resnet18", "--input-size", "64", "--cut", "50")
    cut = graph.cut(50)
    assert data["crossing"] == list(cut.crossing)
    assert data["device_nodes"] == list(cut.device_nodes)
    assert data["split_check"]["matches"] is True
    assert data["split_check"]["transferred_bytes"] * 8 == cut.transfer_bits


def test_plan_json_reports_optimum_and_trivial_cuts():
    data = _json(
        "plan", "resnet18", "--input-size", "64", "--uplink-mbps", "1000", "--device-gmacs", "1"
    )
    best, local, offloaded = data["best"], data["all_local"], data["all_offloaded"]
    assert data["setting"]["uplink_rate_bps"] == 1e9
    assert best["objective"] <= min(local["objective"], offloaded["objective"])
    assert best["latency_s"] == pytest.approx(
        best["device_latency_s"] + best["transfer_latency_s"] + best["server_latency_s"]
    )
    assert offloaded["index"] == 1 and local["index"] == data["cut_count"]
    weighted = _json(
        "plan", "resnet18", "--input-size", "64", "--objective", "weighted", "--beta-s-per-j", "2"
    )
    b = weighted["best"]
    assert b["objective"] == pytest.approx(b["latency_s"] + 2 * b["energy_j"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["graph", "resnt50"], "unknown model 'resnt50'; did you mean resnet50"),
        (
            ["plan", "resnet18", "--uplink-mbps", "0"],
            "--uplink-mbps=0.0 is invalid: a finite number > 0",
        ),
        (["plan", "resnet18", "--uplink-mbps", "-20"], "--uplink-mbps=-20.0 is invalid"),
        (["plan", "resnet18", "--device-gmacs", "0"], "--device-gmacs=0.0 is invalid"),
        (["plan", "resnet18", "--server-gmacs", "-1"], "--server-gmacs=-1.0 is invalid"),
        (
            ["plan", "resnet18", "--objective", "speed"],
            "--objective='speed' is invalid: one of latency",
        ),
        (["plan", "resnet18", "--transmit-power-w", "-1"], "--transmit-power-w=-1.0 is invalid"),
        (["graph", "resnet18", "--granularity", "ops"], "granularity='ops' is invalid"),
        (["graph", "resnet18", "--input-size", "8"], "input_size=8 is invalid"),
        (["cuts", "googlenet", "--input-size", "64", "--limit", "100"], "more than 100 cuts"),
        (
            ["split", "resnet18", "--cut", "0"],
            "cut index 0 is out of range: this graph has cuts 1..99",
        ),
        (["split", "resnet18", "--cut", "100"], "cut index 100 is out of range"),
    ],
)
def test_bad_input_prints_one_line_and_exits_nonzero(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.output


USER_MODELS = """
import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 8)
        self.b = nn.Linear(8, 4)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


class Branchy(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x * 2
        return x


def broken():
    raise RuntimeError("no weights here")


not_a_model = 3
"""


@pytest.fixture
def user_models(tmp_path):
    path = tmp_path / "user_models.py"
    path.write_text(USER_MODELS)
    return path


def test_a_user_model_by_file_path(user_models):
    data = _json("cuts", f"{user_models}:Tiny", "--input-shape", "2,16")
    assert data["cut_count"] == 4  # a chain of three operators (a, relu, b)
    split = _json("split", f"{user_models}:Tiny", "--input-shape", "2,16", "--cut", "3")
    assert split["crossing"] == ["relu"] and split["split_check"]["matches"]


@pytest.mark.parametrize(
    ("attribute", "shape", "message"),
    [
        ("Branchy", "2,16", "cannot trace Branchy: torch.fx failed"),
        ("Tiny", "2,15", "example input of shape (2, 15) does not fit Tiny: node 'a' (Linear)"),
        ("broken", "2,16", "failed: RuntimeError: no weights here"),
        ("not_a_model", "2,16", "is a int, not a torch.nn.Module"),
        ("Missing", "2,16", "has no attribute 'Missing'"),
        ("Tiny", "2,x", "--input-shape='2,x' is invalid: comma-separated positive integers"),
    ],
)
def test_user_model_errors_are_one_line(user_models, attribute, shape, message):
    result = runner.invoke(app, ["graph", f"{user_models}:{attribute}", "--input-shape", shape])
    assert result.exit_code == 1
    assert message in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.output and "def forward" not in result.output


def test_missing_file_and_module():
    cases = (("nope.py:Net", "no file 'nope.py'"), ("no_such_pkg:Net", "cannot import"))
    for spec, message in cases:
        result = runner.invoke(app, ["graph", spec])
        assert result.exit_code == 1 and message in result.stderr
