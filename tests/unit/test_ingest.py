"""``ccanalytics.ingest``: a file is added all or nothing, twice adds nothing, a refusal names its lines."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import polars as pl
import pytest

from ccanalytics.ingest import IngestError, IngestResult, ingest, ingest_file

if TYPE_CHECKING:
    from pathlib import Path

GOOD = {"request_id": ["a", "b", "c"], "ts_ms": [1, 2, 3], "role": "buyer", "api_id": "x", "status_code": 200}


def stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT request_id, ts_ms, role, price_micro, demo FROM calls ORDER BY ts_ms").fetchall()


def test_a_good_file_is_added_with_defaults_and_again_is_skipped(tmp_path: Path) -> None:
    calls, db = tmp_path / "calls.csv", tmp_path / "store.db"
    pl.DataFrame(GOOD).write_csv(calls)
    assert ingest_file(db, calls) == IngestResult(added=3, skipped=0)
    assert ingest_file(db, calls) == IngestResult(added=0, skipped=3)
    assert stored(db) == [("a", 1, "buyer", 0, 0), ("b", 2, "buyer", 0, 0), ("c", 3, "buyer", 0, 0)]


def test_a_bad_row_refuses_the_whole_file_naming_its_line(tmp_path: Path) -> None:
    good, bad, db = tmp_path / "good.ndjson", tmp_path / "bad.csv", tmp_path / "store.db"
    pl.DataFrame(GOOD).write_ndjson(good)
    pl.DataFrame({**GOOD, "request_id": ["d", "e", "f"], "status_code": [200, 700, 200]}).write_csv(bad)
    outcomes = list(ingest(db, [good, bad]))
    assert outcomes[0] == (str(good), IngestResult(added=3, skipped=0))
    assert isinstance(outcomes[1][1], IngestError)
    assert "line 3: status_code outside 100..599" in str(outcomes[1][1])
    assert [r[0] for r in stored(db)] == ["a", "b", "c"]
    with pytest.raises(IngestError, match="refused, nothing added"):
        ingest_file(db, bad)


def test_columns_that_are_not_the_contracts_are_named(tmp_path: Path) -> None:
    calls = tmp_path / "calls.csv"
    pl.DataFrame({**GOOD, "latency": [1.0, 2.0, 3.0]}).write_csv(calls)
    assert ingest_file(tmp_path / "store.db", calls).ignored_columns == ("latency",)


def test_when_every_file_is_refused_no_store_is_left_behind(tmp_path: Path) -> None:
    bad, db = tmp_path / "bad.csv", tmp_path / "store.db"
    pl.DataFrame({**GOOD, "role": "thief"}).write_csv(bad)
    [(_, outcome)] = ingest(db, [bad])
    assert isinstance(outcome, IngestError)
    assert not db.exists()
