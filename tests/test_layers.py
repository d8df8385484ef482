"""The package layers of docs/architecture.md hold in the code: read both (the table from the
page, the imports with ``ast``, module level and inside functions alike) and compare."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "edgesplit"
# what an import inside a function may defer (a module that imports one of these at its top,
# when the importing module does not)
HEAVY = {
    "gymnasium", "grpc", "matplotlib", "numba", "onnxruntime", "pandas", "pvlib", "ray",
    "scipy", "sklearn", "stable_baselines3", "torch", "torchvision", "tritonclient",
}  # fmt: skip


def _table() -> dict[str, tuple[int, set[str], set[str]]]:
    """package -> (layer, the packages it imports, those of them above it) from the page's
    table; a name marked ``^`` is imported upward on purpose."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("## The package graph", 1)[1].split("```", 2)[1]
    rows: list[list] = []
    for line in block.splitlines()[2:]:
        start = re.match(r"^\s+(\d+)\s{2,}(\S.*?)\s{2,}(\S.*)$", line)
        if start:
            rows.append([int(start[1]), start[2], start[3]])
        elif line.strip():
            rows[-1][2] += " " + line.strip()
    table = {}
    for layer, names, imports in rows:
        listed = {n.strip() for n in re.sub(r"\(.*?\)", "", imports).split(",")} - {"-", ""}
        up = {n[1:] for n in listed if n.startswith("^")}
        for name in names.split(","):
            table[name.strip()] = (layer, {n.lstrip("^") for n in listed}, up)
    return table


def _modules() -> dict[str, Path]:
    out = {}
    for path in SOURCE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imports(modules: dict[str, Path]) -> list[tuple[str, list[str], bool]]:
    """(module, the modules one import statement names, whether it sits in a function) for
    every import outside ``if TYPE_CHECKING``."""
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                named = [node.module] + [
                    f"{node.module}.{a.name}" for a in node.names
                    if f"{node.module}.{a.name}" in modules
                ]  # fmt: skip
            elif isinstance(node, ast.Import):
                named = [a.name for a in node.names]
            else:
                continue
            inside, checking, up = False, False, node
            while up in parents:
                up = parents[up]
                inside |= isinstance(up, ast.FunctionDef | ast.AsyncFunctionDef)
                checking |= isinstance(up, ast.If) and "TYPE_CHECKING" in ast.unparse(up.test)
            if not checking:
                found.append((name, named, inside))
    return found


def _package(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_every_import_goes_down_the_documented_layers():
    """Each package imports exactly what its row lists (nothing unlisted, nothing stale), and
    each listed package sits on a lower layer unless marked as the one upward import."""
    table = _table()
    base = {name for name, (layer, _, _) in table.items() if layer == 0}
    used: dict[str, set[str]] = defaultdict(set)
    for module, named, _ in _imports(_modules()):
        mine = _package(module)
        for other in named:
            if other.startswith("edgesplit.") and _package(other) != mine:
                used[mine].add(_package(other))
    assert set(used) <= set(table), f"packages without a row: {set(used) - set(table)}"
    for package, imported in used.items():
        layer, listed, up = table[package]
        assert imported - base - {"__version__"} == listed, package
        for other in listed:
            assert (table[other][0] < layer) != (other in up), (package, other)


def test_an_import_inside_a_function_defers_a_heavy_library_or_a_cycle():
    """An edgesplit import from another package sits in a function only when the module it
    names brings a heavy library its importer does not have (torch, for a command that never
    traces) or imports the importer back, or in a CLI command (each imports what it runs when
    it runs, so that ``edgesplit --help`` starts without NumPy); every other one is at the top
    of its module."""
    modules = _modules()
    found = _imports(modules)
    top: dict[str, set[str]] = defaultdict(set)
    for module, named, inside in found:
        if not inside:
            top[module].update(named)

    def closure(module: str, seen: set[str]) -> set[str]:
        if module not in seen:
            seen.add(module)
            parts = module.split(".")
            for parent in (".".join(parts[:i]) for i in range(1, len(parts))):
                closure(parent, seen)
            for other in top.get(module, ()):
                if other in modules:
                    closure(other, seen)
                else:
                    seen.add(other.split(".")[0])
        return seen

    needless = []
    for module, named, inside in found:
        local = [m for m in named if m in modules and _package(m) != _package(module)]
        if not inside or not local or _package(module) == "cli":
            continue
        theirs = set().union(*(closure(m, set()) for m in local))
        mine = closure(module, set())
        if not (theirs & HEAVY) - mine and module not in theirs:
            needless.append(f"{module}: {', '.join(local)}")
    assert not needless, "imports that belong at the top:\n" + "\n".join(needless)
