"""Every ccanalytics module has its unit test file where docs/design.md says it lives.

The rule ("Tests mirror the code"): ``ccanalytics/<module>.py`` is tested in
``tests/unit/test_<module>.py``, ``ccanalytics/<package>/<module>.py`` in
``tests/unit/<package>/test_<module>.py``, a package's ``__init__.py`` in the file
named after the package one level up (``ccanalytics/chain/__init__.py`` in
``tests/unit/test_chain.py``, ``ccanalytics/__init__.py`` in
``tests/unit/test_ccanalytics.py``), and a ``__main__.py`` in ``test_main.py``
beside its package's other tests.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "ccanalytics"
UNIT = REPO / "tests" / "unit"


def unit_file(module: Path) -> Path:
    """The unit test file of one module of the package, by the rule above.

    Examples
    --------
    >>> unit_file(PACKAGE / "metrics" / "ledger.py").relative_to(UNIT).as_posix()
    'metrics/test_ledger.py'
    >>> unit_file(PACKAGE / "chain" / "__init__.py").relative_to(UNIT).as_posix()
    'test_chain.py'
    >>> unit_file(PACKAGE / "__init__.py").relative_to(UNIT).as_posix()
    'test_ccanalytics.py'
    >>> unit_file(PACKAGE / "cli" / "__main__.py").relative_to(UNIT).as_posix()
    'cli/test_main.py'
    """
    parts = module.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        package = parts[:-1]
        if not package:
            return UNIT / "test_ccanalytics.py"
        return UNIT.joinpath(*package[:-1], f"test_{package[-1]}.py")
    name = "main" if parts[-1] == "__main__" else parts[-1]
    return UNIT.joinpath(*parts[:-1], f"test_{name}.py")


def test_every_module_has_its_unit_test_file() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50, "the package's modules were not found"
    missing = [
        f"{module.relative_to(REPO).as_posix()} -> {unit_file(module).relative_to(REPO).as_posix()}"
        for module in modules
        if not unit_file(module).is_file()
    ]
    assert not missing, "modules without a unit test file:\n" + "\n".join(missing)


def test_every_unit_file_tests_something() -> None:
    """A unit file that exists but holds no test would satisfy the rule for nothing."""
    empty = []
    for module in sorted(PACKAGE.rglob("*.py")):
        path = unit_file(module)
        if path.is_file() and "def test_" not in path.read_text(encoding="utf-8"):
            empty.append(path.relative_to(REPO).as_posix())
    assert not empty, "unit files without a test: " + ", ".join(empty)
