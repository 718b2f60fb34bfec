"""The house's shape, checked: rooms that do not import each other, SQL in the store, no cycles, small modules.

docs/architecture.md draws the flow; these tests keep the code from drifting away from it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("emulator", "contracts", "sync")
SOURCES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """The project modules ``path`` imports (``from . import x`` resolved to the module ``x`` when it is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # imports under ``if TYPE_CHECKING:`` never run
        nodes = [n for n in nodes if not (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    known = {_module(p) for p in SOURCES}
    return {name for name in found if name in known}


def test_the_fake_klaviyo_imports_neither_the_judge_nor_the_rooms_above_it() -> None:
    above = (
        "contracts.verifier",
        "contracts.report",
        "emulator.dashboard",
        "emulator.server",
        "emulator.client",
    )
    for path in (ROOT / "emulator" / "klaviyo").rglob("*.py"):
        wrong = {name for name in _imports(path, top_level_only=False) if name.startswith(above)}
        assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_the_sync_and_the_contracts_do_not_import_the_emulator() -> None:
    for package in ("sync", "contracts"):
        for path in (ROOT / package).rglob("*.py"):
            wrong = {n for n in _imports(path, top_level_only=False) if n.startswith("emulator")}
            assert not wrong, f"{path.relative_to(ROOT)} imports {sorted(wrong)}"


def test_sql_is_written_only_in_the_store_and_the_outbox() -> None:
    sql = re.compile(r"\.execute(many|script)?\(")
    allowed = (ROOT / "emulator" / "klaviyo" / "store", ROOT / "sync" / "outbox.py")
    offenders = [
        str(path.relative_to(ROOT))
        for path in SOURCES
        if sql.search(path.read_text(encoding="utf-8")) and not any(path.is_relative_to(a) for a in allowed)
    ]
    assert offenders == []


def test_no_module_imports_itself_back_through_another() -> None:
    graph = {_module(p): _imports(p, top_level_only=True) - {_module(p)} for p in SOURCES}
    # A package's __init__ importing its own submodules is how it exports them, not a cycle.
    edges = {m: {n for n in deps if not m.startswith(n + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycle = [*trail[trail.index(target) :], target] if target in trail else [module, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_is_one_concept_of_at_most_450_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 450
