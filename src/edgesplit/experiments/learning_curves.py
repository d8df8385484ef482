"""Time to reach 95 % of the final score, per training run (the quality bar of the policies issue).

    python -m edgesplit.experiments.learning_curves runs/ddp-shi2025-5g runs/emh-ppo-zhang2026 ...

Reads each run folder's ``eval.csv`` (written by ``edgesplit train``: step, wall seconds, mean
evaluation score on held-out seeds) and prints the final score, the best, and the first step and
wall time at which the score came within 5 % of the final one (score >= final - 0.05 |final|, which
is "95 % of final utility" for positive utilities and the same band for negative rewards).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def time_to_final(rows: list[dict[str, float]], share: float = 0.95) -> dict[str, float]:
    """The first evaluation whose score is within (1 - share) |final| of the final score."""
    final = rows[-1]["score"]
    bar = final - (1 - share) * abs(final)
    first = next(row for row in rows if row["score"] >= bar)
    return {"final": final, "best": max(r["score"] for r in rows), "step": first["step"],
            "wall_s": first["wall_s"]}  # fmt: skip


def read_evaluations(run: Path) -> list[dict[str, float]]:
    """The rows of a run folder's ``eval.csv``."""
    with (run / "eval.csv").open() as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args()
    missing = [str(run) for run in args.runs if not (run / "eval.csv").is_file()]
    if missing:
        parser.error(f"no eval.csv (not an `edgesplit train` run folder): {', '.join(missing)}")
    print(f"{'run':<32} {'final':>10} {'best':>10} {'steps to 95%':>13} {'wall s':>8}")
    for run in args.runs:
        result = time_to_final(read_evaluations(run))
        print(f"{run.name:<32} {result['final']:>10.4g} {result['best']:>10.4g} "
              f"{result['step']:>13.0f} {result['wall_s']:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
