"""The package layout: kept import paths, no import cycle, no import of another's private names.

Read from the source with :mod:`ast`, so that the rules hold for every module, including the ones
this test process never imports (Celery, Redis).
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "snowplow_tracker"

#: Import paths that users and the published tracker's API use (0.10 and 1.x), with a name each
#: must still provide, and the module that now defines it.
KEPT_PATHS = [
    ("snowplow_tracker.tracker", "Tracker", "snowplow_tracker.tracker"),
    ("snowplow_tracker.emitters", "Emitter", "snowplow_tracker.emitters.sync"),
    ("snowplow_tracker.emitters", "AsyncEmitter", "snowplow_tracker.emitters.threads"),
    ("snowplow_tracker.emitters", "CeleryEmitter", "snowplow_tracker.emitters.celery.emitter"),
    ("snowplow_tracker.emitters", "RedisEmitter", "snowplow_tracker.emitters.redis.emitter"),
    ("snowplow_tracker.subject", "Subject", "snowplow_tracker.subject"),
    (
        "snowplow_tracker.self_describing_json",
        "SelfDescribingJson",
        "snowplow_tracker.protocol.self_describing_json",
    ),
    ("snowplow_tracker.payload", "Payload", "snowplow_tracker.protocol.payload"),
    ("snowplow_tracker.contracts", "form_element", "snowplow_tracker.contracts"),
    ("snowplow_tracker.contracts", "disable_contracts", "snowplow_tracker.protocol.contracts"),
    ("snowplow_tracker.constants", "VERSION", None),
    ("snowplow_tracker.constants", "CONTEXT_SCHEMA", None),
    ("snowplow_tracker.redis_worker", "RedisWorker", "snowplow_tracker.emitters.redis.worker"),
    (
        "snowplow_tracker.event_store",
        "InMemoryEventStore",
        "snowplow_tracker.delivery.event_store",
    ),
    ("snowplow_tracker.typing", "PayloadDict", None),
    ("snowplow_tracker.tracker_configuration", "TrackerConfiguration", None),
    ("snowplow_tracker.emitter_configuration", "EmitterConfiguration", None),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> Iterator[Tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield module_name(path), path


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def top_level_imports(tree: ast.Module) -> Iterator[ast.stmt]:
    """Imports run when the module is imported: not in functions, not under TYPE_CHECKING."""
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            yield from (n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom)))


def all_imports(tree: ast.AST) -> Iterator[ast.stmt]:
    """Every import, including the ones inside functions; not those under TYPE_CHECKING."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            yield from (n for s in node.orelse for n in all_imports(ast.Module([s], [])))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        else:
            yield from all_imports(node)


def known(name: str, names: Set[str]) -> str:
    """The longest prefix of ``name`` that is a module of the package, or ''."""
    while name and name not in names:
        name = name.rpartition(".")[0]
    return name


def import_graph(inside_functions: bool = False) -> Dict[str, Set[str]]:
    names = {m for m, _ in modules()}
    graph: Dict[str, Set[str]] = {m: set() for m in names}
    find = all_imports if inside_functions else top_level_imports
    for module, path in modules():
        for node in find(ast.parse(path.read_text())):
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = resolve(module, path, node)
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                found = known(target, names)
                if found and found != module:
                    graph[module].add(found)
    return graph


@pytest.mark.parametrize(("path", "name", "defined_in"), KEPT_PATHS)
def test_kept_import_paths_still_provide_their_names(
    path: str, name: str, defined_in: str | None
) -> None:
    value = getattr(importlib.import_module(path), name)
    if defined_in is not None:
        assert getattr(importlib.import_module(defined_in), name) is value


@pytest.mark.parametrize("inside_functions", [False, True])
def test_no_import_cycle_between_the_package_modules(inside_functions: bool) -> None:
    """Module-level imports, then every import including those inside functions: a package
    ``__init__`` importing its own submodules is the one allowed edge (a submodule is imported
    through its package)."""
    graph = import_graph(inside_functions)
    for module in graph:  # a package's edges to its own children do not form cycles
        graph[module] = {t for t in graph[module] if not t.startswith(module + ".")}
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_protocol_layer_imports_nothing_from_delivery_or_emitters() -> None:
    graph = import_graph(inside_functions=True)
    offenders = sorted(
        f"{module} -> {target}"
        for module, targets in graph.items()
        if module.startswith("snowplow_tracker.protocol")
        for target in targets
        if target.startswith(("snowplow_tracker.delivery", "snowplow_tracker.emitters"))
    )
    assert offenders == []


def test_no_module_imports_private_names_of_another() -> None:
    offenders = []
    for module, path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            source = resolve(module, path, node)
            if not source.startswith("snowplow_tracker") or source == module:
                continue
            for alias in node.names:
                if alias.name.startswith("_") and alias.name != "__all__":
                    offenders.append(f"{module}: from {source} import {alias.name}")
    assert offenders == []


def test_every_subpackage_says_what_it_holds() -> None:
    for init in sorted(PACKAGE.rglob("__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init.relative_to(PACKAGE.parent)} has no docstring"
