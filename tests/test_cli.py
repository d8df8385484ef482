"""The edgesplit command: JSON output agrees with the library; bad input gives one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.graph import ModelGraph
from edgesplit.graph.zoo import build_model, example_input, list_models, load_model

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


def test_tables_show_what_the_json_holds():
    """The tables print the JSON's numbers in display units: MACs in G, latencies in ms, and
    the evenly spaced cuts of --rows."""
    graph = runner.invoke(app, ["graph", "resnet18", "--input-size", "64"])
    data = _json("graph", "resnet18", "--input-size", "64")
    assert f"{data['total_macs'] / 1e9:.3f}" in graph.stdout
    placeholder = ["--device-gmacs", "50", "--server-gmacs", "1000", "--input-size", "64"]
    plan = runner.invoke(app, ["plan", "resnet18", *placeholder])
    best = _json("plan", "resnet18", *placeholder)["best"]
    row = next(line for line in plan.stdout.splitlines() if "optimal" in line)
    assert f"{best['latency_s'] * 1e3:.2f}" in row and str(best["index"]) in row
    cuts = runner.invoke(app, ["cuts", "resnet18", "--rows", "5", "--input-size", "64"])
    assert "showing 5 of 99 cuts" in cuts.stdout
    shown = [line.split()[1] for line in cuts.stdout.splitlines() if line.startswith("│")]
    assert shown == [str(round(k * 98 / 4)) for k in range(5)]  # 0, 24, 49, 74, 98


def test_split_runs_the_cut_and_reports_what_crosses():
    graph = ModelGraph.from_module(build_model("resnet18"), example_input("resnet18", 64))
    data = _json("split", "resnet18", "--input-size", "64", "--cut", "50")
    cut = graph.cut(50)
    assert data["crossing"] == list(cut.crossing)
    assert data["device_nodes"] == list(cut.device_nodes)
    assert data["split_check"]["matches"] is True
    assert data["split_check"]["transferred_bytes"] * 8 == cut.transfer_bits


def test_plan_json_reports_optimum_and_trivial_cuts():
    placeholder = ["--device-gmacs", "1", "--server-gmacs", "1000"]
    data = _json("plan", "resnet18", "--input-size", "64", "--uplink-mbps", "1000", *placeholder)
    best, local, offloaded = data["best"], data["all_local"], data["all_offloaded"]
    assert data["setting"]["uplink_rate_bps"] == 1e9
    # the optimum against every cut scored from its own sizes (1 GMAC/s, 1 TMAC/s, 1 Gbit/s)
    graph = ModelGraph.from_module(build_model("resnet18"), example_input("resnet18", 64))
    scores = [c.device_macs / 1e9 + c.transfer_bits / 1e9 + c.server_macs / 1e12
              for c in graph.cuts()]  # fmt: skip
    assert best["latency_s"] == pytest.approx(min(scores))
    assert best["objective"] <= min(local["objective"], offloaded["objective"])
    assert offloaded["index"] == 0 and local["index"] == data["cut_count"] - 1
    weighted = _json(
        "plan",
        "resnet18",
        "--input-size",
        "64",
        "--objective",
        "weighted",
        "--beta-s-per-j",
        "2",
        *placeholder,
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
        (
            [
                "plan",
                "resnet18",
                "--transmit-power-w",
                "-1",
                "--device-gmacs",
                "5",
                "--server-gmacs",
                "9",
            ],
            "--transmit-power-w=-1.0 is invalid",
        ),
        (["plan", "resnet18", "--device-profile", "xeon16"], "no resnet18 profile in xeon16-h100"),
        (
            ["plan", "resnet50", "--server-threads", "20"],
            "threads=20 is invalid: an integer from 1 to 16",
        ),
        (
            ["plan", "resnet50", "--device-profile", "xeon16", "--device-gmacs", "5"],
            "one or the other",
        ),
        (["plan", "resnet50", "--device-profile", "nope.json"], "no profile file 'nope.json'"),
        (["plan", "resnet50", "--predictor", "magic"], "--predictor='magic' is invalid"),
        (
            ["profile", "resnet18", "--out", "x.json", "--threads", "1,999"],
            "threads=999 is invalid",
        ),
        (["predict-eval", "--models", "alexnet"], "no alexnet profile in xeon16-h100"),
        (["graph", "resnet18", "--granularity", "ops"], "granularity='ops' is invalid"),
        (["graph", "resnet18", "--input-size", "8"], "input_size=8 is invalid"),
        (["cuts", "googlenet", "--input-size", "64", "--limit", "100"], "more than 100 cuts"),
        (
            ["split", "resnet18", "--cut", "-1"],
            "cut index -1 is out of range: this graph has cuts 0..98",
        ),
        (["split", "resnet18", "--cut", "99"], "cut index 99 is out of range"),
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
    split = _json("split", f"{user_models}:Tiny", "--input-shape", "2,16", "--cut", "2")
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


def test_plan_with_profiles_uses_the_shi2025_testbed_by_default():
    data = _json("plan", "resnet50")
    assert data["setting"]["device"].startswith("jetson-orin-nx at 16 threads (derived")
    assert data["setting"]["server"].startswith("i7-12700kf-workstation at 16 threads (derived")
    assert data["setting"]["device_compute_power_w"] == 8.6
    gpu = _json("plan", "resnet50", "--server-profile", "h100", "--device-profile", "epyc2")
    assert gpu["setting"]["server"].startswith("h100 (reference")
    assert gpu["best"]["objective"] <= gpu["all_local"]["objective"]


def test_hardware_lists_the_catalogue_file():
    from importlib import resources

    shipped = json.loads(resources.files("edgesplit.data").joinpath("hardware.json").read_text())
    listed = {e["name"]: e for e in _json("hardware")["hardware"]}
    assert list(listed) == [entry["name"] for entry in shipped["hardware"]]
    for entry in shipped["hardware"]:
        assert listed[entry["name"]]["role"] == entry["role"]
        assert listed[entry["name"]]["processor"] == entry["processor"]


@pytest.mark.slow  # profiles, plans and scores: seconds, more on a loaded machine
def test_profile_writes_a_loadable_file(tmp_path):
    from edgesplit.profile.data import load_profile_file

    out = tmp_path / "tiny.json"
    data = _json(
        "profile",
        "resnet18",
        "--input-size",
        "32",
        "--threads",
        "1,2",
        "--repeats",
        "2",
        "--warmup",
        "1",
        "--cuts",
        "2",
        "--out",
        str(out),
    )
    profile = load_profile_file(out)
    assert profile.command.startswith("edgesplit profile resnet18")
    assert len(profile.cpu[1].tail) == 2 and data["rows"][0]["cuts_timed"] == 2
    args = ["plan", "resnet18", "--input-size", "32", "--device-profile", str(out),
            "--server-gmacs", "1000"]  # fmt: skip
    if any(m.noisy for m in profile.cpu.values()):  # a busy machine (parallel tests): refused
        refused = runner.invoke(app, args)
        assert refused.exit_code == 1 and "flagged noisy" in " ".join(refused.stderr.split())
    else:
        assert _json(*args)["setting"]["device"].startswith(str(out))
    scores = _json("predict-eval", "--models", str(out), "--train-threads", "1")["scores"]
    assert {s["model"] for s in scores} == {"resnet18"} and all(s["pairs"] > 0 for s in scores)


def test_predict_eval_writes_plots(tmp_path):
    data = _json("predict-eval", "--models", "mobilenet_v2", "--plots", str(tmp_path))
    predictors = {r["predictor"] for r in data["scores"]}
    assert predictors == {"nodes", "shi2025", "neurosurgeon"}
    for figure in data["plots"]:
        assert Path(figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scenarios_and_scenario():
    from edgesplit.sim.scenario import load_scenario, presets

    listed = _json("scenarios")["scenarios"]
    assert [row["name"] for row in listed] == presets()
    for row in listed:
        scenario = load_scenario(row["name"])
        assert (row["devices"], row["servers"]) == (scenario.device_count, scenario.server_count)
    data = _json("scenario", "zhang2026")
    assert data == load_scenario("zhang2026").model_dump(mode="json")


def test_scenario_bad_yaml_is_one_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "name: t\nstyle: slot\n"
        "devices: [{model: resnet34, hardware: jetson-orin-nx, battery_capacity_j: 9,"
        " arrivals_per_slot: [-1, 3]}]\n"
        "servers: [{hardware: xeon16, threads: [4, 8]}]\n"
    )
    result = runner.invoke(app, ["scenario", str(path)])
    assert result.exit_code == 1
    assert "devices.0.arrivals_per_slot.0: Input should be greater than or equal to 0" in (
        " ".join(result.output.split())
    )
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["scenario", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 1 and "not a preset" in " ".join(missing.output.split())


def test_policies_evaluate_and_train(tmp_path: Path):
    from edgesplit.policies.registry import policy_names

    assert _json("policies", "--style", "slot")["policies"] == policy_names("slot")
    data = _json(
        "evaluate", "--scenario", "shi2025-5g", "--policies", "local,dads+ta", "--episodes", "2"
    )
    assert (data["scenario"], data["seeds"], data["episodes"]) == ("shi2025-5g", [0, 1], 2)
    rows = data["rows"]
    assert [r["policy"] for r in rows] == ["local", "dads+ta"]
    assert rows[1]["mean"]["latency_s"] < rows[0]["mean"]["latency_s"]
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["train", "ddp+ta", "--scenario", "shi2025-wifi", "--steps", "30", "--out", str(out),
         "--eval-every", "30", "--eval-episodes", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all((out / name).is_file() for name in ("policy.pt", "best.pt", "eval.csv"))
    rows = _json(
        "evaluate", "--scenario", "shi2025-wifi", "--policies", f"ddp+ta={out / 'policy.pt'}",
        "--episodes", "1",
    )["rows"]  # fmt: skip
    assert rows[0]["episodes"] == 1
    again = runner.invoke(app, ["train", "ddp+ta", "--scenario", "shi2025-wifi", "--out", str(out)])
    assert again.exit_code == 1 and "--resume" in " ".join(again.output.split())
    bad = runner.invoke(app, ["evaluate", "--scenario", "shi2025-wifi", "--policies", "nope"])
    assert bad.exit_code == 1 and "policy='nope'" in bad.output


def _imported_after(args: list[str]) -> str:
    """Which of torch and torchvision a fresh interpreter has imported after ``edgesplit ARGS``
    (this test process has imported them already)."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom edgesplit.cli import app\n"
        f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
        "print('IMPORTED', sorted(m for m in ('torch', 'torchvision') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return result.stdout + result.stderr


