"""The import graph of ``hk_pipeline`` (docs/architecture.md, "Parts and their imports").

Read from the source with ``ast``, nothing imported: every ``import`` counts, at the top of a
module or inside a function (a function-local import hides a cycle, it does not break it);
only ``if TYPE_CHECKING:`` blocks are left out, as they never run.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

# in `make test-fast`, the contributors' inner loop (pyproject.toml's markers)
pytestmark = pytest.mark.fast

PACKAGE = Path(__file__).resolve().parent.parent / "hk_pipeline"

SHARED = {"calendar", "config", "paths", "faults", "indices", "industries", "tables", "ticks"}
ALLOWED: dict[str, set[str]] = {
    **{part: set() for part in SHARED},
    "tables": {"paths"},  # reads the tables' columns from sql/ddl, which paths locates
    "sources": SHARED,
    "schemas": SHARED,
    "ingest": SHARED | {"sources", "schemas", "warehouse"},
    "sample_market": SHARED | {"sources"},
    "warehouse": SHARED | {"marts"},
    "marts": SHARED | {"warehouse"},
    "report": SHARED | {"marts"},
}
"""The parts of docs/architecture.md ("Parts and their imports") and the parts each may import;
the Dagster wiring (defs, definitions, cli and its helpers) may import any part."""

CROSSINGS = {"hk_pipeline.sources.registry": "hk_pipeline.sample_market.source"}
"""Imports between parts that the table above does not allow, each the one place it is
needed (importing a module also runs its packages): the sources' registry names the sample
source (the simulator may import the sources' base types; no other source imports it)."""


def _crossing(module: str, target: str) -> bool:
    allowed = CROSSINGS.get(module, "")
    return allowed == target or allowed.startswith(target + ".")


NO_DAGSTER = tuple(f"hk_pipeline.{part}" for part in ALLOWED)
"""Parts that never import Dagster, directly or through another module of the package."""

DAGSTER_WIRING = ("hk_pipeline.defs", "hk_pipeline.definitions", "hk_pipeline.cli")

DEFERRED_IMPORTS = {
    "hk_pipeline.cli",  # each command imports what it runs: Dagster alone adds ~1.9 s
    "hk_pipeline.sources.registry",  # a source only when chosen: ~0.35 s each
    "hk_pipeline.calendar",  # exchange_calendars, ~0.4 s, imported by every CLI command
    "hk_pipeline.report.chart",  # matplotlib, ~0.9 s, only to draw the chart
}
"""The modules allowed to import inside a function, for start-up time (measured over
``import hk_pipeline.cli``, docs/architecture.md): everywhere else imports stand at the top."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> list[tuple[str, bool]]:
    """(imported name, inside a function) for each name an import statement may load."""
    is_package = path.name == "__init__.py"
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.extend((alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    here = module.split(".") if is_package else module.split(".")[:-1]
                    here = here[: len(here) - (child.level - 1)]
                    base = ".".join([*here, base] if base else here)
                found.append((base, in_function))
                found.extend((f"{base}.{alias.name}", in_function) for alias in child.names)
            else:
                nested = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
                visit(child, in_function or nested)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


@cache
def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]], dict[str, set[str]]]:
    """({module: modules of the package it imports}, {module: outside packages it imports},
    {module: names it imports inside a function})."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    inside: dict[str, set[str]] = {}
    outside: dict[str, set[str]] = {}
    deferred: dict[str, set[str]] = {}
    for module, path in paths.items():
        inside[module], outside[module], deferred[module] = set(), set(), set()
        own_packages = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
        for name, in_function in _imports(path, module):
            if in_function:
                deferred[module].add(name)
            if name.split(".")[0] != "hk_pipeline":
                outside[module].add(name.split(".")[0])
                continue
            # importing a.b.c runs a/__init__ and a/b/__init__ first (not one's own packages)
            parts = name.split(".")
            for i in range(2, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in paths and target != module and target not in own_packages:
                    inside[module].add(target)
    return inside, outside, deferred


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of the graph, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := walk(start)):
            return found
    return None


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen


def _in(module: str, parts: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in parts)


def _part(module: str) -> str:
    return module.split(".")[1] if "." in module else module


def test_parts_import_only_what_they_may() -> None:
    inside, _, _ = _graph()
    unknown = {_part(m) for m in inside} - set(ALLOWED) - {"hk_pipeline"}
    assert unknown <= {"defs", "definitions", "cli", "cli_guard", "cli_interrupts",
                       "instance_config"}, f"a new part, add it to ALLOWED: {unknown}"  # fmt: skip
    wrong = sorted(
        f"{module} -> {target}"
        for module, targets in inside.items()
        if _part(module) in ALLOWED
        for target in targets
        if _part(target) != _part(module)
        and _part(target) not in ALLOWED[_part(module)]
        and not _crossing(module, target)
    )
    assert wrong == []


def test_no_import_cycle() -> None:
    inside, _, _ = _graph()
    assert _cycle(inside) is None, "import cycle: " + " -> ".join(_cycle(inside) or [])


def test_the_pure_parts_never_import_dagster() -> None:
    inside, outside, _ = _graph()
    pure = [m for m in inside if _in(m, NO_DAGSTER)]
    assert pure, "no module found under the pure parts"
    offenders = {}
    for module in pure:
        reached = _reachable(inside, module)
        wiring = sorted(m for m in reached if _in(m, DAGSTER_WIRING))
        dagster = sorted(m for m in reached if "dagster" in outside[m])
        if wiring or dagster:
            offenders[module] = wiring + dagster
    assert offenders == {}


def test_imports_stand_at_the_top_of_modules() -> None:
    _, _, deferred = _graph()
    lazy = {m for m, names in deferred.items() if names}
    assert lazy <= DEFERRED_IMPORTS, sorted(lazy - DEFERRED_IMPORTS)


def test_the_graph_sees_a_cycle_and_a_dagster_import() -> None:
    """The checks above would catch what they guard against."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    inside, outside, _ = _graph()
    assert "dagster" in outside["hk_pipeline.defs.ingest"]
    assert "hk_pipeline.warehouse.connection" in inside["hk_pipeline.warehouse.catalogue_doc"]
