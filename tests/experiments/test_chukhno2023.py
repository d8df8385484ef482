"""The chukhno2023 figures' experiment, quick variant: every CSV and PNG written, and what the
figures claim holds in the rows."""

import csv
import sys

import pytest

from edgesplit.experiments import chukhno2023


@pytest.mark.slow
def test_quick_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["chukhno2023", "--quick", "--out", str(tmp_path)])
    chukhno2023.main()
    for name in ("fig2a_accuracy", "fig13_codecs", "fig2b_pruning", "fig3_delay"):
        assert (tmp_path / f"{name}.csv").is_file() and (tmp_path / f"{name}.png").is_file()
    assert (tmp_path / "fig4_data.png").is_file() and (tmp_path / "fig5_energy.png").is_file()
    delay = list(csv.DictReader((tmp_path / "fig3_delay.csv").open()))
    for load in {r["edge_load"] for r in delay}:
        for form in ("full", "pruned", "on demand"):
            rows = {r["where"]: float(r["latency_s"]) for r in delay
                    if r["edge_load"] == load and r["form"] == form}  # fmt: skip
            assert rows["split"] <= min(rows["edge"], rows["device"]) * (1 + 1e-9)
    accuracy = list(csv.DictReader((tmp_path / "fig2a_accuracy.csv").open()))
    at_zero = {float(r["top1"]) for r in accuracy if float(r["pf"]) == 0.0}
    assert len(at_zero) <= 2  # pf 0 is the trained model (fine-tuned or not)