@pytest.mark.parametrize(
    "args",
    [["--help"], ["models"], ["scenarios"], ["policies"],
     ["evaluate", "--scenario", "shi2025-5g", "--policies", "local", "--episodes", "1"]],
)  # fmt: skip
def test_commands_that_never_trace_do_not_import_torch(args):
    """`--help` and the commands that trace nothing start without torch and torchvision."""
    assert "IMPORTED []" in _imported_after(args)


@pytest.mark.slow  # a training run in a fresh interpreter: seconds
def test_training_does_not_import_torchvision(tmp_path):
    """`train` needs torch for the learner's networks, not torchvision (nothing is traced)."""
    args = ["train", "ddp+ta", "--scenario", "shi2025-wifi", "--steps", "5", "--out",
            str(tmp_path / "run"), "--eval-every", "5", "--eval-episodes", "1"]  # fmt: skip
    assert "IMPORTED ['torch']" in _imported_after(args)


def test_a_learner_without_checkpoint_is_refused_or_labelled_untrained():
    bad = runner.invoke(app, ["evaluate", "--scenario", "shi2025-wifi", "--policies", "ddp+ta"])
    assert bad.exit_code == 1 and "ddp+ta=path/to/policy.pt" in " ".join(bad.stderr.split())
    rows = _json(
        "evaluate", "--scenario", "shi2025-wifi", "--policies", "ddp+ta", "--episodes", "1",
        "--untrained",
    )["rows"]  # fmt: skip
    assert rows[0]["policy"] == "ddp+ta (untrained)"


