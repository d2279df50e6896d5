"""The store follows its file: read-only, beside a writer, through appends, deletes and swaps."""

from __future__ import annotations

import functools
import os
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

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


WRITE_ONE_CALL = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
con.execute(
    "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, price_micro)"
    " VALUES (?, ?, 'buyer', 'a', 200, 10)",
    (sys.argv[2], int(sys.argv[3])),
)
con.commit()
con.close()
"""


def fresh(path):
    """The snapshot a newly opened store computes: the from-scratch answer."""
    with cc.open_store(path, cache=False) as store:
        return store.snapshot(now=NOW).to_dict()


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


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_every_write_of_short_lived_writers_appears(store_path, journal):
    # A read-only reader of a WAL store whose writers all closed has no shared WAL index to
    # watch, and checkpoints leave the file's change counter alone: without care it sees the
    # first write and then a frozen file.
    con = sqlite3.connect(store_path)
    con.execute(f"PRAGMA journal_mode={journal}")
    con.close()
    store = cc.open_store(store_path)
    assert store.snapshot(now=NOW).buyer.total_calls == 39
    for n in range(1, 5):
        # Another process: within one, SQLite shares what it knows of a file between connections.
        subprocess.run([sys.executable, "-c", WRITE_ONE_CALL, str(store_path), f"w{n}", str(NOW - n)], check=True)
        assert store.snapshot(now=NOW).buyer.total_calls == 39 + n


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
    _swap_in(other, store_path)
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
    top = calls.filter(pl.col("ts_ms") >= NOW - 3 * HOUR).select("request_id", "ts_ms").sort("ts_ms").collect()
    assert_frame_equal(
        top,
        pl.DataFrame({"request_id": ["r3", "r2", "r1"], "ts_ms": [NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - HOUR]}),
    )
    assert calls.head(5).collect().height == 5
    assert store.events.collect().height == 0
    assert store.settings.collect().height == 0


def test_timed_tables_lead_with_a_local_time_column(store_path):
    con = sqlite3.connect(store_path)
    con.execute("INSERT INTO settings (key, value) VALUES ('timezone', 'Asia/Kolkata')")
    con.execute("INSERT INTO events (ts_ms, type, severity, message) VALUES (?, 'restart', 'info', 'up')", (NOW,))
    con.execute("INSERT INTO balance_snapshots (ts_ms, usdc_micro, eth_wei) VALUES (?, 1, '1')", (NOW,))
    con.commit()
    con.close()
    store = cc.open_store(store_path)
    zone = pl.Datetime("ms", "Asia/Kolkata")
    for frame in (store.calls, store.events, store.balance_snapshots, store.backups):
        schema = frame.collect_schema()
        assert schema.names()[0] == "ts" and "ts_ms" in schema and schema["ts"] == zone
    first = store.calls.filter(pl.col("ts") >= datetime(2026, 11, 25, 16, 30, tzinfo=ZoneInfo("Asia/Kolkata")))
    assert first.select("ts", "ts_ms").collect().rows() == [
        (datetime(2026, 11, 25, 16, 30, tzinfo=ZoneInfo("Asia/Kolkata")), NOW - HOUR)
    ]  # 11:00 UTC is 16:30 in India
    assert store.calls.select("ts").collect().height == 39
    assert "ts" not in store.apis.collect_schema()
    assert store.snapshot(now=NOW).buyer.calls_24h == 24  # the snapshot reads the contract's columns, as before


def test_local_time_is_utc_without_a_valid_zone(store_path):
    con = sqlite3.connect(store_path)
    con.execute("INSERT INTO settings (key, value) VALUES ('timezone', 'Mars/Base')")
    con.commit()
    con.close()
    assert cc.open_store(store_path).events.collect_schema()["ts"] == pl.Datetime("ms", "UTC")


def test_optional_columns_and_tables_may_be_absent(tmp_path):
    path = tmp_path / "minimal.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE calls (request_id TEXT, ts_ms INTEGER, role TEXT, api_id TEXT, status_code INTEGER)")
    con.execute("INSERT INTO calls VALUES ('r1', ?, 'buyer', 'a', 200)", (NOW - 1,))
    con.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, ts_ms INTEGER)")  # lacks type, severity, message
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


@pytest.fixture
def big():
    """Opens a store as a big one: counts run in the background and ledgers are cached."""
    return functools.partial(cc.open_store, sync_check_rows=0)


def delete_call(path, request_id):
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM calls WHERE request_id = ?", (request_id,))


def test_a_delete_in_a_big_store_is_caught_by_the_background_count(store_path, big):
    store = big(store_path)
    store.snapshot(now=NOW)
    delete_call(store_path, "r7")
    expected = fresh(store_path)
    deadline = time.monotonic() + 10
    while store.snapshot(now=NOW).to_dict() != expected:
        assert time.monotonic() < deadline, "the deleted call is still counted after 10 s"
        time.sleep(0.05)
    store.close()


def test_verify_catches_a_delete_at_once(store_path, big):
    store = big(store_path)
    store.snapshot(now=NOW)
    delete_call(store_path, "r7")
    assert store.verify() is False
    assert store.snapshot(now=NOW).to_dict() == fresh(store_path)
    assert store.verify() is True


def _beside(path):
    """Files beside a store, but for SQLite's own -wal and -shm."""
    return sorted(p.name for p in path.parent.iterdir() if not p.name.endswith(("-wal", "-shm")))


