"""cli/__init__.py: the front's contract: one line per error the user can act on, argparse's exit for usage."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ccanalytics.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("ccanalytics ")


def test_a_store_error_is_one_line_on_stderr_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "--db", str(tmp_path / "missing.db")]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err == f"ccanalytics: {tmp_path / 'missing.db'}: no such file\n"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["snapshot"],
        ["snapshot", "--db", "x.db", "--api", "a"],
        ["snapshot", "--db", "x", "--range", "2d"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and "usage: ccanalytics" in capsys.readouterr().err
