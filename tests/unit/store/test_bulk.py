"""``store.bulk``: reads through ADBC into polars, each connection in one state of a WAL store, errors in one line."""

from __future__ import annotations

import sqlite3

import pytest

from ccanalytics.errors import StoreError
from ccanalytics.store.bulk import Bulk


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "store.db"
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("CREATE TABLE t (x INTEGER, s TEXT)")
    con.executemany("INSERT INTO t VALUES (?, ?)", [(1, "a"), (2, "b")])
    con.commit()
    con.close()
    return path


def test_a_query_comes_back_as_a_frame(path):
    bulk = Bulk(path, transaction=False)
    frame = bulk.frame("SELECT x, s FROM t ORDER BY x")
    assert frame.rows() == [(1, "a"), (2, "b")]
    bulk.close()
    bulk.close()  # twice is harmless


def test_in_a_transaction_every_connection_keeps_the_state_it_began_on(path):
    bulk = Bulk(path, transaction=True, connections=2)
    # A writer in this process stays open: closing the last connection of Python's SQLite would
    # checkpoint the WAL under ADBC's (another copy of SQLite: see ``Bulk``). Control centers are other processes.
    writer = sqlite3.connect(path)
    writer.execute("INSERT INTO t VALUES (3, 'c')")
    writer.commit()
    assert [bulk.frame("SELECT count(*) AS n FROM t")["n"][0] for _ in range(4)] == [2, 2, 2, 2]
    bulk.close()
    writer.close()
    fresh = Bulk(path, transaction=False)
    assert fresh.frame("SELECT count(*) AS n FROM t")["n"][0] == 3
    fresh.close()


def test_a_failing_query_is_one_line_naming_the_file(path):
    bulk = Bulk(path, transaction=False)
    with pytest.raises(StoreError) as caught:
        bulk.frame("SELECT * FROM nowhere")
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot read the store (") and "\n" not in message
    bulk.close()
