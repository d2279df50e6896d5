"""``store.bands``: old calls read back by rowid range, exactly, on appended stores and others."""

from __future__ import annotations

import sqlite3

from ccanalytics.contract import create_store
from ccanalytics.store.bands import read_back
from ccanalytics.store.follow import Cursor
from ccanalytics.store.sqlite import Source

SQL = "INSERT INTO calls (rowid, request_id, ts_ms, role, api_id, status_code, consumer) VALUES (?, ?, ?, ?, 'a', ?, ?)"


def store(tmp_path, rows):
    path = tmp_path / "store.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.executemany(SQL, rows)
    con.commit()
    con.close()
    return Source(path)


def test_the_valid_calls_of_the_times_asked_among_the_rowids_read(tmp_path):
    source = store(
        tmp_path,
        [
            (1, "r1", 100, "seller", 200, "c1"),
            (2, "r2", 200, "seller", 200, "c2"),
            (3, "r3", 150, "buyer", 999, None),  # out of order, and breaks a rule
            (7, "r7", "160", "seller", 200, "c3"),  # a rowid gap, and a time given as text
            (9, "r9", 170, "seller", 200, "c4"),  # not read by the ledger yet
        ],
    )
    read = read_back(source, Cursor(top=8))
    got = read(1, 9, 150, 201).sort("ts_ms")
    assert got.select("ts_ms", "consumer").rows() == [(160, "c3"), (200, "c2")]
    assert read(1, 9, 0, 100).height == 0


def test_a_wide_rowid_range_is_read_in_short_queries(tmp_path, monkeypatch):
    import ccanalytics.store.bands as bands

    monkeypatch.setattr(bands, "STEP", 2)
    rows = [(i, f"r{i}", 1000 - i, "seller", 200, f"c{i}") for i in range(1, 12)]
    read = read_back(store(tmp_path, rows), Cursor(top=11))
    assert sorted(read(1, 11, 990, 996)["ts_ms"].to_list()) == [990, 991, 992, 993, 994, 995]
