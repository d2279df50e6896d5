"""The store's schema is generated from the contract's tables: the same tables, columns and constraints as ever."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from ccanalytics.contract import (
    DDL,
    RECONCILIATION_COLUMNS,
    RECONCILIATIONS_DDL,
    STORE_TABLES,
    TABLES,
    create_store,
)

if TYPE_CHECKING:
    from pathlib import Path

# `PRAGMA table_info` and `PRAGMA index_list` of a store made by the hand-written DDL
# this schema replaced (main 721f3fc): (cid, name, type, notnull, default, pk) per column.
BEFORE = {
    "calls": [
        (0, "request_id", "TEXT", 1, None, 1),
        (1, "ts_ms", "INTEGER", 1, None, 0),
        (2, "role", "TEXT", 1, None, 0),
        (3, "api_id", "TEXT", 1, None, 0),
        (4, "api_name", "TEXT", 0, None, 0),
        (5, "status_code", "INTEGER", 1, None, 0),
        (6, "latency_ms", "REAL", 0, None, 0),
        (7, "price_micro", "INTEGER", 1, "0", 0),
        (8, "revenue_micro", "INTEGER", 1, "0", 0),
        (9, "demo", "INTEGER", 1, "0", 0),
        (10, "tx_hash", "TEXT", 0, None, 0),
        (11, "delivery", "TEXT", 0, None, 0),
        (12, "consumer", "TEXT", 0, None, 0),
    ],
    "events": [
        (0, "id", "INTEGER", 0, None, 1),
        (1, "ts_ms", "INTEGER", 1, None, 0),
        (2, "type", "TEXT", 1, None, 0),
        (3, "severity", "TEXT", 1, None, 0),
        (4, "message", "TEXT", 1, None, 0),
    ],
    "sqlite_sequence": [(0, "name", "", 0, None, 0), (1, "seq", "", 0, None, 0)],
    "apis": [
        (0, "api_id", "TEXT", 1, None, 1),
        (1, "name", "TEXT", 1, None, 0),
        (2, "price_micro", "INTEGER", 1, None, 0),
        (3, "registered_ms", "INTEGER", 1, None, 0),
        (4, "active", "INTEGER", 1, "1", 0),
    ],
    "balance_snapshots": [
        (0, "ts_ms", "INTEGER", 1, None, 0),
        (1, "usdc_micro", "INTEGER", 1, None, 0),
        (2, "eth_wei", "TEXT", 1, None, 0),
    ],
    "backups": [
        (0, "ts_ms", "INTEGER", 1, None, 0),
        (1, "file", "TEXT", 0, None, 0),
        (2, "size_bytes", "INTEGER", 0, None, 0),
    ],
    "settings": [(0, "key", "TEXT", 1, None, 1), (1, "value", "TEXT", 0, None, 0)],
    "reconciliations": [
        (i, name, "INTEGER", 1, None, 0)
        for i, name in enumerate(
            (
                "ts_ms",
                "from_block",
                "to_block",
                "matched",
                "missing",
                "unrecorded",
                "matched_micro",
                "missing_micro",
                "unrecorded_micro",
            )
        )
    ],
}
UNIQUE = {
    "calls": [(0, "sqlite_autoindex_calls_1", 1, "pk", 0)],
    "apis": [(0, "sqlite_autoindex_apis_1", 1, "pk", 0)],
    "settings": [(0, "sqlite_autoindex_settings_1", 1, "pk", 0)],
}


def _shape(path: Path) -> tuple[dict[str, list[tuple]], dict[str, list[tuple]]]:
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY rowid")]
        info = {name: con.execute(f"PRAGMA table_info({name})").fetchall() for name in names}
        indexes = {name: rows for name in names if (rows := con.execute(f"PRAGMA index_list({name})").fetchall())}
    finally:
        con.close()
    return info, indexes


def test_the_generated_ddl_makes_the_same_tables_columns_types_defaults_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.execute(RECONCILIATIONS_DDL)
    con.commit()
    con.close()
    info, indexes = _shape(path)
    assert info == BEFORE
    assert indexes == UNIQUE


def test_events_ids_keep_counting_after_the_newest_is_deleted(tmp_path: Path) -> None:
    # AUTOINCREMENT: the id of a deleted event is never given to a new one.
    path = tmp_path / "store.db"
    create_store(path)
    con = sqlite3.connect(path)
    insert = "INSERT INTO events (ts_ms, type, severity, message) VALUES (1, 'backup', 'info', 'x')"
    con.execute(insert)
    con.execute("DELETE FROM events")
    con.execute(insert)
    assert con.execute("SELECT id FROM events").fetchall() == [(2,)]
    con.close()


def test_every_table_of_the_ddl_is_a_contract_table_with_its_columns_in_store_order() -> None:
    assert list(STORE_TABLES) == [*TABLES, "settings"]
    for table in STORE_TABLES.values():
        assert f"CREATE TABLE IF NOT EXISTS {table.name} (" in DDL
        assert [c.name for c in table.stored] == [row[1] for row in BEFORE[table.name]]
    assert list(RECONCILIATION_COLUMNS) == [row[1] for row in BEFORE["reconciliations"]]
