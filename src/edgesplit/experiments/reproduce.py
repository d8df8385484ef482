"""``edgesplit reproduce``: the source papers' figures and tables as named, seeded, re-runnable
experiments, their output next to the papers' numbers.

The experiments live beside their paper (``shi2025``, ``zhang2026``, ``chukhno2023``,
``mozib``); ``harness`` holds what they share. ``reproduce`` runs one through
``sweep.run_sweep`` (local worker processes or Ray: the same results either way) and writes into
its output folder NAME.csv (one row per task, or per row of a task that yields a table), its
figures (NAME.png, ...) and NAME.md (the table beside the paper's claim, with the command, the
versions, the machine and the wall time).
"""

from __future__ import annotations

import csv
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from edgesplit.errors import InvalidParameterError
from edgesplit.experiments import chukhno2023, mozib, sb3, shi2025, zhang2026
from edgesplit.experiments.harness import Experiment
from edgesplit.experiments.sweep import run_sweep

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for module in (shi2025, sb3, zhang2026, chukhno2023, mozib)
    for e in module.EXPERIMENTS
}


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise InvalidParameterError("experiment", name, f"one of {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def reproduce(
    name: str,
    quick: bool = False,
    seeds: int | None = None,
    workers: int = 1,
    backend: str = "local",
    out: Path = Path("docs/results"),
    command: str = "",
    show_progress: bool = True,
) -> Path:
    """Run experiment ``name`` and write NAME.csv, its figures and NAME.md into ``out``; returns
    the markdown file."""
    from edgesplit.profile.measure import machine_description  # imports torch

    chosen = experiment(name)
    if seeds is not None and seeds < 1:
        raise InvalidParameterError("seeds", seeds, "at least 1")
    out.mkdir(parents=True, exist_ok=True)
    tasks = chosen.tasks(quick, seeds)
    workers = 1 if chosen.serial else workers
    started = time.perf_counter()
    results = run_sweep(chosen.run, tasks, workers, backend, show_progress)
    wall_s = time.perf_counter() - started
    rows = [
        {**task, **row}
        for task, result in zip(tasks, results, strict=True)
        for row in (result if isinstance(result, list) else [result])
    ]
    with (out / f"{name}.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
    table = chosen.report(tasks, results, out)
    machine = machine_description("cpu")
    versions = (
        f"edgesplit {metadata.version('edgesplit')}, numpy {np.__version__}, "
        f"torch {machine['torch']}, Python {machine['python']}"
    )
    markdown = out / f"{name}.md"
    markdown.write_text(
        f"# {name}{' (quick)' if quick else ''}\n\n{chosen.about}\n\nSource: {chosen.source}.\n\n"
        f"{table}\n\n"
        f"- command: `{command or f'edgesplit reproduce {name}'}`\n"
        f"- {len(tasks)} tasks, {backend} backend, {workers} worker(s)"
        f"{' (it runs serially)' if chosen.serial else ''}, wall time {wall_s:.0f} s\n"
        f"- versions: {versions}\n"
        f"- machine: {machine['cpu']}, {machine['cores']} cores\n"
    )
    return markdown