def test_a_second_process_starts_from_the_cache(store_path, big, monkeypatch, tmp_path_factory):
    cache_dir = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", str(cache_dir))
    before = _beside(store_path)
    first = big(store_path).snapshot(now=NOW).to_dict()
    assert len(list(cache_dir.iterdir())) == 1
    assert _beside(store_path) == before  # nothing written beside the store
    add_calls(store_path, [("late", NOW - 5, "buyer", 200, 3)])

    from ccanalytics.store.sqlite import Source

    def no_full_read(*args, **kwargs):
        raise AssertionError("the store was read in full although a valid cache exists")

    with monkeypatch.context() as m:
        m.setattr(Source, "read_chunks", no_full_read)
        second = big(store_path).snapshot(now=NOW).to_dict()
    assert second["buyer"]["total_calls"] == first["buyer"]["total_calls"] + 1
    assert second == fresh(store_path)


def _swap_in(new, path):
    """Put another store in place, as a restore from a backup does (no stale WAL left)."""
    os.replace(new, path)
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def test_a_cache_of_a_changed_store_is_not_used(store_path, big, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    with big(store_path) as store:
        store.snapshot(now=NOW)
    delete_call(store_path, "r3")
    with big(store_path) as store:
        assert store.snapshot(now=NOW).to_dict() == fresh(store_path)
    other = store_path.with_name("other.db")
    create_store(other)
    add_calls(other, [("z", NOW - 1, "buyer", 200, 1)])
    _swap_in(other, store_path)
    with big(store_path) as store:
        assert store.snapshot(now=NOW).buyer.total_calls == 1


def test_a_cache_older_than_a_day_is_read_afresh(store_path, big, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    with big(store_path) as store:
        store.snapshot(now=NOW)
    con = sqlite3.connect(store_path)
    con.execute("UPDATE calls SET status_code = 500 WHERE request_id = 'r2'")  # in place: no cheap check sees it
    con.commit()
    con.close()
    with big(store_path) as store:
        assert store.snapshot(now=NOW).buyer.success_24h == 24  # the day-old cache still answers
    with big(store_path, cache_max_age_s=0) as store:
        assert store.snapshot(now=NOW).buyer.success_24h == 23


def test_every_json_key_of_a_role_is_an_attribute(store_path):
    add_calls(store_path, [("s1", NOW - 2 * HOUR, "seller", 200, 0)])
    snap = cc.open_store(store_path).snapshot(now=NOW, range="7d")
    as_json = snap.to_dict()
    for role in ("buyer", "seller"):
        view = getattr(snap, role)
        for key, value in as_json[role].items():
            attribute = getattr(view, key)  # AttributeError names a missing one
            if isinstance(attribute, pl.DataFrame):
                assert attribute.height == len(value), (role, key)
            else:
                assert attribute == value, (role, key)
    assert snap.buyer.spent_24h_usdc == "0.000240" and snap.buyer.money_24h == 240  # 24 calls of 10 micro
    assert snap.buyer.total_spent_usdc == "0.000390"
    with pytest.raises(AttributeError, match="revenue_24h_usdc"):
        snap.buyer.revenue_24h_usdc  # noqa: B018 - a buyer has no revenue
    with pytest.raises(AttributeError):
        snap.seller.revenue_24h_usdc = "1"  # read-only
    with pytest.raises(AttributeError):
        snap.seller.new_figure = 1  # frozen


_TWO_STORES = """
import sqlite3, sys, threading, time
import ccanalytics as cc
path, now = sys.argv[1], int(sys.argv[2])
counting = cc.open_store(path, sync_check_rows=0, cache=False)
counting.snapshot(now=now)
stop = time.monotonic() + 3
def count():  # the background counts of one store, as after each of its refreshes
    while time.monotonic() < stop:
        counting._verifier._check("calls", counting._calls)
thread = threading.Thread(target=count)
thread.start()
while time.monotonic() < stop:  # meanwhile a write, then another store on the same file reads it in full (ADBC)
    with sqlite3.connect(path) as writer:
        writer.execute("DELETE FROM calls WHERE rowid = (SELECT max(rowid) FROM calls)")
    with cc.open_store(path, cache=False) as other:
        other.snapshot(now=now)
thread.join()
print("alive")
"""


def test_a_second_store_reading_in_full_never_kills_the_first_stores_background_count(store_path):
    # ADBC's SQLite, opening the store's -shm first in this process, cut it short under Python's
    # SQLite's mapping of it: the count's thread died of SIGBUS (one run of test_store.py in three).
    result = subprocess.run(
        [sys.executable, "-c", _TWO_STORES, str(store_path), str(NOW)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == "alive", result.stderr[-2000:]
