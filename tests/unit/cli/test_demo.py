"""cli/demo.py: ``ccanalytics demo`` writes a store and says what it holds; it never overwrites one."""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING

from ccanalytics.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_it_writes_a_demo_store_and_counts_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "demo.db"
    assert main(["demo", "--db", str(db), "--days", "2", "--seed", "3"]) == 0
    line = capsys.readouterr().out
    calls = sqlite3.connect(db).execute("SELECT count(*) FROM calls").fetchone()[0]
    match = re.fullmatch(
        r"wrote ([\d ]+) calls \(([\d ]+) served, ([\d ]+) made\) and ([\d ]+) events over 2 days to (.+)\n", line
    )
    assert match and int(match[1].replace(" ", "")) == calls > 0 and match[5] == str(db)
    assert int(match[2].replace(" ", "")) + int(match[3].replace(" ", "")) == calls


def test_it_refuses_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "precious.db"
    db.write_bytes(b"keep me")
    assert main(["demo", "--db", str(db)]) == 1
    assert capsys.readouterr().err.startswith("ccanalytics: ") and db.read_bytes() == b"keep me"
