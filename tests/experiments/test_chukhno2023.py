"""The chukhno2023 figures' experiments (and zhang2026 Fig. 13's), quick variants: every CSV and
PNG written, and what the figures claim holds in the rows."""

import csv

import pytest

from edgesplit.experiments.reproduce import reproduce


def _rows(path):
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_quick_figures(tmp_path):
    for name in ("chukhno2023-accuracy", "chukhno2023-placement", "zhang2026-precision",
                 "chukhno2023-pruning"):  # fmt: skip
        reproduce(name, quick=True, out=tmp_path, show_progress=False)
        assert (tmp_path / f"{name}.csv").is_file() and (tmp_path / f"{name}.md").is_file()
    for figure in ("chukhno2023-accuracy", "chukhno2023-pruning", "zhang2026-precision",
                   "chukhno2023-placement-fig3", "chukhno2023-placement-fig4",
                   "chukhno2023-placement-fig5"):  # fmt: skip
        assert (tmp_path / f"{figure}.png").stat().st_size > 10_000
    placement = _rows(tmp_path / "chukhno2023-placement.csv")
    delay = [r for r in placement if r["figure"] == "fig3"]
    for load in {r["edge_load"] for r in delay}:
        for form in ("full", "pruned", "on demand"):
            rows = {r["where"]: float(r["latency_s"]) for r in delay
                    if r["edge_load"] == load and r["form"] == form}  # fmt: skip
            assert rows["split"] <= min(rows["edge"], rows["device"]) * (1 + 1e-9)
    accuracy = _rows(tmp_path / "chukhno2023-accuracy.csv")
    at_zero = {float(r["top1"]) for r in accuracy if float(r["pf"]) == 0.0}
    assert len(at_zero) <= 2  # pf 0 is the trained model (fine-tuned or not)
    precision = _rows(tmp_path / "zhang2026-precision.csv")
    for cut in {r["cut"] for r in precision}:
        top1 = {r["codec"]: float(r["top1"]) for r in precision if r["cut"] == cut}
        assert top1["fp16"] == pytest.approx(top1["fp32"], abs=0.01)  # 16 bits lose nothing
