"""``edgesplit reproduce``: the source papers' figures and tables as named, seeded, re-runnable
experiments, their output next to the papers' numbers.

The experiments live beside their paper (``shi2025``, ``zhang2026``, ``chukhno2023``,
``mozib``); ``harness`` holds what they share. ``reproduce`` runs one through
``sweep.run_sweep`` (local worker processes or Ray: the same results either way) and writes into
its output folder NAME.csv (one row per task, or per row of a task that yields a table), its
figures (NAME.png, ...) and NAME.md (the table beside the paper's claim, with the command, the
versions, the machine and the wall time).

Nothing is overwritten unasked: a folder that holds the experiment's NAME.md or NAME.csv is
refused before anything runs, unless ``force``; the files are written into a staging folder
beside them and moved in only when all are there, and one that would replace a file of the same
name without ``force`` leaves them all in the staging folder, which the error names. The
default folder is ``out/`` (``DEFAULT_OUT``), not the committed ``docs/results/``, which the
``make results`` target re-makes explicitly.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from edgesplit.checks import output_folder, whole_number
from edgesplit.errors import EdgesplitError, InvalidParameterError
from edgesplit.experiments import chukhno2023, mozib, sb3, shi2025, split_rate, zhang2026
from edgesplit.experiments.harness import FIGURE_SOURCE, Experiment
from edgesplit.experiments.sweep import run_sweep
from edgesplit.vocabulary import RESULTS_FOLDER

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for module in (shi2025, sb3, zhang2026, chukhno2023, mozib, split_rate)
    for e in module.EXPERIMENTS
}


DEFAULT_OUT = Path(RESULTS_FOLDER)


def experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise InvalidParameterError("experiment", name, f"one of {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def check_run(seeds: int | None, workers: int) -> None:
    """A run's counts, refused before any folder is made."""
    if seeds is not None:
        whole_number("seeds", seeds, 1)
    whole_number("workers", workers, 1)


def reproduce(
    name: str,
    quick: bool = False,
    seeds: int | None = None,
    workers: int = 1,
    backend: str = "local",
    out: Path = DEFAULT_OUT,
    command: str = "",
    show_progress: bool = True,
    force: bool = False,
    started: float | None = None,
) -> Path:
    """Run experiment ``name`` and write NAME.csv, its figures and NAME.md into ``out``; returns
    the markdown file. A result already in ``out`` is replaced only with ``force``. The wall time
    it records runs from ``started`` (a ``time.perf_counter()`` reading: the command's start, so
    that its start-up counts; None: this call) to the report written."""
    from edgesplit.experiments.sweep import check_backend
    from edgesplit.profile.measure import machine_description  # imports torch

    chosen = experiment(name)
    check_run(seeds, workers)
    check_backend(backend)
    out = Path(out)
    there = [f"{name}{suffix}" for suffix in (".md", ".csv") if (out / f"{name}{suffix}").exists()]
    if there and not force:
        raise InvalidParameterError(
            "--out", str(out), f"a folder without {name}'s results ({' and '.join(there)} are "
            "there: --force replaces them)",
        )  # fmt: skip
    output_folder("--out", out)
    started = time.perf_counter() if started is None else started
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=out))
    try:
        tasks = chosen.tasks(quick, seeds)
        workers = 1 if chosen.serial else workers
        results = run_sweep(chosen.run, tasks, workers, backend, show_progress)
        rows = [
            {**task, **row}
            for task, result in zip(tasks, results, strict=True)
            for row in (result if isinstance(result, list) else [result])
        ]
        with (staging / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, list(dict.fromkeys(k for row in rows for k in row)))
            writer.writeheader()
            writer.writerows(rows)
        titled = FIGURE_SOURCE.set(chosen.source)
        try:
            table = chosen.report(tasks, results, staging)
        finally:
            FIGURE_SOURCE.reset(titled)
        machine = machine_description("cpu")
        wall_s = time.perf_counter() - started
        versions = (
            f"edgesplit {metadata.version('edgesplit')}, numpy {np.__version__}, "
            f"torch {machine['torch']}, Python {machine['python']}"
        )
        (staging / f"{name}.md").write_text(
            f"# {name}{' (quick)' if quick else ''}\n\n{chosen.about}\n\nSource: {chosen.source}."
            f"\n\n{table}\n\n"
            f"- command: `{command or f'edgesplit reproduce {name}'}`\n"
            f"- {len(tasks)} tasks, {backend} backend, {workers} worker(s)"
            f"{' (it runs serially)' if chosen.serial else ''}, wall time {wall_s:.0f} s\n"
            f"- versions: {versions}\n"
            f"- machine: {machine['cpu']}, {machine['cores']} cores\n"
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)  # an unfinished result is not a result
        raise
    _move_in(staging, out, force)
    return out / f"{name}.md"


def _move_in(staging: Path, out: Path, force: bool) -> None:
    """Every file of ``staging`` into ``out``, then ``staging`` removed; without ``force``, a
    file of the same name in ``out`` keeps them all in ``staging`` (the error names it)."""
    files = sorted(staging.iterdir())
    clashes = [f.name for f in files if (out / f.name).exists()]
    if clashes and not force:
        raise EdgesplitError(
            f"{', '.join(clashes)} already in {out}: nothing replaced; this run's files are in "
            f"{staging} (move them, or run again with --force)"
        )
    for file in files:
        file.replace(out / file.name)
    staging.rmdir()
