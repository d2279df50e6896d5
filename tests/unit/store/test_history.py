"""``store.history``: the whole calls history into a ledger, old texts spared, the latest names kept."""

from __future__ import annotations

import sqlite3

import polars as pl

from ccanalytics.contract import create_store
from ccanalytics.store.follow import Cursor
from ccanalytics.store.history import judged, read_history
from ccanalytics.store.sqlite import Source

NOW = 1_795_608_000_000
DAY = 86_400_000
REACH = 8 * DAY


def store(tmp_path, calls):
    """calls: (request_id, ts_ms, api_id, api_name, status_code)."""
    path = tmp_path / "store.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, api_name, status_code) VALUES (?, ?, 'buyer', ?, ?, ?)",
        calls,
    )
    con.commit()
    con.close()
    return path


def test_old_calls_are_tallied_recent_ones_kept_as_rows_and_the_cursor_ends_on_the_last(tmp_path):
    old = NOW - 30 * DAY
    path = store(
        tmp_path,
        [
            ("old-1", old, "a", "Weather v1", 200),
            ("old-2", old + 1, "a", "Weather v2", 500),
            ("old-3", old + 2, "b", None, 200),
            ("new-1", NOW - 1, "a", None, 200),
        ],
    )
    source, cursor = Source(path), Cursor()
    ledger = read_history(source, None, cursor, now=NOW, reach=REACH, consumers=False)
    assert ledger.horizon == NOW - REACH - DAY
    assert ledger.recent["request_id"].to_list() == ["new-1"]
    assert int(ledger.settled.tallies["calls"].sum()) == 3
    names = ledger.settled.names.sort("api_id")
    assert names.select("api_id", "api_name").rows() == [("a", "Weather v2")]  # the latest name of an old call
    assert (cursor.top, cursor.rows, cursor.last[1]) == (4, 4, "new-1")
    assert ledger.seen is None
    source.close()


def test_the_last_row_keeps_its_real_texts_though_old_texts_are_spared(tmp_path):
    path = store(tmp_path, [("long-request-id-" + "x" * 60, NOW - 30 * DAY, "a", "Old name", 200)])
    source, cursor = Source(path), Cursor()
    read_history(source, None, cursor, now=NOW, reach=REACH, consumers=True)
    assert cursor.last[1] == "long-request-id-" + "x" * 60
    source.close()


def test_an_empty_history_is_an_empty_ledger(tmp_path):
    source, cursor = Source(store(tmp_path, [])), Cursor()
    ledger = read_history(source, None, cursor, now=NOW, reach=REACH, consumers=True)
    assert ledger.recent.height == 0 and ledger.settled.tallies.height == 0
    assert (cursor.top, cursor.rows, cursor.last) == (None, 0, None)
    assert ledger.seen is not None
    source.close()


def test_judged_names_the_first_broken_rule():
    frame = pl.DataFrame({"ts_ms": [1, None], "usdc_micro": [5, 5], "eth_wei": ["0", "0"]})
    rules = judged("balance_snapshots", frame)["rule"].to_list()
    assert rules[0] is None and isinstance(rules[1], str)


def test_an_old_text_that_is_not_utf_8_is_judged_though_old_texts_are_spared(tmp_path):
    # A lone lead byte counts as one character in SQLite's length(): the spared path must not take it for ASCII.
    path = store(tmp_path, [("fine", NOW - 30 * DAY, "a", "Name", 200)])
    con = sqlite3.connect(path)
    for n, (request_id, api_name) in enumerate(
        [(b"r\xff", b"ok"), (b"r\xc3x", b"ok"), (b"r\x80", b"ok"), (b"ok-4", b"Caf\xe9"), (b"ok-5", b"caf\xc3")]
    ):
        con.execute(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, api_name, status_code)"
            " VALUES (CAST(? AS TEXT), ?, 'buyer', 'a', CAST(? AS TEXT), 200)",
            (request_id, NOW - 30 * DAY + n + 1, api_name),
        )
    con.commit()
    con.close()
    source, cursor = Source(path), Cursor()
    ledger = read_history(source, None, cursor, now=NOW, reach=REACH, consumers=False)
    # The three request_ids that are not UTF-8 break their rule; an api_name that is not is no rule (the reference's).
    assert int(ledger.settled.tallies["calls"].sum()) == 3
    assert ledger.settled.issues.rows() == [("request_id is not valid text", 3)]
    source.close()


def test_a_ledger_read_for_views_keeps_its_settled_seller_calls_on_disk(tmp_path, monkeypatch):
    from ccanalytics.store.shelf import OnDisk

    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "store.db"
    create_store(path)
    con = sqlite3.connect(path)
    sql = (
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, revenue_micro, consumer)"
        " VALUES (?, ?, 'seller', 'a', 200, 9, ?)"
    )
    con.executemany(sql, [(f"r{i}", NOW - (30 - i) * DAY, f"c{i % 3}") for i in range(30)])
    con.commit()
    con.close()
    source = Source(path)
    ledger = read_history(source, None, Cursor(), now=NOW, reach=REACH, consumers=True)
    source.close()
    assert ledger.quarters is not None and isinstance(ledger.quarters.sellers, OnDisk)
    sellers = ledger.quarters.loaded("sellers")
    assert sellers["ts_ms"].to_list() == [NOW - (30 - i) * DAY for i in range(21)]  # the settled ones, in time order


def test_consumers_are_read_and_kept_only_for_views(tmp_path):
    path = store(tmp_path, [("old", NOW - 30 * DAY, "a", "A", 200), ("new", NOW - 1, "a", "A", 200)])
    con = sqlite3.connect(path)
    con.execute("UPDATE calls SET role = 'seller', consumer = 'c-' || request_id")
    con.commit()
    con.close()
    source = Source(path)
    plain = read_history(source, None, Cursor(), now=NOW, reach=REACH, consumers=False)
    assert "consumer" not in plain.recent.columns  # the default view never counts consumers
    again = plain.add(judged("calls", source.read("calls"))).recent  # as a refresh adds rows: theirs are dropped
    assert (again.height, "consumer" in again.columns) == (2, False)
    viewed = read_history(source, None, Cursor(), now=NOW, reach=REACH, consumers=True)
    assert "consumer" not in viewed.recent.columns and viewed.recent["consumer_key"].null_count() == 0  # keyed
    assert viewed.texts is not None and viewed.texts.frame()["consumer"].to_list() == ["c-new"]  # its text aside
    assert viewed.seen is not None
    seen = viewed.seen.merged()
    assert seen.by_consumer.height + seen.old_consumers.len() == 1  # the old call's consumer: read though old
    source.close()


def test_without_consumers_the_bulk_read_does_not_read_them(tmp_path):
    path = store(tmp_path, [(f"r{i}", NOW - i, "a", "A", 200) for i in range(5)])
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("UPDATE calls SET consumer = 'someone'")
    con.commit()
    con.close()
    source = Source(path)
    with source.transaction(bulk=True) as bulk:
        chunks = list(source.read_chunks("calls", bulk, unread=("consumer",)))
        assert pl.concat(chunks)["consumer"].null_count() == 5
        assert pl.concat(source.read_chunks("calls", bulk))["consumer"].to_list() == ["someone"] * 5
    source.close()
