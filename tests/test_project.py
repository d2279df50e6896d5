"""The project keeps its promises about itself: lint, public names, dependency lists, docs."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import ccanalytics

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_lint_passes():
    result = _ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied():
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names_are_exactly_all():
    public = {name for name in vars(ccanalytics) if not name.startswith("_") and name != "annotations"}
    modules = {name for name in public if type(getattr(ccanalytics, name)).__name__ == "module"}
    assert public - modules == set(ccanalytics.__all__)


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.sub(r"\s+", "", r).lower() for r in requirements}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    env_pip = [
        line.strip()[2:].strip()
        for line in (ROOT / "environment.yml").read_text().splitlines()
        if line.strip().startswith("- ") and line.startswith(" " * 6)
    ]
    env_pip = [r for r in env_pip if r != "-e ."]
    assert _requirement_names(env_pip) == _requirement_names(declared)


def test_house_rules_hold_in_the_computing_modules():
    """Metrics never iterate over rows, never call Python per element, never do I/O."""
    for module in ("metrics", "ledger"):
        source = (ROOT / "ccanalytics" / f"{module}.py").read_text()
        for forbidden in ("iter_rows", "map_elements", "apply(", "sqlite3", "open("):
            assert forbidden not in source, f"{module}.py uses {forbidden}"


def test_every_command_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    from ccanalytics.cli import _parser

    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, parser in commands.items():
        assert f"ccanalytics {name}" in readme, f"README does not show `ccanalytics {name}`"
        for action in parser._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in readme, f"README does not mention {name} {flag}"