def test_outputs_are_checked_before_any_work(tmp_path):
    """An existing --out profile is refused (and kept) unless --force; a --out in a missing
    folder, and a --plot or --plots where a file stands, are refused before anything runs."""
    existing = tmp_path / "p.json"
    existing.write_text("keep")
    args = ["profile", "resnet18", "--input-size", "64", "--repeats", "1", "--warmup", "0",
            "--cuts", "0"]  # fmt: skip
    result = runner.invoke(app, [*args, "--out", str(existing)])
    assert result.exit_code == 1 and "--force replaces it" in " ".join(result.stderr.split())
    assert existing.read_text() == "keep"
    missing = runner.invoke(app, [*args, "--out", str(tmp_path / "no" / "p.json")])
    assert missing.exit_code == 1 and "an existing folder" in " ".join(missing.stderr.split())
    forced = runner.invoke(app, [*args, "--out", str(existing), "--force", "--json"])
    assert forced.exit_code == 0 and json.loads(existing.read_text())["model"] == "resnet18"
    for command in (
        ["evaluate", "--scenario", "shi2025-wifi", "--policies", "local", "--plot"],
        ["predict-eval", "--models", "mobilenet_v2", "--plots"],
    ):
        result = runner.invoke(app, [*command, str(existing)])
        assert result.exit_code == 1 and "a folder, not a file" in " ".join(result.stderr.split())
        assert "Traceback" not in result.output


