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


def test_mypy_passes():
    """The package, the benchmarks and the scripts type-check (pyproject's ``[tool.mypy]``)."""
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_ignores_nothing_wholesale():
    """Only named third-party modules without types are let off; no module of ours skips the check."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert not {"ignore_missing_imports", "ignore_errors", "follow_imports"} & set(config)
    for override in config.get("overrides", []):
        assert set(override) == {"module", "ignore_missing_imports"}, override
        assert not any(
            m == "*" or m.split(".")[0] in ("ccanalytics", "tests", "benchmarks") for m in override["module"]
        )
    for path in [*ROOT.glob("ccanalytics/**/*.py"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")]:
        assert "# mypy: ignore-errors" not in path.read_text(), path


def test_public_names_are_exactly_all():
    for name in ccanalytics.__all__:  # imported on first use (a dashboard kernel never loads polars)
        getattr(ccanalytics, name)
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
    """Metrics never iterate over rows, never call Python per element, never do I/O.

    ``metrics/snapshot.py`` is the snapshot's JSON form: turning its few frames
    into Python values row by row is what it is for, so only I/O is ruled out there.
    """
    for path in sorted((ROOT / "ccanalytics" / "metrics").glob("*.py")):
        source = path.read_text()
        forbidden = (
            ("sqlite3", "open(")
            if path.name == "snapshot.py"
            else ("iter_rows", "map_elements", "apply(", "sqlite3", "open(")
        )
        for word in forbidden:
            assert word not in source, f"metrics/{path.name} uses {word}"


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


def test_the_docs_links_stay_inside_the_repository():
    """A user reads the repository alone: every relative link of README.md and docs/ resolves in it."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    broken = []
    for page in [root / "README.md", *sorted((root / "docs").rglob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # http(s) and mailto links are not files
            resolved = (page.parent / target).resolve()
            if not resolved.exists() or (root not in resolved.parents and resolved != root):
                broken.append(f"{page.relative_to(root)}: {target}")
    assert broken == []


def test_the_cli_has_a_version_and_each_command_help_has_examples():
    import subprocess
    import sys

    version = subprocess.run([sys.executable, "-m", "ccanalytics", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("ccanalytics ")
    from ccanalytics.cli import _parser

    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command in commands:
        shown = subprocess.run([sys.executable, "-m", "ccanalytics", command, "--help"], capture_output=True, text=True)
        assert "examples:" in shown.stdout and f"ccanalytics {command} " in shown.stdout, command
    serve = subprocess.run([sys.executable, "-m", "ccanalytics", "serve", "--help"], capture_output=True, text=True)
    for name in ("CCANALYTICS_DB", "CCANALYTICS_REFRESH_S", "CCANALYTICS_CULL_IDLE_S", "CCANALYTICS_DEMO_SPEED"):
        assert name in serve.stdout
