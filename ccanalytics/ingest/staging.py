"""Ingest's side of the store: opening it for writing, staging a file's rows, copying them in.

Staging lives in the connection's temporary database, so reading a file never
locks the store; the copy into ``calls`` is one short ``BEGIN IMMEDIATE``
transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl

from ccanalytics.contract import CALLS, create_store
from ccanalytics.errors import StoreError
from ccanalytics.ingest.values import COLUMNS

__all__ = ["STAGE_DDL", "copy_staged", "disk_full", "open_store", "stage"]


def open_store(db: str | Path) -> tuple[sqlite3.Connection, tuple[str, ...]]:
    """Open (or create) the store for writing; return it and the calls columns it has."""
    path = Path(db)
    try:
        if not path.exists():
            create_store(path)
        con = sqlite3.connect(path, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: cannot open the store ({exc})") from None
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:  # an empty SQLite file (e.g. made by mktemp): give it the schema
            con.close()
            create_store(path)
            con = sqlite3.connect(path, isolation_level=None, timeout=30)
            tables = {"calls"}
        if "calls" not in tables:
            raise StoreError(f"{db}: not a ccanalytics store (it has no calls table)")
        have = {r[1] for r in con.execute("PRAGMA main.table_info(calls)")}
        for column in CALLS.required:
            if column not in have:
                raise StoreError(f"{db}: calls lacks column {column}")
        # Staging lives in this connection's temporary database: it never locks
        # the store, and on disk (not in memory) however large the file.  It is
        # never rolled back (a refused file's table is dropped), so it needs no journal.
        con.execute("PRAGMA temp_store = FILE")
        con.execute("PRAGMA temp.cache_size = -64000")
        con.execute("PRAGMA temp.journal_mode = OFF")
    except sqlite3.DatabaseError as exc:
        con.close()
        raise StoreError(f"{db}: not a SQLite store ({exc})") from None
    except BaseException:
        con.close()
        raise
    return con, tuple(c.name for c in COLUMNS if c.name in have)


# The calls' columns with their types, and each file row's location; a request_id
# staged twice is the file repeating it.
STAGE_DDL = (
    "CREATE TEMP TABLE ingest_staged (_at INTEGER NOT NULL, "
    + ", ".join(f"{c.name} {c.sql_type}" + (" NOT NULL UNIQUE" if c.primary_key else "") for c in COLUMNS)
    + ")"
)
_STAGE = (
    f"INSERT INTO temp.ingest_staged (_at, {', '.join(c.name for c in COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))}) ON CONFLICT (request_id) DO NOTHING"
)


def stage(con: sqlite3.Connection, good: pl.DataFrame) -> list[tuple[int, int]]:
    """Stage a batch's good rows; return ``(at, first_at)`` for rows whose request_id came earlier."""
    rows = good.select("_at", *(c.name for c in COLUMNS))
    staged = con.executemany(_STAGE, rows.iter_rows()).rowcount
    if staged == rows.height:
        return []
    # Rare: only files that repeat a request_id get here.
    ids = rows["request_id"].unique().to_list()
    found = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        found += con.execute(
            f"SELECT request_id, _at FROM temp.ingest_staged WHERE request_id IN ({', '.join('?' * len(part))})",
            part,
        ).fetchall()
    first = pl.DataFrame(found, schema={"request_id": pl.String, "_first": pl.Int64}, orient="row")
    repeats = rows.join(first, on="request_id").filter(pl.col("_at") != pl.col("_first"))
    return list(repeats.select("_at", "_first").iter_rows())


def copy_staged(con: sqlite3.Connection, db: str | Path, columns: tuple[str, ...]) -> int:
    """Copy the staged rows into ``calls`` in one transaction; return how many were new."""
    names = ", ".join(columns)
    con.execute("BEGIN IMMEDIATE")
    try:
        added = con.execute(
            f"INSERT INTO main.calls ({names}) SELECT {names} FROM temp.ingest_staged "
            "WHERE true ORDER BY rowid ON CONFLICT (request_id) DO NOTHING"
        ).rowcount
        con.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        _rollback(con)
        if "ON CONFLICT clause does not match" in str(exc):
            raise StoreError(f"{db}: calls.request_id is not unique in this store: cannot skip known calls") from None
        raise
    except BaseException:
        _rollback(con)
        raise
    return added


def _rollback(con: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (a full disk does): a second ROLLBACK would
    # fail with "no transaction is active" and hide the real error.
    if con.in_transaction:
        con.execute("ROLLBACK")


def disk_full(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of space (SQLITE_FULL, or a write refused as too big)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name == "SQLITE_FULL" or "database or disk is full" in str(exc)
