"""``python -m ccanalytics.cli`` is the ``ccanalytics`` command too."""

from __future__ import annotations

import subprocess
import sys


def test_python_m_ccanalytics_cli_runs_the_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ccanalytics.cli", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0
    assert "usage: ccanalytics" in out.stdout
