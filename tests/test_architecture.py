"""The shape of the code, kept by tests: one-way layers, no import cycle, small modules.

Imports are read from the source with ``ast`` (every ``import`` statement, including the ones
inside functions), so a lazy import cannot hide a dependency against the direction.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"xp": ROOT / "service" / "xp", "xp_client": ROOT / "client" / "xp_client"}
MAX_LINES = 400

# The service's layers, bottom first: a module may import its own layer or a lower one.
LAYERS: dict[str, int] = {
    "xp": 0,  # the package itself: a docstring
    "xp.settings": 0,
    "xp.metrics": 0,
    "xp.redaction": 0,
    "xp.stats": 0,  # pure numpy/scipy over sufficient statistics
    "xp.definitions": 1,
    "xp.events": 2,
    "xp.attribution": 3,
    "xp.store": 4,
    "xp.ingest": 5,
    "xp.exposure_buffer": 5,
    "xp.sticky": 5,
    "xp.results": 5,
    "xp.reports": 6,
    "xp.runtime": 6,
    "xp.errors": 7,
    "xp.auth": 7,
    "xp.logs": 7,
    "xp.ratelimit": 7,
    "xp.persistence": 7,
    "xp.api": 7,
    "xp.web": 7,
    "xp.cli": 7,
    "xp.app": 7,
    "xp.wsgi": 8,
}
# What each pure layer may not import, whatever its rank.
FORBIDDEN = {
    "xp.stats": ("flask", "redis", "sqlite3", "werkzeug", "xp_client"),
    "xp.definitions": ("flask", "redis", "sqlite3"),
    "xp.events": ("flask", "redis", "sqlite3"),
    "xp.attribution": ("flask", "redis", "sqlite3"),
}


def module_files() -> Iterator[tuple[str, Path]]:
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            yield name, path


MODULES = dict(module_files())


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` names ``a.b`` when that is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return found


GRAPH = {name: {m for m in imports_of(path) if m in MODULES} for name, path in MODULES.items()}
EXTERNAL = {name: {m.split(".")[0] for m in imports_of(path)} for name, path in MODULES.items()}


def layer_of(module: str) -> str:
    for layer in sorted(LAYERS, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    raise AssertionError(f"{module!r} belongs to no layer: add it to LAYERS")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_walk_sees_the_whole_code() -> None:
    assert {"xp.app", "xp.store.base", "xp_client.engine", "xp_client.sdk"} <= set(MODULES)
    assert "xp_client.definition" in GRAPH["xp_client.engine"]
    assert "xp.store.base" in GRAPH["xp.ingest"]


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("xp.")))
def test_service_imports_point_down(module: str) -> None:
    rank = LAYERS[layer_of(module)]
    against = [
        target
        for target in GRAPH[module]
        if target.startswith("xp.") and LAYERS[layer_of(target)] > rank
    ]
    assert against == [], f"{module} ({layer_of(module)}) imports upper layers: {against}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_pure_layers_import_no_driver_or_web_framework(layer: str) -> None:
    offenders = {
        module: sorted(EXTERNAL[module] & set(FORBIDDEN[layer]))
        for module in MODULES
        if module.startswith("xp.")
        and layer_of(module) == layer
        and EXTERNAL[module] & set(FORBIDDEN[layer])
    }
    assert offenders == {}


def test_the_sdk_imports_only_the_standard_library_and_mmh3() -> None:
    allowed = set(sys.stdlib_module_names) | {"mmh3", "xp_client", "__future__"}
    offenders = {
        module: sorted(EXTERNAL[module] - allowed)
        for module in MODULES
        if module.startswith("xp_client") and EXTERNAL[module] - allowed
    }
    assert offenders == {}


def test_no_module_is_over_the_line_limit() -> None:
    long = {
        name: lines
        for name, path in MODULES.items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these along their seams (> {MAX_LINES} lines): {long}"


def test_tests_import_their_helpers_as_a_package() -> None:
    for conftest in (ROOT / "tests").rglob("conftest.py"):
        assert "sys.path" not in conftest.read_text(encoding="utf-8"), conftest


def _is_kind(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "kind") or (
        isinstance(node, ast.Name) and node.id == "kind"
    )


def test_only_the_kind_registries_branch_on_a_metric_kind() -> None:
    """Everything else reads a kind's traits, so adding a kind touches one place per layer."""
    from xp.definitions.model import METRIC_KINDS

    registries = {"xp.definitions.model", "xp.attribution.metric_kinds"}
    branching: dict[str, list[int]] = {}
    for module, path in MODULES.items():
        if module in registries or not module.startswith("xp."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare) or not _is_kind(node.left):
                continue
            named = {
                c.value
                for comparator in node.comparators
                for c in ast.walk(comparator)
                if isinstance(c, ast.Constant)
            }
            if named & set(METRIC_KINDS):
                branching.setdefault(module, []).append(node.lineno)
    assert branching == {}
