"""``store.connection``: the tables' shapes whatever their case, one state per transaction, the file's identity."""

from __future__ import annotations

import os
import sqlite3

import pytest

from ccanalytics.contract import create_store
from ccanalytics.errors import StoreError
from ccanalytics.store.connection import Connection, Invalid, ascii_lower

NOW = 1_795_608_000_000


def execute(path, *statements):
    con = sqlite3.connect(path)
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()


def add_call(path, request_id):
    execute(
        path,
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) "
        f"VALUES ('{request_id}', {NOW}, 'buyer', 'a', 200)",
    )


@pytest.fixture
def path(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    return path


def test_shapes_name_the_stores_own_spelling_missing_columns_and_the_rowid(tmp_path):
    path = tmp_path / "store.db"
    execute(
        path,
        'CREATE TABLE "CALLS" (Request_ID, TS_MS, Role, API_ID, Status_Code, "rowid")',
        "CREATE TABLE Events (id, ts_ms, type)",
        "CREATE TABLE apis (api_id PRIMARY KEY, name, price_micro, registered_ms) WITHOUT ROWID",
        "CREATE VIEW backups AS SELECT 1 AS ts_ms",
    )
    connection = Connection(path)
    calls, events, apis, backups = (connection.shapes[t] for t in ("calls", "events", "apis", "backups"))
    assert (calls.actual, calls.columns["request_id"], calls.rowid, calls.quoted) == (
        "CALLS",
        "Request_ID",
        "_rowid_",
        '"CALLS"',
    )
    assert events.missing == ("severity", "message") and not events.usable
    assert apis.usable and apis.rowid is None  # WITHOUT ROWID: read whole
    assert backups.usable and backups.rowid is None  # a view
    assert not connection.shapes["balance_snapshots"].exists
    connection.close()


@pytest.mark.parametrize(
    ("ddl", "reason"),
    [
        ("CREATE TABLE other (x)", "has no calls table"),
        ("CREATE TABLE calls (request_id, ts_ms, role)", "calls table lacks column api_id, status_code"),
    ],
)
def test_a_file_without_a_usable_calls_table_is_refused_in_one_line(tmp_path, ddl, reason):
    path = tmp_path / "store.db"
    execute(path, ddl)
    with pytest.raises(StoreError) as caught:
        Connection(path)
    assert str(caught.value) == f"{path}: {reason}"


def test_a_transaction_sees_one_state_and_data_version_tells_a_commit(path):
    connection = Connection(path)
    before = connection.data_version()
    with connection.transaction() as bulk:
        assert bulk is None
        add_call(path, "r1")  # another connection commits meanwhile
        assert connection._query("SELECT count(*) FROM calls") == [(0,)]
    assert connection._query("SELECT count(*) FROM calls") == [(1,)]
    assert connection.data_version() != before
    connection.close()


def test_a_swapped_file_is_no_longer_the_one_opened(path, tmp_path):
    connection = Connection(path)
    assert not connection.replaced()
    other = tmp_path / "other.db"
    create_store(other)
    os.replace(other, path)
    assert connection.replaced()
    connection.close()


def test_text_that_is_not_utf8_is_replaced_and_counted(path):
    execute(path, "INSERT INTO settings (key, value) VALUES ('timezone', CAST(X'FF41' AS TEXT))")
    connection = Connection(path)
    (value,) = connection._query("SELECT value FROM settings")[0]
    assert isinstance(value, Invalid) and value == "\ufffdA"
    assert connection.invalid_texts == 1
    connection.close()


def test_names_fold_as_sqlite_folds_them_ascii_only():
    assert ascii_lower("BALANCE_Snapshots") == "balance_snapshots"
    assert ascii_lower("ÉVÉNEMENTS") == "ÉvÉnements"


def test_appends_the_connection_saw_keep_the_connection(path):
    writer = sqlite3.connect(path)  # a writer that stays: the reader watches its shared WAL index
    connection = Connection(path)
    with connection.transaction():
        pass
    con = connection.con
    for n in range(3):
        columns = "request_id, ts_ms, role, api_id, status_code"
        writer.execute(f"INSERT INTO calls ({columns}) VALUES ('w{n}', {NOW}, 'buyer', 'a', 200)")
        writer.commit()
        with connection.transaction():
            assert connection._query("SELECT count(*) FROM calls") == [(n + 1,)]
        assert connection.con is con  # the commit was seen: no new connection (and no statements prepared again)
    writer.close()
    connection.close()
