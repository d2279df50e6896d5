"""The store follows its file: read-only, beside a writer, through appends, deletes and swaps."""

from __future__ import annotations

import os
import sqlite3

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import ccanalytics as cc
from ccanalytics.contract import create_store

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR = 3_600_000


def add_calls(path, rows, *, replace=False):
    """rows: (request_id, ts_ms, role, status_code, price_micro)."""
    con = sqlite3.connect(path)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    con.executemany(
        f"{verb} INTO calls (request_id, ts_ms, role, api_id, status_code, price_micro, revenue_micro)"
        " VALUES (?, ?, ?, 'api-a', ?, ?, 0)",
        rows,
    )
    con.commit()
    con.close()


def fresh(path):
    """The snapshot a newly opened store computes: the from-scratch answer."""
    return cc.open_store(path).snapshot(now=NOW).to_dict()


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    add_calls(path, [(f"r{i}", NOW - i * HOUR, "buyer", 200, 10) for i in range(1, 40)])
    return path


def test_reads_beside_a_writer_holding_a_write_transaction(store_path):
    writer = sqlite3.connect(store_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('w', ?, 'buyer', 'a', 200)",
        (NOW - 1,),
    )
    store = cc.open_store(store_path)
    assert store.snapshot(now=NOW).buyer.calls_24h == 24  # the uncommitted call is not seen
    writer.execute("COMMIT")
    assert store.snapshot(now=NOW).buyer.calls_24h == 25
    writer.close()


def test_appended_calls_appear_in_the_next_snapshot(store_path):
    store = cc.open_store(store_path)
    assert store.snapshot(now=NOW).buyer.total_calls == 39
    add_calls(store_path, [("new1", NOW - 10, "buyer", 500, 5), ("new2", NOW - 20, "seller", 200, 7)])
    assert store.snapshot(now=NOW).to_dict() == fresh(store_path)
    assert store.snapshot(now=NOW).buyer.total_calls == 40


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM calls WHERE request_id = 'r5'",
        "DELETE FROM calls WHERE request_id = 'r39'",  # the last rowid: a new row may reuse it
        "UPDATE calls SET status_code = 503 WHERE request_id = 'r39'",  # the last row read
        "DELETE FROM calls",
    ],
)
def test_changed_history_gives_the_from_scratch_snapshot(store_path, change):
    store = cc.open_store(store_path)
    store.snapshot(now=NOW)
    con = sqlite3.connect(store_path)
    con.execute(change)
    con.execute(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('x', ?, 'buyer', 'b', 200)",
        (NOW - 5,),
    )
    con.commit()
    con.close()
    assert store.snapshot(now=NOW).to_dict() == fresh(store_path)


def test_rewritten_rows_give_the_from_scratch_snapshot(store_path):
    store = cc.open_store(store_path)
    store.snapshot(now=NOW)
    add_calls(store_path, [("r3", NOW - 3 * HOUR, "buyer", 502, 0)], replace=True)
    assert store.snapshot(now=NOW).to_dict() == fresh(store_path)


def test_a_swapped_file_is_read_anew(tmp_path, store_path):
    store = cc.open_store(store_path)
    store.snapshot(now=NOW)
    other = tmp_path / "other.db"
    create_store(other)
    add_calls(other, [("z", NOW - 1, "seller", 200, 1)])
    os.replace(other, store_path)
    for suffix in ("-wal", "-shm"):
        other.with_name(other.name + suffix).unlink(missing_ok=True)
    assert store.snapshot(now=NOW).seller.total_calls == 1
    assert store.snapshot(now=NOW).buyer.total_calls == 0


def test_snapshots_move_back_and_forth_in_time(store_path):
    store = cc.open_store(store_path)
    for now in (NOW, NOW - 30 * 24 * HOUR, NOW + 20 * 24 * HOUR, NOW - 10 * HOUR, NOW):
        assert store.snapshot(now=now).to_dict() == cc.open_store(store_path).snapshot(now=now).to_dict()


def test_tables_are_lazy_frames_of_valid_rows(store_path):
    con = sqlite3.connect(store_path)
    con.execute(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('bad', ?, 'nobody', 'a', 200)",
        (NOW - 1,),
    )
    con.commit()
    con.close()
    store = cc.open_store(store_path)
    calls = store.calls
    assert isinstance(calls, pl.LazyFrame)
    assert calls.select(pl.len()).collect().item() == 39  # the bad row is left out
    top = (
        calls.filter(pl.col("ts_ms") >= NOW - 3 * HOUR).select("request_id", "ts_ms").sort("ts_ms").collect()
    )
    assert_frame_equal(
        top,
        pl.DataFrame(
            {"request_id": ["r3", "r2", "r1"], "ts_ms": [NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - HOUR]}
        ),
    )
    assert calls.head(5).collect().height == 5
    assert store.events.collect().height == 0
    assert store.settings.collect().height == 0


def test_optional_columns_and_tables_may_be_absent(tmp_path):
    path = tmp_path / "minimal.db"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE calls (request_id TEXT, ts_ms INTEGER, role TEXT, api_id TEXT, status_code INTEGER)"
    )
    con.execute("INSERT INTO calls VALUES ('r1', ?, 'buyer', 'a', 200)", (NOW - 1,))
    con.execute(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, ts_ms INTEGER)"
    )  # lacks type, severity, message
    con.execute("INSERT INTO events (ts_ms) VALUES (1)")
    con.commit()
    con.close()
    snap = cc.open_store(path).snapshot(now=NOW).to_dict()
    assert snap["buyer"]["total_calls"] == 1
    assert snap["buyer"]["total_spent_usdc"] == "0.000000"
    assert snap["buyer"]["avg_latency_ms_24h"] is None
    assert snap["data_issues"] == [{"table": "events", "rule": "lacks column type", "rows": 1}]


@pytest.mark.parametrize("kind", ["without rowid", "view"])
def test_tables_without_rowids_are_read_whole(tmp_path, kind):
    path = tmp_path / "odd.db"
    con = sqlite3.connect(path)
    columns = "request_id TEXT PRIMARY KEY, ts_ms INTEGER, role TEXT, api_id TEXT, status_code INTEGER"
    if kind == "view":
        con.execute(f"CREATE TABLE raw ({columns})")
        con.execute("CREATE VIEW calls AS SELECT * FROM raw")
        table = "raw"
    else:
        con.execute(f"CREATE TABLE calls ({columns}) WITHOUT ROWID")
        table = "calls"
    con.execute(f"INSERT INTO {table} VALUES ('r1', ?, 'buyer', 'a', 200)", (NOW - 1,))
    con.commit()
    store = cc.open_store(path)
    assert store.snapshot(now=NOW).buyer.calls_24h == 1
    con.execute(f"INSERT INTO {table} VALUES ('r2', ?, 'buyer', 'a', 500)", (NOW - 2,))
    con.commit()
    con.close()
    assert store.snapshot(now=NOW).buyer.calls_24h == 2
    assert store.calls.collect().height == 2
