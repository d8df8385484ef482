"""Test access to the preset table list that scripts/build_tables.py builds."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def preset_table_specs() -> list:
    path = Path(__file__).resolve().parent.parent / "scripts" / "build_tables.py"
    spec = importlib.util.spec_from_file_location("build_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return list(module.preset_tables())