def test_version_and_module_entry_point():
    import subprocess
    import sys

    from edgesplit import __version__

    assert runner.invoke(app, ["--version"]).stdout.strip() == f"edgesplit {__version__}"
    module = subprocess.run(
        [sys.executable, "-m", "edgesplit", "--version"], capture_output=True, text=True
    )
    assert module.returncode == 0 and module.stdout.strip() == f"edgesplit {__version__}"


def test_evaluate_tables_keep_every_number_whole_at_80_columns(monkeypatch):
    import rich.console

    import edgesplit.cli.sim as sim_commands

    monkeypatch.setattr(sim_commands, "console", rich.console.Console(width=80))
    args = ["--scenario", "shi2025-5g", "--policies", "local,neurosurgeon+utility,optimum",
            "--episodes", "2"]  # fmt: skip
    shown = runner.invoke(app, ["evaluate", *args]).stdout
    for row in _json("evaluate", *args)["rows"]:
        mean, half = row["mean"]["utility"], row["ci95"]["utility"]
        assert f"{mean:.3f} ± {half:.3f}" in shown
        assert f"{row['mean']['latency_s'] * 1e3:.1f} ± {row['ci95']['latency_s'] * 1e3:.1f}" in (
            shown
        )
    assert "95 % confidence half-width" in shown and "…" not in shown


def test_a_decider_above_optimum_is_explained(monkeypatch):
    """When a decider scores above `optimum`, the output says what `optimum` searches."""
    from edgesplit.policies import evaluate as evaluation

    real = evaluation.evaluate

    def lifted(*args, **kwargs):
        summaries = real(*args, **kwargs)
        summaries[0].mean["utility"] = summaries[1].mean["utility"] + 0.1  # local "beats" it
        return summaries

    monkeypatch.setattr(evaluation, "evaluate", lifted)
    result = runner.invoke(
        app, ["evaluate", "--scenario", "shi2025-5g", "--policies", "local,optimum",
              "--episodes", "1"],
    )  # fmt: skip
    assert "local scored above `optimum`, which is exact only over the decisions it searches" in (
        " ".join(result.stdout.split())
    )


def test_plan_of_a_model_without_profiles_uses_a_labelled_placeholder():
    """`plan` of an own model works by default: each side's latency is the MAC rate the default
    hardware reaches on ResNet-50 (its MACs counted here, over its shipped profile's median),
    labelled as a placeholder."""
    from edgesplit.profile.catalogue import hardware_profile

    reference_macs = ModelGraph.from_module(
        build_model("resnet50"), example_input("resnet50")
    ).total_macs
    rate = {
        hardware: reference_macs / hardware_profile(hardware, "resnet50")[0].cpu[16].whole.median_s
        for hardware in ("jetson-orin-nx", "i7-12700kf-workstation")
    }
    examples = Path(__file__).resolve().parent.parent / "examples" / "mymodels.py"
    data = _json("plan", f"{examples}:Net", "--input-shape", "1,3,96,96")
    for side, hardware in (("device", "jetson-orin-nx"), ("server", "i7-12700kf-workstation")):
        about = data["setting"][side]
        assert about.startswith("placeholder ") and f"no {examples}:Net profile" in about
        assert f"{rate[hardware] / 1e9:.0f} GMAC/s: {hardware}'s rate on resnet50" in about
    graph = ModelGraph.from_module(load_model(f"{examples}:Net"), torch.randn(1, 3, 96, 96))
    expected = graph.total_macs / rate["jetson-orin-nx"]
    assert data["all_local"]["latency_s"] == pytest.approx(expected, rel=1e-6)


def test_enumerated_options_list_their_choices():
    """Help and shell completion list the values an enumerated option takes; anything else is
    refused in one line."""
    from edgesplit.cli.app import choice

    shown = runner.invoke(app, ["plan", "--help"], env={"COLUMNS": "200"}).stdout
    for names in ("<latency|energy|weighted>", "<nodes|shi2025|neurosurgeon>"):
        assert names in shown
    complete = choice(("latency", "energy", "weighted"), "x").autocompletion
    assert complete("e") == ["energy"] and complete("") == ["latency", "energy", "weighted"]
    bad = runner.invoke(app, ["policies", "--style", "window"])
    assert bad.exit_code == 1 and "--style='window' is invalid: one of slot" in bad.stderr


