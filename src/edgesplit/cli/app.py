"""The typer application, its error handling, and what every command shares: the consoles, the
common options, JSON output and the one table renderer.

Nothing here imports NumPy, torch or torchvision: ``edgesplit --help`` and the commands that
never trace start without them (each command imports what it needs when it runs).
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from edgesplit.cli.options import check_options
from edgesplit.errors import EdgesplitError
from edgesplit.vocabulary import GRANULARITIES

STARTED = time.perf_counter()  # the command's start (what it reports as wall time counts it)

app = typer.Typer(
    help="edgesplit: decide where each DNN runs (device, edge server, or split) and run it so.",
    no_args_is_help=True,
)
# Off a terminal (pipes, CI logs) rich would wrap at 80 columns; the tables need more.
console = Console() if sys.stdout.isatty() else Console(width=140)
err_console = Console(stderr=True, soft_wrap=True)  # an error is one line, also in a log file

ModelArg = Annotated[
    str,
    typer.Argument(
        help="A model name (see `edgesplit models`), or your own model as file.py:factory or "
        "package.module:factory (a Module class or a function returning a module)."
    ),
]


def choice(names: tuple[str, ...], help: str) -> typer.models.OptionInfo:
    """An option whose value is one of ``names``: help and shell completion list them, and the
    command's own check refuses anything else in one line."""
    return typer.Option(
        help=help,
        metavar=f"<{'|'.join(names)}>",
        autocompletion=lambda incomplete: [n for n in names if n.startswith(incomplete)],
    )


GranularityOpt = Annotated[str, choice(GRANULARITIES, "Graph granularity.")]
InputSizeOpt = Annotated[int, typer.Option(help="Input image side in pixels (1 x 3 x N x N).")]
InputShapeOpt = Annotated[
    str | None, typer.Option(help="Input shape instead, e.g. 1,3,224,224 or 8,16.")
]
SeedOpt = Annotated[int, typer.Option(help="Seed of the random weights and input.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _version(value: bool) -> None:
    if value:
        from edgesplit import __version__

        console.print(f"edgesplit {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """edgesplit: decide where each DNN runs (device, edge server, or split) and run it so."""


def command(name: str | None = None) -> Callable[[Callable], Callable]:
    """Register a command whose options are checked by name before it runs
    (``cli.options.RULES``) and whose library errors print one line and exit with status 1."""

    def register(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                check_options(kwargs)
                return function(*args, **kwargs)
            except EdgesplitError as error:
                err_console.print(f"[bold red]error:[/] {error}", highlight=False)
                raise typer.Exit(1) from None
            except OSError as error:  # reading or writing a file failed midway (a full disk)
                where = f" {error.filename}" if error.filename else ""
                err_console.print(
                    f"[bold red]error:[/] input/output failed{where}: {error.strerror or error}",
                    highlight=False,
                )
                raise typer.Exit(1) from None

        return app.command(name)(wrapper)

    return register


def settings_from(items: list[str] | None) -> dict[str, str]:
    """``--set FIELD=VALUE`` options (repeatable) as {FIELD: VALUE} (text, parsed by the setting's
    owner)."""
    pairs = {}
    for item in items or []:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise EdgesplitError(f"--set={item!r} is invalid: FIELD=VALUE")
        pairs[key.strip()] = value.strip()
    return pairs


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


@dataclass(frozen=True)
class Column:
    """One column of a rendered table: its header, and the cell of a row (a dict)."""

    header: str
    cell: Callable[[dict[str, Any]], str]
    left: bool = False  # text, left-aligned; other columns are numbers, right-aligned
    whole: bool = False  # a text column whose cells are never wrapped (numbers never are)


def key(name: str, fmt: str = "", factor: float = 1.0) -> Callable[[dict[str, Any]], str]:
    """The cell showing ``row[name]`` (times ``factor``, formatted by ``fmt``; '-' for None)."""

    def cell(row: dict[str, Any]) -> str:
        value = row[name]
        if value is None:
            return "-"
        return format(value * factor, fmt) if fmt else str(value)

    return cell


def table(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[Column],
    title: str | None = None,
    **kwargs: Any,
) -> Table:
    """Render rows (dicts) as a rich table: the one renderer every command uses. On a narrow
    terminal headers and long text wrap, but numbers (and ``whole`` text columns) are never cut
    or wrapped."""
    rows = list(rows)
    cells = [[column.cell(row) for column in columns] for row in rows]
    rendered = Table(title=title, **kwargs)
    for i, column in enumerate(columns):
        widest = max((len(line) for r in cells for line in r[i].splitlines()), default=0)
        rendered.add_column(
            column.header, justify="left" if column.left else "right", overflow="fold",
            min_width=widest if column.whole or not column.left else None,
        )  # fmt: skip
    for r in cells:
        rendered.add_row(*r)
    return rendered


def mib(bits: float) -> str:
    return f"{bits / 8 / 2**20:.3f}"
