"""cli/watch.py: ``ccanalytics watch --once`` evaluates once, each log line stamped (delivery: test_watch.py)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ccanalytics.cli import main
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "


def test_once_logs_its_start_and_its_stop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = StoreBuilder(tmp_path / "cc.db").call(1_000).write()
    assert main(["watch", "--db", db, "--once", "--state", str(tmp_path / "state.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(re.match(STAMP, line) for line in lines)
    assert "no webhook or e-mail set" in lines[0] and lines[-1].endswith(" stopped")
    assert len(lines) == 2  # the rules' levels are "panel" by default: nothing to deliver, nothing logged


def test_a_bad_interval_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = StoreBuilder(tmp_path / "cc.db").call(1_000).write()
    assert main(["watch", "--db", db, "--interval", "0"]) == 1
    assert capsys.readouterr().err == "ccanalytics: --interval must be more than 0 and at most 86400 seconds\n"
