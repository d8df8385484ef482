"""``edgesplit reproduce``: the quick variant of an experiment writes its CSV, PNG and markdown,
and what it finds holds against independent checks."""

from __future__ import annotations

import csv

import pytest
from typer.testing import CliRunner

from edgesplit.cli import app
from edgesplit.errors import InvalidParameterError
from edgesplit.experiments.reproduce import EXPERIMENTS, reproduce
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


@pytest.mark.parametrize("name", ["zhang2026-devices", "zhang2026-servers"])
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
