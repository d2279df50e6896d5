"""A reader beside a real writer process: one consistent state per snapshot, and never in the writer's way."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from unittest import mock

import pytest

import ccanalytics as cc
from ccanalytics.contract import create_store
from ccanalytics.store import sqlite

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR = 3_600_000


def _store(path, calls, *, wal):
    create_store(path, wal=wal)
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, price_micro)"
        " VALUES (?, ?, 'buyer', 'api-a', 200, 1)",
        [(f"r{i}", NOW - 1 - i % (20 * HOUR)) for i in range(calls)],
    )
    con.commit()
    con.close()


MOVER = textwrap.dedent(
    """
    import random, sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("PRAGMA busy_timeout = 500")
    rng = random.Random(0)
    end = time.monotonic() + float(sys.argv[2])
    moves = 0
    print("ready", flush=True)
    while time.monotonic() < end:
        # Move a few calls: delete each and insert it again (a new, greater rowid).
        con.execute("BEGIN IMMEDIATE")
        for _ in range(20):
            row = con.execute("SELECT * FROM calls WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                              (rng.randrange(1, 60000),)).fetchone()
            if row:
                con.execute("DELETE FROM calls WHERE request_id = ?", (row[0],))
                con.execute("INSERT INTO calls VALUES (" + ", ".join("?" * len(row)) + ")", row)
        con.execute("COMMIT")
        moves += 1
    print(moves, flush=True)
    """
)


@pytest.mark.slow
def test_rows_a_writer_moves_during_a_first_read_are_counted_once(tmp_path):
    path = tmp_path / "store.db"
    _store(path, 40_000, wal=True)  # every state the writer commits has these 40 000 calls
    writer = subprocess.Popen(
        [sys.executable, "-c", MOVER, str(path), "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        seen = []
        # Small chunks: the read spans many queries, and many of the writer's commits.
        for _ in range(3):
            with cc.open_store(path, cache=False, chunk_rows=1_000) as store:
                seen.append(store.snapshot(now=NOW).buyer.calls_24h)
    finally:
        writer.terminate()
        _, err = writer.communicate(timeout=30)
    assert seen == [40_000] * 3, err


WRITER = textwrap.dedent(
    """
    import sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0.5)
    con.execute("PRAGMA busy_timeout = 500")
    end = time.monotonic() + float(sys.argv[2])
    n = 0
    print("ready", flush=True)
    while time.monotonic() < end:
        try:
            con.execute("BEGIN IMMEDIATE")
            con.execute(
                "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, 'buyer', 'api-a', 200)",
                (f"w{n}", int(sys.argv[3]) - 1),
            )
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            print(f"FAILED after {n} commits: {exc}", flush=True)
            sys.exit(1)
        n += 1
        time.sleep(0.01)
    print(n, flush=True)
    """
)


@pytest.mark.slow
def test_a_rollback_journal_writer_with_a_short_busy_timeout_never_fails(tmp_path):
    path = tmp_path / "store.db"
    _store(path, 50_000, wal=False)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), "15", str(NOW)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "ready"
    errors: list[BaseException] = []
    counts: list[int] = []
    stop = threading.Event()

    def dashboard() -> None:  # refreshes every 100 ms, as a page with a short interval
        try:
            with cc.open_store(path, cache=False) as store:
                while not stop.is_set():
                    counts.append(store.snapshot(now=NOW).buyer.calls_24h)
                    time.sleep(0.1)
        except BaseException as exc:  # the test reports what the reader met
            errors.append(exc)

    reader = threading.Thread(target=dashboard)
    reader.start()
    try:
        out, err = writer.communicate(timeout=120)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert writer.returncode == 0, out + err
    assert not errors, errors
    written = int(out.split()[-1])
    assert written > 100
    assert counts == sorted(counts) and counts[0] >= 50_000
    with cc.open_store(path, cache=False) as store:
        assert store.snapshot(now=NOW).buyer.calls_24h == 50_000 + written


def test_a_file_that_changes_at_every_attempt_is_still_read_in_one_state(tmp_path):
    """A writer that never pauses: every attempt to pair the bulk readers with the transaction fails."""
    path = tmp_path / "store.db"
    _store(path, 5_000, wal=True)
    ticks = iter(range(10**9))
    always_new = lambda self: ((1, next(ticks), 0), (2, 0, 0))  # noqa: E731  # the file's stat differs at every look
    changing = mock.patch.object(sqlite.Source, "_fingerprint", always_new)
    with changing, cc.open_store(path, cache=False, chunk_rows=1_000) as store:
        assert store.snapshot(now=NOW).buyer.calls_24h == 5_000
