"""Build the cost tables of every scenario preset into package data (src/edgesplit/data/tables).

    python scripts/build_tables.py

The simulator reads these instead of tracing models (so it starts without importing torch);
`tests/sim/test_tables.py` checks that the shipped tables equal a fresh build.
"""

from __future__ import annotations

from pathlib import Path

from edgesplit.costs import TableSpec, build_table, save_table
from edgesplit.sim.scenario import load_scenario, presets, table_spec

FOLDER = Path(__file__).resolve().parent.parent / "src/edgesplit/data/tables"


def preset_tables() -> list[TableSpec]:
    """The tables of every preset's device and server pairs."""
    specs = []
    for name in presets():
        scenario = load_scenario(name)
        for device in scenario.devices:
            for server in scenario.servers:
                spec = table_spec(scenario, device, server)
                if spec not in specs:
                    specs.append(spec)
    return specs


def main() -> None:
    for spec in preset_tables():
        path = save_table(build_table(spec), FOLDER)
        print(f"wrote {path.name} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
