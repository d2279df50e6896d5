"""The layers of docs/design.md hold: every import of every module is read (AST), none points up, none closes a circle.

Imports inside functions and under ``TYPE_CHECKING`` count too: a lazy import
is still a dependency, and a circle through one is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ccanalytics"

# Each layer and what it may import besides itself (docs/design.md, "Layers").
FOUNDATION = {"allocator", "errors", "units", "contract", "settings", "model", "net", "schema"}
LAYERS: dict[str, set[str]] = {
    "foundation": set(),
    "metrics": {"foundation"},
    "chain": {"foundation"},
    "store": {"foundation", "metrics", "chain"},
    "ui": {"foundation"},
    "apps": {"foundation", "metrics", "chain", "store"},
    "cli": {"foundation", "metrics", "chain", "store", "apps"},
    "package": {"foundation", "metrics", "chain", "store", "apps", "cli", "ui"},
}
APPS = {"demo", "ingest", "collect", "fleet", "reconcile", "watch", "serve"}


def layer_of(module: str) -> str:
    """The layer of a dotted module name under ``ccanalytics``.

    >>> layer_of("ccanalytics.metrics.ledger"), layer_of("ccanalytics.units"), layer_of("ccanalytics.serve.guard")
    ('metrics', 'foundation', 'apps')
    """
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "package"
    top = parts[1]
    if top in FOUNDATION:
        return "foundation"
    if top in APPS:
        return "apps"
    if top in LAYERS:
        return top
    raise AssertionError(f"{module}: not in any layer of docs/design.md; add it to tests/test_layers.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    return imports_in(path.read_text(), module_name(path), path.name == "__init__.py")


def imports_in(source: str, module: str, is_package: bool) -> set[str]:
    """Every ``ccanalytics`` module a source imports (``from ccanalytics.x import y`` names ``y`` if it is a module)."""
    tree = ast.parse(source)
    here = module.split(".")
    package = here if is_package else here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "ccanalytics")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            if base.split(".")[0] != "ccanalytics":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if _exists(sub) else base)
    return found - {module}


def _exists(module: str) -> bool:
    target = PACKAGE.parent.joinpath(*module.split("."))
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    return {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def arrows_against_the_layers(edges: dict[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in edges.items():
        mine = layer_of(module)
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs != mine and theirs not in LAYERS[mine]:
                wrong.append(f"{module} ({mine}) imports {target} ({theirs})")
            elif mine == "apps" and target.split(".")[1] == "cli":
                wrong.append(f"{module} imports the CLI")
    return wrong


def a_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle, as the modules around it, or None.

    A package's ``__init__`` importing its own submodules (to name them) is
    not a circle: the submodules import from each other, never the init.

    >>> a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    ['a', 'b', 'c', 'a']
    >>> a_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in edges:
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_sits_in_a_layer_and_no_import_points_against_the_layers():
    assert arrows_against_the_layers(graph()) == []


def test_there_is_no_import_circle():
    assert a_cycle(graph()) is None


def test_the_checks_see_a_wrong_arrow_and_a_circle():
    edges = graph()
    edges["ccanalytics.ui.page"] = {*edges["ccanalytics.ui.page"], "ccanalytics.store"}
    edges["ccanalytics.metrics.ledger"] = {*edges["ccanalytics.metrics.ledger"], "ccanalytics.metrics.compute"}
    edges["ccanalytics.metrics.compute"] = {*edges["ccanalytics.metrics.compute"], "ccanalytics.metrics.ledger"}
    assert arrows_against_the_layers(edges) == ["ccanalytics.ui.page (ui) imports ccanalytics.store (store)"]
    assert a_cycle(edges) is not None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from ccanalytics.metrics import formulas", {"ccanalytics.metrics.formulas"}),
        ("from ccanalytics.store import open_store", {"ccanalytics.store"}),
        ("import ccanalytics.units", {"ccanalytics.units"}),
        ("def f():\n    from ccanalytics.chain.balances import LiveBalances", {"ccanalytics.chain.balances"}),
        ("from . import formulas", {"ccanalytics.metrics.formulas"}),
    ],
)
def test_imports_are_read_in_every_form(source, expected):
    assert imports_in(source, "ccanalytics.metrics.ledger", is_package=False) == expected
