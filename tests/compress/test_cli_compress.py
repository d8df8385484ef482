"""``edgesplit compress`` and ``edgesplit place``: JSON that agrees with the library, and one
clear line (exit status 1) for each kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.compress.prune import count_parameters, prune_structured
from edgesplit.graph.zoo import build_model, example_input

runner = CliRunner()
NET = f"{Path(__file__).resolve().parents[2] / 'examples' / 'mymodels.py'}:Net"
SMALL = ["--input-size", "64", "--runs", "2", "--busy", "0"]


def _json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_compress_structured_agrees_with_the_library():
    data = _json("compress", "resnet18", "--pf", "0.5", *SMALL)
    pruned = prune_structured(build_model("resnet18"), example_input("resnet18", 64), 0.5)
    assert data["params"] == count_parameters(pruned)[0]
    assert data["full_params"] == count_parameters(build_model("resnet18"))[0]
    assert data["macs"] < 0.5 * data["full_macs"]
    assert data["min_crossing_bits"] < data["full_min_crossing_bits"]
    assert set(data["latency_s"]) == {"1", "2"} and all(v > 0 for v in data["latency_s"].values())
    assert data["prune_s"] > 0 and data["quantize_s"] is None


def test_compress_a_model_of_ones_own():
    data = _json("compress", NET, "--input-shape", "1,3,96,96", "--runs", "2", "--busy", "0")
    assert data["model"] == NET and data["params"] < data["full_params"]
    assert data["input_bits"] == 32 * 3 * 96 * 96


def test_compress_unstructured_int8_table():
    result = runner.invoke(
        app,
        ["compress", "resnet18", "--pf", "0.7", "--method", "unstructured", "--quantize", "int8",
         *SMALL],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for text in ("model MB (sparse)", "model MB (int8)", "quantizing s", "onnxruntime"):
        assert text in result.stdout


def test_place_best_is_the_cheapest_option():
    data = _json("place", "--model", "mobilenet_v2", "--pf", "0.7", "--edge-load", "30",
                 "--requests", "5")  # fmt: skip
    latencies = [o["latency_s"] for o in data["options"]]
    assert data["best"]["latency_s"] == min(latencies)
    assert {o["where"] for o in data["options"]} == {"edge", "device", "split"}
    assert data["requests"] == 5 and data["edge_load"] == 30
    table = runner.invoke(app, ["place", "--model", "mobilenet_v2", "--requests", "5"])
    assert table.exit_code == 0 and "best (latency):" in table.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["compress", "resnet18", "--pf", "1.0"], "--pf"),
        (["compress", "resnet18", "--pf", "-0.2"], "--pf"),
        (["compress", "resnet18", "--method", "random"], "--method"),
        (["compress", "resnet18", "--quantize", "int4"], "--quantize"),
        (["compress", "resnet18", "--quantize", "int8", "--backend", "tensorrt"], "--backend"),
        (["compress", "resnet18", "--busy", "-1"], "--busy"),
        (["place", "--requests", "0"], "--requests"),
        (["place", "--edge-load", "-1"], "--edge-load"),
        (["place", "--pf", "1.5"], "--pf"),
        (["place", "--model", "alexnet"], "alexnet"),  # no profile on the chukhno2023 sites
        (["compress", NET, "--input-shape", "1,3"], "does not run on an input of shape (1, 3)"),
    ],
)
def test_bad_input_is_one_line(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one message, wrapped at most


def test_a_model_that_cannot_be_pruned_structurally(tmp_path):
    source = tmp_path / "fixed.py"
    source.write_text(
        "import torch\n"
        "class FixedChannels(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = torch.nn.Conv2d(3, 16, 3)\n"
        "        self.head = torch.nn.Linear(16, 10)\n"
        "    def forward(self, x):\n"
        "        return self.head(self.conv(x).mean(dim=(2, 3)).view(-1, 16))\n"
    )
    result = runner.invoke(app, ["compress", f"{source}:FixedChannels", *SMALL])
    assert result.exit_code == 1
    assert "right after layer 'conv'" in result.output and "Traceback" not in result.output


def test_an_unavailable_backend(monkeypatch):
    import importlib.util

    from edgesplit.compress import quantize

    real = importlib.util.find_spec
    monkeypatch.setattr(
        quantize.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torchao" else real(name, *a),
    )
    result = runner.invoke(app, ["compress", "resnet18", "--quantize", "int8", "--backend",
                                 "pt2e", *SMALL])  # fmt: skip
    assert result.exit_code == 1
    assert "pt2e is not available on this machine" in result.output


def test_bottleneck_trains_writes_its_file_and_resumes(tmp_path):
    """`edgesplit bottleneck`: the file it writes loads and scores what its JSON says; run
    again with the same options it finds its finished file's checkpoint gone and trains anew
    to the same weights (seeded)."""
    from edgesplit.compress.bottleneck import load_bottleneck

    args = ["bottleneck", "digitsnet", "--cut", "7", "--latent-channels", "2",
            "--hidden-channels", "8", "--epochs", "2", "--out", str(tmp_path)]  # fmt: skip
    data = _json(*args)
    bottleneck, info, tail = load_bottleneck(data["path"])
    assert info.cut == 7 and info.config.epochs == 2 and not tail
    assert info.command.startswith("edgesplit bottleneck digitsnet --cut 7")
    assert data["metrics"]["coded_bits"] < data["metrics"]["fp32_bits"] / 20
    assert not list(tmp_path.glob(".*checkpoint*"))  # removed once the file is written
    again = _json(*args)
    twin, _, _ = load_bottleneck(again["path"])
    for key, value in bottleneck.state_dict().items():
        assert torch.equal(value, twin.state_dict()[key])
