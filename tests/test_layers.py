"""Imports point down the layers of docs/architecture.md, and no two modules import each other in a circle.

Every ``import`` counts, at module level or inside a function: a late import still ties the two
modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "tasks", "flows", "simulators", "benchmarks")

#: Layer of a module: the longest of these prefixes it starts with.
LAYER_OF = {
    "schemas": "schemas",
    "tasks.rules": "rules",
    "tasks.providers": "providers",
    "tasks.http": "providers",
    "tasks.payload": "providers",
    "tasks.credentials": "providers",
    "tasks.stop": "providers",
    "tasks.ledger": "state",
    "tasks.ledger_leads": "state",
    "tasks.ledger_legacy": "state",
    "tasks.ledger_file": "state",
    "tasks.ledger_feedback": "state",
    "tasks": "tasks",
    "flows": "flows",
    "simulators": "simulators",
    "benchmarks": "benchmarks",
}

#: What each layer may import (itself included). Anything else is an upward or sideways import.
MAY_IMPORT = {
    "schemas": {"schemas"},
    "rules": {"rules", "schemas"},
    "providers": {"providers", "rules", "schemas"},
    "state": {"state", "schemas"},
    "tasks": {"tasks", "state", "providers", "rules", "schemas"},
    "flows": {"flows", "tasks", "state", "providers", "rules", "schemas", "simulators"},
    "simulators": {"simulators"},
    "benchmarks": {"benchmarks", "flows", "tasks", "state", "providers", "rules", "schemas", "simulators"},
}


def module_name(path: Path) -> str:
    """``tasks/rules/dnc.py`` -> ``tasks.rules.dnc``; a package's ``__init__.py`` -> the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def imported_names(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """The dotted names ``path`` imports anywhere in its body (with ``from X import y``: ``X.y`` and ``X``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base, node.lineno
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno


def resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The project module ``target`` names (the longest known prefix), or None for third-party code."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def layer(module: str) -> str:
    """The layer ``module`` belongs to."""
    prefix = max((p for p in LAYER_OF if module == p or module.startswith(p + ".")), key=len)
    return LAYER_OF[prefix]


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> the project modules it imports, each with the line of its first import."""
    modules = project_modules()
    graph: dict[str, dict[str, int]] = {}
    for name, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in imported_names(path, name):
            found = resolve(target, modules)
            if found is not None and found != name and not name.startswith(found + "."):
                edges.setdefault(found, line)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward(graph: dict[str, dict[str, int]]) -> list[str]:
    """Every import of a layer that the layer may not import, with its line."""
    return [
        f"{name} ({layer(name)}) imports {target} ({layer(target)}) at line {line}"
        for name, edges in graph.items()
        for target, line in edges.items()
        if layer(target) not in MAY_IMPORT[layer(name)]
    ]


def test_every_module_has_a_layer() -> None:
    assert all(layer(name) in MAY_IMPORT for name in project_modules())


def test_imports_point_down_the_layers() -> None:
    assert upward(import_graph()) == []


def test_no_import_circles() -> None:
    assert cycles(import_graph()) == []


@pytest.mark.parametrize(
    ("edge", "allowed"),
    [
        (("schemas.lead", "tasks.rules.dnc"), False),
        (("tasks.rules.phones", "schemas.columns"), True),
        (("tasks.providers.voiso", "tasks.delivery.attempt"), False),
        (("tasks.providers.voiso", "tasks.http"), True),
        (("tasks.ledger", "tasks.providers.errors"), False),
        (("tasks.delivery.attempt", "tasks.ledger"), True),
        (("simulators.voiso", "schemas.columns"), False),
        (("tasks.report", "simulators.server"), False),
        (("flows.commands", "simulators.server"), True),
    ],
)
def test_the_layer_check_tells_down_from_up(edge: tuple[str, str], allowed: bool) -> None:
    source, target = edge
    assert (upward({source: {target: 1}}) == []) is allowed


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b": 1}, "b": {"a": 1}}, [["a", "b"]]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}, [["a", "b", "c"]]),
        ({"a": {"b": 1}, "b": {}, "c": {"b": 1}}, []),
    ],
)
def test_cycles_finds_circles(graph: dict[str, dict[str, int]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


def test_function_level_and_relative_imports_count(tmp_path: Path) -> None:
    source = tmp_path / "late.py"
    source.write_text("def f():\n    from flows.cli import main\n    import tasks.ledger\n    from . import text\n")
    found = {target for target, _ in imported_names(source, "schemas.late")}
    assert {"flows.cli.main", "tasks.ledger", "schemas.text"} <= found
