"""The shape the issue asked for: no import cycle in the query engine, one AST walk."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "opskit"
MODULES = sorted((PACKAGE / "insights").rglob("*.py")) + sorted((PACKAGE / "logs").rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every opskit.insights/opskit.logs module `path` imports, at any depth (lazy ones too)."""
    names = {module_name(p) for p in MODULES}
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in names else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {n for n in found if n in names and n != module_name(path)}


def test_no_import_cycle_in_the_engine_and_events_layer():
    graph = {module_name(p): imports(p) for p in MODULES}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(trail + [node, nxt]))
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


def test_one_ast_walker():
    """Only walk.py recurses over the AST's dataclass fields."""
    walkers = [
        p.name
        for p in MODULES
        if "dataclass_fields" in p.read_text() or "vars(node)" in p.read_text()
    ]
    assert walkers == ["walk.py"]
