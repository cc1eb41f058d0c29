"""The package's shape, checked from its source (no server): no import cycle, not even a type-only or a
function-local one; the runner imported for running only; run facts read as attributes, never by string."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "harness"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _trees() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, tree: ast.Module, modules: set[str]) -> set[str]:
    """Every harness module `name` imports, wherever the import stands (top level, TYPE_CHECKING, a function)."""
    found: set[str] = set()
    package = name if name in modules and (PACKAGE / Path(*name.split(".")[1:]) / "__init__.py").exists() \
        else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("harness")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("harness"):
                continue
            for alias in node.names:  # `from harness import probes` imports the module harness.checks.probes
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    trees = _trees()
    modules = set(trees)
    return {name: _imports(name, tree, modules) for name, tree in trees.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
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


def test_no_import_cycle_not_even_type_only() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_an_import_inside_a_function_or_type_checking_counts() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from harness.b import X\n"
                     "def f():\n    from harness import c\n")
    assert _imports("harness.a", tree, {"harness.a", "harness.b", "harness.c"}) == {"harness.b", "harness.c"}


def test_the_runner_is_imported_to_run_only() -> None:
    """Results are harness/run/results.py's: a module imports the runner only for run_scenario."""
    for name, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "harness.run.runner":
                assert [a.name for a in node.names] == ["run_scenario"], (name, [a.name for a in node.names])


@pytest.mark.parametrize("root", ["harness", "tests"])
def test_run_facts_are_read_as_attributes(root: str) -> None:
    """No `<x>.facts[...]` nor `<x>.facts.get(...)`: the facts are typed (harness/run/results.py)."""
    offending = []
    for path in sorted((PACKAGE.parent / root).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target = node.value if isinstance(node, ast.Subscript) else \
                node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get" else None
            if isinstance(target, ast.Attribute) and target.attr == "facts":
                offending.append(f"{path.name}:{node.lineno}")
    assert offending == []
