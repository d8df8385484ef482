"""``edgesplit reproduce``: the papers' figures and tables as named experiments
(``experiments.reproduce``)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from edgesplit.cli.app import (
    STARTED,
    Column,
    JsonOpt,
    choice,
    command,
    console,
    key,
    print_json,
    table,
)
from edgesplit.experiments.sweep import BACKENDS
from edgesplit.vocabulary import RESULTS_FOLDER


@command("reproduce")
def reproduce_command(
    name: Annotated[str | None, typer.Argument(help="The experiment (see --list).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the experiments.")] = False,
    quick: Annotated[bool, typer.Option(help="The CI-sized variant.")] = False,
    seeds: Annotated[int | None, typer.Option(help="Seeds per setting (default: its own).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (or Ray CPUs).")] = 1,
    backend: Annotated[str, choice(BACKENDS, "Where the tasks run.")] = "local",
    out: Annotated[Path, typer.Option(help="Folder of NAME.csv, NAME.md and the PNGs.")] = Path(
        RESULTS_FOLDER
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Replace the results already in --out.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run a paper's figure or table as a seeded experiment; write CSV, PNG and markdown."""
    from edgesplit.experiments.reproduce import EXPERIMENTS, reproduce

    if list_ or name is None:
        rows = [
            {"name": e.name, "source": e.source, "about": e.about} for e in EXPERIMENTS.values()
        ]
        if as_json:
            print_json({"experiments": rows})
            return
        columns = [Column(h, key(h), left=True) for h in ("name", "source", "about")]
        console.print(table(rows, columns, "experiments (edgesplit reproduce NAME)"))
        return
    markdown = reproduce(
        name, quick, seeds, workers, backend, out,
        command=shlex.join(["edgesplit", *sys.argv[1:]]), force=force, started=STARTED,
    )  # fmt: skip
    if as_json:
        print_json({"markdown": str(markdown)})
        return
    console.print(markdown.read_text(), highlight=False, markup=False)
    console.print(f"written: {markdown}, {markdown.with_suffix('.csv')} and its figures",
                  highlight=False)  # fmt: skip
