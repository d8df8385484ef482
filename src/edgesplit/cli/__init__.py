"""The ``edgesplit`` command: thin typer commands over the library, one module per area. Each
command builds plain data in SI units and prints it as tables (``cli.app.table``) or, with
``--json``, as JSON; library errors print one line and exit with status 1."""

import os

from edgesplit.cli import (  # noqa: F401  (they register the commands)
    compress,
    experiments,
    graph,
    plan,
    profile,
    runtime,
    sim,
)
from edgesplit.cli.app import app


def main() -> None:
    """Entry point of the console script. gRPC's C core logs its own errors (a port it could not
    bind) before ours say the same in one line: it is silent unless GRPC_VERBOSITY asks."""
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    app()


__all__ = ["app", "main"]
