"""``store.follow``: a cursor past what was read, and the checks that it is all still there."""

from __future__ import annotations

import sqlite3
import time

import pytest

from ccanalytics.contract import create_store
from ccanalytics.store.follow import Cursor, Verifier, advance, intact, new_rows, still_there
from ccanalytics.store.sqlite import Source

NOW = 1_795_608_000_000


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    add(path, "r1", "r2", "r3")
    return path


def add(path, *request_ids):
    with sqlite3.connect(path) as con:
        con.executemany(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, 'buyer', 'a', 200)",
            [(r, NOW) for r in request_ids],
        )
    con.close()


def execute(path, sql):
    with sqlite3.connect(path) as con:
        con.execute(sql)
    con.close()


def read_all(path) -> tuple[Source, Cursor]:
    source, cursor = Source(path), Cursor()
    reset, rows = new_rows(source, "calls", cursor)
    assert reset  # nothing read yet: everything
    advance(cursor, "calls", rows, reset)
    return source, cursor


def test_a_cursor_moves_past_the_greatest_rowid_read(path):
    source, cursor = read_all(path)
    assert (cursor.top, cursor.rows, cursor.last[:2]) == (3, 3, (3, "r3"))
    advance(cursor, "calls", source.read("calls", after_rowid=3), reset=False)  # nothing new: nothing moves
    assert (cursor.top, cursor.rows) == (3, 3)
    advance(cursor, "calls", source.read("calls", after_rowid=1), reset=True)
    assert (cursor.top, cursor.rows) == (3, 2)
    source.close()


def test_appends_are_read_alone(path):
    source, cursor = read_all(path)
    add(path, "r4", "r5")
    reset, rows = new_rows(source, "calls", cursor)
    assert not reset
    assert rows["request_id"].to_list() == ["r4", "r5"]
    source.close()


@pytest.mark.parametrize(
    "change",
    [
        "DELETE FROM calls WHERE request_id = 'r2'",  # in the middle: the count differs
        "DELETE FROM calls WHERE request_id = 'r3'",  # the last row: its rowid is reused
        "UPDATE calls SET status_code = 500 WHERE request_id = 'r3'",  # the last row rewritten
    ],
)
def test_a_changed_history_is_read_whole_and_is_no_longer_intact(path, change):
    source, cursor = read_all(path)
    execute(path, change)
    add(path, "r9")
    assert not intact(source, "calls", cursor)
    assert not still_there(source, cursor)
    reset, rows = new_rows(source, "calls", cursor)
    assert reset
    assert rows.height == source.count("calls")
    source.close()


def test_an_update_of_an_older_row_is_the_one_change_no_check_sees(path):
    source, cursor = read_all(path)
    execute(path, "UPDATE calls SET status_code = 500 WHERE request_id = 'r1'")
    assert intact(source, "calls", cursor) and still_there(source, cursor)
    source.close()


def test_without_counting_a_delete_in_the_middle_goes_unseen(path):
    source, cursor = read_all(path)
    execute(path, "DELETE FROM calls WHERE request_id = 'r2'")
    assert new_rows(source, "calls", cursor, count=False)[0] is False  # the Verifier's count catches it
    source.close()


def verdict(verifier: Verifier) -> bool:
    deadline = time.monotonic() + 10
    while verifier._pending is not None and not verifier._pending.done():
        assert time.monotonic() < deadline, "the background count never finished"
        time.sleep(0.01)
    return verifier.disagreed()


def test_the_background_count_tells_a_delete_once(path):
    source, cursor = read_all(path)
    verifier = Verifier(path)
    verifier.start("calls", cursor)
    assert verdict(verifier) is False
    execute(path, "DELETE FROM calls WHERE request_id = 'r2'")
    verifier.start("calls", cursor)
    assert verdict(verifier) is True
    assert verifier.disagreed() is False  # the answer is used once
    verifier.close()
    source.close()


def test_a_count_that_cost_cpu_waits_pace_times_as_long_before_the_next(path, monkeypatch):
    from ccanalytics.store import follow

    source, cursor = read_all(path)
    monkeypatch.setattr(follow, "PACED_S", 0.0)  # this tiny count paced as a big store's is
    monkeypatch.setattr(follow, "PACE", 1e6)
    verifier = Verifier(path)
    verifier.start("calls", cursor)
    assert verdict(verifier) is False
    execute(path, "DELETE FROM calls WHERE request_id = 'r2'")
    verifier.start("calls", cursor)  # too soon after a count: not started
    assert verifier._pending is None and verifier.disagreed() is False
    monkeypatch.setattr(follow, "PACE", 0)
    verifier._next = 0.0  # as when the pause is over
    verifier.start("calls", cursor)
    assert verdict(verifier) is True
    verifier.close()
    source.close()
