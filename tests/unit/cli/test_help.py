"""cli/help.py: every command's help has a description and examples; the version is the package's."""

from __future__ import annotations

from importlib.metadata import version

from ccanalytics.cli import _parser
from ccanalytics.cli.help import HELP, package_version


def test_the_described_commands_help_shows_their_description_and_examples() -> None:
    commands = _parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(HELP) <= set(commands)
    for name, (description, examples) in HELP.items():
        text = commands[name].format_help()
        assert description.split()[0] in text and examples in text and f"  ccanalytics {name} " in text, name


def test_the_version_is_the_installed_packages() -> None:
    assert package_version() == version("ccanalytics")
