"""``edgesplit reproduce``: the quick variant of an experiment writes its CSV, PNG and markdown,
and what it finds holds against independent checks."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.experiments.harness import scenario_episode, task_scenario
from edgesplit.experiments.reproduce import EXPERIMENTS, reproduce
from edgesplit.profile.predictors import PREDICTORS
from edgesplit.sim.scenario import load_scenario
from edgesplit.sim.window import build_window_system


def test_the_bandwidth_experiment_finds_where_table_iv_is_reachable(tmp_path):
    """At Table III's 1 MHz a 1.2 Mbit input takes longer to send than local inference takes,
    so no decider is both faster and more frugal than local; at 100 MHz offloading is. Local
    inference does not depend on the channel (same latency and energy at both bandwidths, the
    energy zeta x ResNet-50's MACs)."""
    markdown = reproduce("zhang2026-bandwidth", quick=True, out=tmp_path, show_progress=False)
    with (tmp_path / "zhang2026-bandwidth.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(EXPERIMENTS["zhang2026-bandwidth"].tasks(True, None)) == 4
    by = {(float(r["bandwidth_hz"]), r["policy"]): r for r in rows}
    local_1, local_100 = by[(1e6, "local")], by[(1e8, "local")]
    assert local_1["total_latency_s"] == local_100["total_latency_s"]
    system = build_window_system(load_scenario("zhang2026-small"))
    whole = system.device_macs[system.row_offset[0, 0] + system.n_cuts[0] - 1]
    assert float(local_1["energy_per_task_j"]) == pytest.approx(1e-11 * whole)
    slow, fast = by[(1e6, "repeated-optimum")], by[(1e8, "repeated-optimum")]
    assert float(slow["total_latency_s"]) > float(local_1["total_latency_s"])
    assert float(fast["total_latency_s"]) < float(local_100["total_latency_s"])
    assert float(fast["energy_per_task_j"]) < float(local_100["energy_per_task_j"])
    text = markdown.read_text()
    assert "| 1 MHz | raw 8-bit | repeated-optimum |" in text and text.count("| yes |") == 1
    assert (tmp_path / "zhang2026-bandwidth.png").stat().st_size > 10_000
    assert "edgesplit reproduce zhang2026-bandwidth" in text and "wall time" in text


def test_the_beta_experiment_trades_latency_for_energy(tmp_path):
    """zhang2026 Fig. 12's trade-off: at beta = 500 the exact repeated decider spends less
    energy and takes longer than at beta = 1; local inference does not depend on beta."""
    reproduce("zhang2026-beta", quick=True, out=tmp_path, show_progress=False)
    with (tmp_path / "zhang2026-beta.csv").open() as handle:
        rows = {(float(r["beta"]), r["policy"]): r for r in csv.DictReader(handle)}
    assert rows[(1.0, "local")]["total_latency_s"] == rows[(500.0, "local")]["total_latency_s"]
    low, high = rows[(1.0, "repeated-optimum")], rows[(500.0, "repeated-optimum")]
    assert float(high["energy_per_task_j"]) < float(low["energy_per_task_j"])
    assert float(high["total_latency_s"]) > float(low["total_latency_s"])
    assert "| 500 | repeated-optimum |" in (tmp_path / "zhang2026-beta.md").read_text()


def test_the_arrival_experiment_spends_more_energy_on_more_tasks(tmp_path):
    """shi2025 Fig. 8's axis: with 40-50 tasks per device and slot every decider spends more
    energy per device and slot than with 10-20, on the same seed."""
    reproduce("shi2025-arrivals", quick=True, out=tmp_path, show_progress=False)
    with (tmp_path / "shi2025-arrivals.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    energy = {(r["arrivals_per_slot"], r["policy"]): float(r["energy_j"]) for r in rows}
    for policy in ("eo+ta", "optimum"):
        assert energy[("(40, 50)", policy)] > 2 * energy[("(10, 20)", policy)]
    assert "| eo+ta | 27.7 % |" in (tmp_path / "shi2025-arrivals.md").read_text()


@pytest.mark.parametrize(
    "name", ["zhang2026-devices", pytest.param("zhang2026-servers", marks=pytest.mark.slow)]
)
def test_the_count_sweeps_scale_the_system(tmp_path, name):
    """zhang2026 Figs. 8-11: local inference does not depend on how many devices or servers
    there are (zeta x MACs per task: Table IV's 0.0409 J), and the planner beats it at every
    count."""
    reproduce(name, quick=True, out=tmp_path, show_progress=False)
    axis = name.split("-")[1]
    with (tmp_path / f"{name}.csv").open() as handle:
        rows = {(int(r[axis]), r["policy"]): r for r in csv.DictReader(handle)}
    assert {n for n, _ in rows} == {1, 2}
    one, two = (float(rows[(n, "local")]["energy_per_task_j"]) for n in (1, 2))
    assert one == pytest.approx(two, rel=1e-12) and one == pytest.approx(0.0409, rel=1e-3)
    for n in (1, 2):
        assert float(rows[(n, "planner")]["reward"]) > float(rows[(n, "local")]["reward"])
        learner = rows[(n, "emh-ppo")]  # trained once per count, tested on the deciders' seed
        assert (learner["steps"], learner["seed"], learner["test_episodes"]) == ("64", "0", "1")
        assert np.isfinite(float(learner["reward"]))


def test_a_learner_is_trained_once_and_scored_on_the_deciders_seeds():
    """``test_episodes`` = n: a decider's metrics are the means of its single episodes from
    seeds 0..n-1; a learner is trained once, from its seed, and its one test episode from seed 0
    is the episode run without ``test_episodes`` (the same training, the same episode)."""
    base = {"scenario": "zhang2026-small", "seed": 0}
    pooled = scenario_episode({**base, "policy": "local", "test_episodes": 3})
    single = [scenario_episode({**base, "policy": "local", "seed": s}) for s in range(3)]
    assert len({r["total_latency_s"] for r in single}) == 3
    for key, value in pooled.items():
        assert value == pytest.approx(np.mean([r[key] for r in single]), rel=1e-12)
    learner = {**base, "policy": "emh-ppo", "steps": 64}
    assert scenario_episode({**learner, "test_episodes": 1}) == scenario_episode(learner)


def test_reproduce_lists_and_refuses_clearly(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["reproduce", "--list"])
    assert listed.exit_code == 0
    assert "zhang2026-bandwidth" in listed.output and "zhang2026-beta" in listed.output
    unknown = runner.invoke(app, ["reproduce", "fig99", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 1 and "experiment='fig99' is invalid" in unknown.output
    assert not (tmp_path / "x").exists()
    with pytest.raises(InvalidParameterError, match="seeds=0"):
        reproduce("zhang2026-bandwidth", quick=True, seeds=0, out=tmp_path)


def _rows(folder, name):
    with (folder / f"{name}.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_task_settings_build_the_scenario_they_name():
    """``devices`` takes the scenario's device types in turn; the other settings set a field of
    every device or of the scenario."""
    shi = task_scenario({"scenario": "shi2025-wifi", "devices": 4, "v": 0.1})
    assert [(d.model, d.count) for d in shi.devices] == [
        ("vgg16_bn", 2), ("resnet34", 1), ("mobilenet_v2", 1)
    ]  # fmt: skip
    assert shi.slot_reward.v == 0.1
    zhang = task_scenario({"scenario": "zhang2026", "devices": 5, "model": "googlenet",
                           "mean_tasks": 150, "granularity": "block"})  # fmt: skip
    assert [(d.model, d.count, d.mean_tasks) for d in zhang.devices] == [("googlenet", 5, 150)]
    assert zhang.granularity == "block"


def test_the_shi2025_device_and_latency_experiments(tmp_path):
    """Fig. 6: the per-slot optimum's utility is at least EO + TA's at every count, and the
    summed utility grows with the devices; Fig. 7: the mean of the three DNNs' latencies is the
    episode's mean latency over devices (``run_episode``, computed without the per-DNN split)."""
    reproduce("shi2025-devices", quick=True, out=tmp_path, show_progress=False)
    utility = {(int(r["devices"]), r["policy"]): float(r["utility"])
               for r in _rows(tmp_path, "shi2025-devices")}  # fmt: skip
    for n in (1, 3):
        assert utility[(n, "optimum")] >= utility[(n, "eo+ta")] - 1e-12
    assert utility[(3, "optimum")] > utility[(1, "optimum")]
    reproduce("shi2025-latency", quick=True, out=tmp_path, show_progress=False)
    for row in _rows(tmp_path, "shi2025-latency"):
        per_model = [float(v) for k, v in row.items() if k.startswith("latency_s_")]
        task = {"scenario": row["scenario"], "policy": row["policy"], "seed": int(row["seed"])}
        assert len(per_model) == 3
        assert np.mean(per_model) == pytest.approx(scenario_episode(task)["latency_s"], rel=1e-9)
    assert "| eo+bs | 37.3 % |" in (tmp_path / "shi2025-latency.md").read_text()


def test_the_table2_experiment_scores_every_predictor(tmp_path):
    reproduce("shi2025-table2", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "shi2025-table2")
    assert {r["predictor"] for r in rows} == set(PREDICTORS)
    paper = {r["predictor"]: r["paper_rmse_ms"] for r in rows}
    assert paper["shi2025"] == "0.8009" and paper["neurosurgeon"] == "6.6516"
    assert all(float(r["rmse_ms"]) > 0 and int(r["pairs"]) > 10 for r in rows)


def test_the_table_iv_experiment_scales_local_inference_linearly(tmp_path):
    """Local inference: the energy per task is zeta x MACs whatever the tasks, and the total
    latency grows by about one local inference per added task."""
    reproduce("zhang2026-tasks", quick=True, out=tmp_path, show_progress=False)
    rows = {(float(r["mean_tasks"]), r["policy"]): r for r in _rows(tmp_path, "zhang2026-tasks")}
    system = build_window_system(load_scenario("zhang2026-small"))
    last = system.row_offset[0, 0] + system.n_cuts[0] - 1
    for n in (50.0, 100.0):
        assert float(rows[(n, "local")]["energy_per_task_j"]) == pytest.approx(
            1e-11 * system.device_macs[last]
        )
    slope = (float(rows[(100.0, "local")]["total_latency_s"])
             - float(rows[(50.0, "local")]["total_latency_s"])) / 50  # fmt: skip
    assert slope == pytest.approx(system.head_s[last], rel=0.25)


def test_the_table_v_experiment_runs_the_granularities_it_names(tmp_path):
    """Each row is the planner's episode on the scenario built by hand with that DNN, device
    count and granularity."""
    from edgesplit.policies.evaluate import run_episode
    from edgesplit.policies.registry import make_policy
    from edgesplit.sim import decision_env

    reproduce("zhang2026-partition", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "zhang2026-partition")
    assert {(int(r["devices"]), r["granularity"]) for r in rows} == {
        (1, "operator"), (1, "block"), (3, "operator"), (3, "block")
    }  # fmt: skip
    row = next(r for r in rows if r["devices"] == "1" and r["granularity"] == "block")
    base = load_scenario("zhang2026")
    device = base.devices[0].model_copy(update={"model": "mobilenet_v2", "count": 1})
    scenario = base.model_copy(update={"devices": [device], "granularity": "block"})
    direct = run_episode(make_policy("planner", scenario), decision_env(scenario), 0)
    assert float(row["reward"]) == pytest.approx(direct["reward"], rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["shi2025-convergence", "zhang2026-convergence"])
def test_the_convergence_experiments_are_reproducible(tmp_path, name):
    """A learner's training curve: every episode and evaluation logged, and the same seed gives
    the same numbers in a second run (in another folder)."""
    first = reproduce(name, quick=True, out=tmp_path / "a", show_progress=False)
    reproduce(name, quick=True, out=tmp_path / "b", show_progress=False)
    a, b = _rows(tmp_path / "a", name), _rows(tmp_path / "b", name)
    assert a == b
    learner = [r for r in a if int(r["steps"]) > 0]
    assert [int(r["step"]) for r in learner if r["kind"] == "evaluation"][-1] == int(
        learner[0]["steps"]
    )
    assert sum(r["kind"] == "episode" for r in learner) >= 2
    assert "last evaluation" in first.read_text()


def test_the_sensor_experiment_follows_the_simulator(tmp_path):
    """Each round's row is ``sim.sensors``'s run of that task; edgesplit keeps more sensors
    alive than iLEACH with JPEG inputs (offloading beats local inference in energy there)."""
    from edgesplit.sim.sensors import SensorField, dnn_costs, simulate_sensors

    reproduce("mozib-sensors", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "mozib-sensors")
    alive = {
        d: [int(r["alive"]) for r in rows if r["decider"] == d] for d in ("edgesplit", "ileach")
    }
    assert len(alive["edgesplit"]) == 20 and sum(alive["edgesplit"]) > sum(alive["ileach"])
    bits = int(rows[0]["input_bits"])
    scenario = task_scenario({"scenario": "zhang2026", "devices": 1, "input_bits": bits})
    direct = simulate_sensors(SensorField(*dnn_costs(scenario)), "ileach", 20, 0)
    assert alive["ileach"] == direct.alive.tolist()


@pytest.mark.slow
def test_the_live_experiments_measure_what_they_predict(tmp_path):
    """The live runs (real processes on 127.0.0.1): every task measured and predicted; the
    balancing experiment's simulator rows are episodes of the balancers, each server used."""
    reproduce("shi2025-live", quick=True, out=tmp_path, show_progress=False)
    for row in _rows(tmp_path, "shi2025-live"):
        assert int(row["done"]) > 0
        assert 0.2 < float(row["measured_latency_s"]) / float(row["predicted_latency_s"]) < 5
    reproduce("mozib-balancing", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "mozib-balancing")
    sim = {r["policy"]: float(r["total_latency_s"]) for r in rows if r["where"] == "simulator"}
    assert sim["edge+lect"] <= sim["edge+random"]
    live = [r for r in rows if r["where"] == "live"]
    assert len(live) == 2 and all(int(r["done"]) > 0 for r in live)


@pytest.mark.slow
def test_the_slot_experiment_trains_under_both_formulations(tmp_path):
    """zhang2026 Fig. 7, quick: EMH-PPO trained on the task-window MDP and on 50 ms slots; local
    inference, evaluated in the same way, spends zeta x MACs per task."""
    reproduce("zhang2026-slots", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "zhang2026-slots")
    assert [r.get("time_slot_s", "") for r in rows] == ["", "0.05", ""]
    local = rows[-1]
    assert local["policy"] == "local"
    assert float(local["energy_per_task_j"]) == pytest.approx(0.0409, rel=1e-3)
    assert all(float(r["total_latency_s"]) > 0 for r in rows)


@pytest.mark.slow  # real processes on the testbed: minutes
@pytest.mark.parametrize("name", ["zhang2026-testbed", "shi2025-testbed"])
def test_the_testbed_experiments_account_for_every_task(tmp_path, name):
    from edgesplit.runtime.testbed import support

    if support() is not None:
        pytest.skip(support())
    reproduce(name, quick=True, out=tmp_path, show_progress=False)
    rows = list(csv.DictReader((tmp_path / f"{name}.csv").open()))
    assert len(rows) == len(EXPERIMENTS[name].tasks(True, None))
    assert all(float(r["not_run"]) == 0 and float(r["done"]) > 0 for r in rows)
    local = [r for r in rows if r["policy"] == "local"]
    assert all(float(r["offloaded_share"]) == 0 for r in local)  # local never offloads
    assert "measured" in (tmp_path / f"{name}.md").read_text()


def test_reproduce_never_replaces_a_result_unasked(tmp_path, monkeypatch):
    """The default folder is out/ in the working directory (never the committed docs/results/);
    a second run into a folder with the result is refused before it runs and changes nothing;
    a file of the same name as one of its figures keeps the run in a staging folder; --force
    replaces; refused counts leave no folder behind."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    name = "zhang2026-bandwidth"
    first = runner.invoke(app, ["reproduce", name, "--quick", "--json"])
    assert first.exit_code == 0, first.output
    out = tmp_path / "out"
    made = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(made) == {f"{name}.csv", f"{name}.md", f"{name}.png"}  # no staging folder left
    (out / f"{name}.md").write_text("edited by hand\n")
    again = runner.invoke(app, ["reproduce", name, "--quick"])
    assert again.exit_code == 1 and "--force replaces them" in again.output
    assert (out / f"{name}.md").read_text() == "edited by hand\n"
    assert sorted(p.name for p in out.iterdir()) == sorted(made)

    elsewhere = tmp_path / "mine"
    elsewhere.mkdir()
    (elsewhere / f"{name}.png").write_bytes(b"my own figure")
    with pytest.raises(EdgesplitError, match="nothing replaced") as refused:
        reproduce(name, quick=True, out=elsewhere, show_progress=False)
    assert (elsewhere / f"{name}.png").read_bytes() == b"my own figure"
    staging = [p for p in elsewhere.iterdir() if p.is_dir()]
    assert len(staging) == 1 and str(staging[0]) in str(refused.value)
    assert {p.name for p in staging[0].iterdir()} == set(made)

    forced = runner.invoke(app, ["reproduce", name, "--quick", "--force"])
    assert forced.exit_code == 0, forced.output
    assert (out / f"{name}.csv").read_bytes() == made[f"{name}.csv"]  # seeded: the same rows
    assert (out / f"{name}.md").read_text() != "edited by hand\n"
    for option in (["--workers", "0"], ["--seeds", "0"], ["--backend", "cloud"]):
        result = runner.invoke(app, ["reproduce", name, "--quick", "--out", "new", *option])
        assert result.exit_code == 1 and "is invalid" in result.output, option
        assert not (tmp_path / "new").exists()


def test_the_energy_sweep_sums_the_sensor_rounds(tmp_path):
    """mozib Fig. 3, quick: each row's energy per round and per inference are its own run of
    ``sim.sensors`` summed over the rounds."""
    from edgesplit.sim.sensors import SensorField, dnn_costs, simulate_sensors

    reproduce("mozib-energy", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "mozib-energy")
    assert {(int(r["sensors"]), r["decider"]) for r in rows} == {
        (n, d) for n in (10, 50) for d in ("edgesplit", "ileach")
    }
    for row in rows:
        scenario = task_scenario({"scenario": "zhang2026", "devices": 1,
                                  "input_bits": int(row["input_bits"])})  # fmt: skip
        field = SensorField(*dnn_costs(scenario), sensors=int(row["sensors"]))
        run = simulate_sensors(field, row["decider"], int(row["rounds"]), int(row["seed"]))
        assert float(row["energy_per_round_j"]) == pytest.approx(run.spent_j.mean())
        assert float(row["energy_per_inference_j"]) == pytest.approx(
            run.spent_j.sum() / run.completed.sum()
        )
        assert int(row["alive_at_end"]) == run.alive[-1]


@pytest.mark.slow  # trains two small CNNs per task: about 20 s
def test_the_batchnorm_experiment_folds_without_changing_an_answer(tmp_path):
    """mozib Figs. 4-5, quick: the folded network answers as the one with BatchNorm (the same
    top-1), the models on all images are the reference of the utility, and each row trained
    about the steps asked."""
    reproduce("mozib-batchnorm", quick=True, out=tmp_path, show_progress=False)
    rows = {int(r["samples"]): r for r in _rows(tmp_path, "mozib-batchnorm")}
    for samples, row in rows.items():
        assert row["top1 with BN, folded"] == row["top1 with BN"]
        batches = -(-samples // 64)
        assert abs(int(row["epochs"]) * batches - int(row["steps"])) <= batches / 2 + 1
    full = rows[max(rows)]  # times relative to the BatchNorm model's in the same task
    relative = float(full["time_s without BN"]) / float(full["time_s with BN"])
    utility = relative / float(full["top1 without BN"])
    reference = 1 / float(full["top1 with BN"])
    text = (tmp_path / "mozib-batchnorm.md").read_text()
    assert f"| {max(rows)} | " in text and f"| {utility / reference:.3f} |" in text


@pytest.mark.slow  # prunes and fine-tunes the digits CNN: about 20 s
def test_the_finetuning_experiment_measures_the_pruned_models(tmp_path):
    """mozib Fig. 6, quick: the unpruned model is the shipped one; the folded structured model
    answers as the structured one; each pruned model is ``accuracy_vs_pf``'s at that many
    fine-tuning epochs."""
    from edgesplit.compress.accuracy import accuracy_vs_pf, digits_model, evaluate

    reproduce("mozib-finetuning", quick=True, out=tmp_path, show_progress=False)
    rows = {(int(r["epochs"]), r["variant"]): r for r in _rows(tmp_path, "mozib-finetuning")}
    model, data = digits_model()
    for epochs in (0, 2):
        assert float(rows[(epochs, "unpruned")]["top1"]) == pytest.approx(evaluate(model, data)[0])
        assert rows[(epochs, "structured, folded")]["top1"] == rows[(epochs, "structured")]["top1"]
        for method in ("structured", "unstructured"):
            (expected,) = accuracy_vs_pf(model, data, method, [0.5], epochs, seed=0)
            assert float(rows[(epochs, method)]["top1"]) == pytest.approx(expected.top1)


def test_the_rate_experiment_scores_each_method_on_its_own_path(tmp_path):
    """split-rate-accuracy, quick (the 8x8 CNN): fp32 at a cut is the model; each bottleneck
    row is what its sidecar measured when it was trained; raw and PNG input agree (lossless);
    the report's table holds, per method, the fewest bits within a point of the model."""
    from edgesplit.compress.shipped import shipped_bottlenecks
    from edgesplit.experiments.split_rate import fewest_bits

    reproduce("split-rate-accuracy", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "split-rate-accuracy")
    for row in rows:
        row.update(top1=float(row["top1"]), bits=float(row["bits"]),
                   model_top1=float(row["model_top1"]))  # fmt: skip
    model_top1 = rows[0]["model_top1"]
    assert all(r["top1"] == model_top1 for r in rows if r["method"] == "fp32")
    families = {r["family"]: r["method"] for r in rows}
    assert families["fp32"] == "fp32" and families["affine 2-7 bits"] == "int4"
    shipped = {info.name: info for _, info in shipped_bottlenecks("digitsnet")}
    scored = {r["method"]: r for r in rows if r["family"].startswith("bottleneck")}
    assert set(scored) == set(shipped) and shipped
    for name, info in shipped.items():
        assert scored[name]["bits"] == pytest.approx(info.metrics["coded_bits"])
        assert abs(scored[name]["top1"] - info.metrics["top1"]) <= 2 / 450
    by_method = {r["method"]: r for r in rows if r["cut_position"] == ""}
    assert by_method["png"]["top1"] == by_method["raw8"]["top1"]
    text = (tmp_path / "split-rate-accuracy.md").read_text()
    for family, best in fewest_bits(rows).items():
        assert 100 * (model_top1 - best["top1"]) <= 1.0 + 1e-9
        same = [r["bits"] for r in rows if r["family"] == family
                and 100 * (model_top1 - r["top1"]) <= 1.0 + 1e-9]  # fmt: skip
        assert best["bits"] == min(same)
        assert f"| {family} | {best['bits']:.0f} |" in text


def test_the_exit_experiment_scores_the_shipped_exits(tmp_path):
    """split-early-exit, quick (the 8x8 CNN): every row is the shipped exit's curve as its
    sidecar measured it, and the table's rate is the most tasks exiting within a point."""
    from edgesplit.compress.shipped import shipped_exits

    reproduce("split-early-exit", quick=True, out=tmp_path, show_progress=False)
    rows = _rows(tmp_path, "split-early-exit")
    text = (tmp_path / "split-early-exit.md").read_text()
    for _, info in shipped_exits("digitsnet"):
        mine = {float(r["threshold"]): r for r in rows if int(r["cut_position"]) == info.cut}
        assert len(mine) == len(info.curve) > 0
        for point in info.curve:
            row = mine[point["threshold"]]
            assert abs(float(row["exit_rate"]) - point["exit_rate"]) <= 2 / 450
            assert abs(float(row["top1"]) - point["top1"]) <= 2 / 450
        model_top1 = float(next(iter(mine.values()))["model_top1"])
        kept = [float(r["exit_rate"]) for r in mine.values()
                if 100 * (model_top1 - float(r["top1"])) <= 1.0 + 1e-9]  # fmt: skip
        assert f"| cut {info.cut} | {100 * max(kept):.1f} % |" in text
