"""cli/ingest.py: one line per file; a refused file is one line on stderr and exit 1, the others still land."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from ccanalytics.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

CSV = "request_id,ts_ms,role,api_id,status_code,price_micro\nr1,1000,buyer,a,200,5\nr2,2000,seller,b,502,0\n"


def test_a_file_is_added_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "calls.csv").write_text(CSV)
    db = tmp_path / "cc.db"
    assert main(["ingest", "--db", str(db), str(tmp_path / "calls.csv")]) == 0
    assert capsys.readouterr().out == f"{tmp_path / 'calls.csv'}: added 2, skipped 0\n"
    assert main(["ingest", "--db", str(db), str(tmp_path / "calls.csv")]) == 0  # the same rows again
    assert capsys.readouterr().out == f"{tmp_path / 'calls.csv'}: added 0, skipped 2\n"
    assert sqlite3.connect(db).execute("SELECT count(*) FROM calls").fetchone() == (2,)


def test_a_refused_file_is_one_line_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.csv").write_text(CSV)
    (tmp_path / "bad.xlsx").write_text("?")
    db = tmp_path / "cc.db"
    assert main(["ingest", "--db", str(db), str(tmp_path / "bad.xlsx"), str(tmp_path / "good.csv")]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("ccanalytics: ") and err.count("\n") == 1 and "bad.xlsx" in err
    assert out == f"{tmp_path / 'good.csv'}: added 2, skipped 0\n"
