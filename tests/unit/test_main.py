"""``python -m ccanalytics`` is the ``ccanalytics`` command."""

from __future__ import annotations

import subprocess
import sys


def test_python_m_ccanalytics_runs_the_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0
    assert "usage: ccanalytics" in out.stdout


def test_its_exit_status_is_the_command_s() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "no-such-command"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "invalid choice" in out.stderr