def test_evaluate_plots_are_titled_and_skip_all_zero_metrics(tmp_path, monkeypatch):
    """One chart per metric with a title naming the scenario, the episodes and the whiskers; a
    metric that is zero for every policy (no result is downloaded in shi2025-5g) gets none."""
    import matplotlib.figure

    titles = []
    real = matplotlib.figure.Figure.suptitle

    def recording(self, label, *args, **kwargs):
        titles.append(label)
        return real(self, label, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "suptitle", recording)
    result = runner.invoke(
        app, ["evaluate", "--scenario", "shi2025-5g", "--policies", "local,dads+ta",
              "--episodes", "2", "--plot", str(tmp_path / "charts")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    written = sorted(p.stem for p in (tmp_path / "charts").glob("*.png"))
    assert "downlink_s" not in written and {"utility", "latency_s", "energy_j"} <= set(written)
    assert len(titles) == len(written)
    assert all("shi2025-5g: 2 episodes (seeds 0-1)" in t and "95 % CI" in t for t in titles)


def test_an_output_that_cannot_be_written_is_refused_before_measuring():
    """/proc accepts no new files, whatever the permissions say (even for root): refused in one
    line before the profile is measured."""
    result = runner.invoke(app, ["profile", "resnet18", "--out", "/proc/edgesplit-profile.json"])
    assert result.exit_code == 1 and "a place edgesplit can write" in " ".join(
        result.stderr.split()
    )
    assert "Traceback" not in result.output and "wall time" not in result.stdout


def test_plan_with_a_cloud_tier_prints_both_cuts():
    sides = ["--device-profile", "jetson-orin-nx", "--server-profile", "xeon16"]
    args = ["plan", "resnet50", "--uplink-mbps", "200", *sides, "--server-threads", "2",
            "--granularity", "block"]  # fmt: skip
    fast = _json(*args, "--cloud-profile", "cloud-h100", "--cloud-mbps", "1000")
    slow = _json(*args, "--cloud-profile", "cloud-h100", "--cloud-mbps", "10")
    nodes = sum(fast["nodes_per_tier"].values())
    assert nodes == sum(slow["nodes_per_tier"].values()) > 0
    assert fast["nodes_per_tier"]["cloud"] == nodes  # a fast backhaul: the H100 takes it all
    assert slow["nodes_per_tier"]["cloud"] == 0  # a slow one: nothing goes past the edge
    assert slow["latency_s"] > fast["latency_s"]
    two_tier = _json(*args)
    assert slow["latency_s"] == pytest.approx(two_tier["best"]["latency_s"], rel=1e-6)
    table = runner.invoke(app, [*args, "--cloud-profile", "cloud-h100"])
    assert "device | edge cut" in table.stdout and "edge | cloud cut" in table.stdout
    bad = runner.invoke(app, [*args, "--cloud-profile", "cloud-h100", "--cloud-mbps", "0"])
    assert bad.exit_code == 1 and "--cloud-mbps" in bad.output


def test_evaluate_gives_each_deciders_gap_to_the_certified_bound():
    """On a task-window scenario the JSON carries each seed's bound (the library's) and every
    episode's gap to it: the bound minus the decider's reward, never negative; --no-bound and a
    scenario the bound does not cover leave it out."""
    from edgesplit.sim.window_bound import episode_bound

    args = ["evaluate", "--scenario", "zhang2026-small", "--policies", "local,greedy",
            "--episodes", "2"]  # fmt: skip
    data = _json(*args)
    assert data["bound"] == [episode_bound("zhang2026-small", s).reward for s in (0, 1)]
    for row in data["rows"]:
        gap, reward = row["mean"]["gap_to_bound"], row["mean"]["reward"]
        assert gap == pytest.approx(sum(data["bound"]) / 2 - reward, rel=1e-12)
        assert gap > 0
    shown = " ".join(runner.invoke(app, args).stdout.split())
    assert "gap to the bound" in shown and "no decider can score above it" in shown
    assert "gap_to_bound" not in _json(*args, "--no-bound")["rows"][0]["mean"]
    slot = _json("evaluate", "--scenario", "shi2025-5g", "--policies", "local", "--episodes", "1")
    assert slot["bound"] is None and "gap_to_bound" not in slot["rows"][0]["mean"]
