"""``ingest.staging``: the store opened for writing, rows staged beside it, copied in once."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import polars as pl
import pytest

from ccanalytics.contract import CALLS, create_store
from ccanalytics.errors import StoreError
from ccanalytics.ingest import staging
from ccanalytics.ingest.values import COLUMNS

if TYPE_CHECKING:
    from pathlib import Path


def _good(ids: list[str], at: list[int]) -> pl.DataFrame:
    n = len(ids)
    values = {"request_id": ids, "ts_ms": [1] * n, "role": ["buyer"] * n, "api_id": ["x"] * n, "status_code": [200] * n}
    return pl.DataFrame({"_at": at}).with_columns(
        pl.Series(c.name, values.get(c.name, [c.default] * n), dtype=c.dtype) for c in COLUMNS
    )


def test_the_staging_table_has_the_calls_columns_and_a_unique_request_id() -> None:
    assert staging.STAGE_DDL.startswith("CREATE TEMP TABLE ingest_staged (_at INTEGER NOT NULL, request_id TEXT")
    for column in CALLS.stored:
        assert f" {column.name} {column.sql_type}" in staging.STAGE_DDL
    assert "request_id TEXT NOT NULL UNIQUE" in staging.STAGE_DDL


def test_staged_rows_reach_the_store_only_when_copied_and_repeats_are_named(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    con, columns = staging.open_store(db)  # created with the contract's schema
    try:
        assert columns == tuple(c.name for c in CALLS.stored)
        con.execute(staging.STAGE_DDL)
        assert staging.stage(con, _good(["a", "b"], [2, 3])) == []
        assert staging.stage(con, _good(["c", "a"], [4, 5])) == [(5, 2)]
        assert sqlite3.connect(db).execute("SELECT count(*) FROM calls").fetchone() == (0,)
        assert staging.copy_staged(con, db, columns) == 3
        assert staging.copy_staged(con, db, columns) == 0  # known request ids are skipped
    finally:
        con.close()
    assert sqlite3.connect(db).execute("SELECT request_id FROM calls ORDER BY rowid").fetchall() == [
        ("a",),
        ("b",),
        ("c",),
    ]


def test_a_store_without_a_calls_table_or_its_columns_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StoreError, match="not a ccanalytics store"):
        staging.open_store(other)
    short = tmp_path / "short.db"
    sqlite3.connect(short).execute("CREATE TABLE calls (request_id TEXT)").connection.close()
    with pytest.raises(StoreError, match="calls lacks column ts_ms"):
        staging.open_store(short)


def test_an_older_store_is_written_only_in_the_columns_it_has(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    create_store(db)
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE calls DROP COLUMN consumer")
    con.close()
    con, columns = staging.open_store(db)
    con.close()
    assert "consumer" not in columns and "tx_hash" in columns


def test_a_full_disk_is_told_apart_from_other_errors() -> None:
    assert staging.disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not staging.disk_full(sqlite3.OperationalError("database is locked"))
