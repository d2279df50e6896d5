"""``store.sqlite``: names from a store are always quoted, whatever characters they hold.

A store may come from any software (data-contract.md, "Stores written by
someone else"), with extra columns of any name.  Issue 12's bug: a column named
``a"b`` was quoted without doubling its ``"``, and every snapshot failed.
"""

from __future__ import annotations

import sqlite3

import polars as pl
import pytest

import ccanalytics as cc
from ccanalytics.contract import INVALID_TEXT
from ccanalytics.store.sqlite import Source
from ccanalytics.store.values import columns, finish, wire
from tests.support.reference import assert_snapshots_equal, reference_snapshot
from tests.support.stores import StoreBuilder

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR = 3_600_000
TABLES = ("calls", "events", "apis", "balance_snapshots", "backups", "settings")
SMALL = ("events", "apis", "balance_snapshots", "backups")
# Extra column names another program may use: a quote, a quote that closes, SQL after a quote, a bracket.
HOSTILE = ['a"b', '"', 'x"); DROP TABLE calls; --', "a]b", "q'uote", ""]


def every_table(path: str) -> str:
    builder = StoreBuilder(path)
    builder.call(NOW - HOUR).call(NOW - 2 * HOUR, "seller", status_code=500).event(NOW - HOUR)
    builder.api("api-a", "Weather").balance(NOW - HOUR, 2_000_000, "10").backup(NOW - HOUR)
    return builder.setting("timezone", "Europe/Berlin").write()


def add_column(path: str, tables: tuple[str, ...], name: str) -> None:
    quoted = '"' + name.replace('"', '""') + '"'
    con = sqlite3.connect(path)
    for table in tables:
        con.execute(f"ALTER TABLE {table} ADD COLUMN {quoted} INTEGER DEFAULT 7")
    con.commit()
    con.close()


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_extra_column_in_every_table_changes_no_figure(tmp_path, name):
    path = every_table(str(tmp_path / "store.db"))
    with cc.open_store(path, cache=False) as store:
        before = store.snapshot(now=NOW).to_dict()
    add_column(path, TABLES, name)
    with cc.open_store(path, cache=False) as store:
        after = store.snapshot(now=NOW).to_dict()
        assert store.events.collect().height == 1
    assert after == before
    assert_snapshots_equal(after, reference_snapshot(path, NOW))


def test_the_states_of_tables_with_a_column_named_a_quote_b(tmp_path):
    path = every_table(str(tmp_path / "store.db"))
    add_column(path, SMALL, 'a"b')
    source = Source(path)
    try:
        states = source.states(SMALL)
    finally:
        source.close()
    assert set(states) == set(SMALL)
    for table, (rows, top, last) in states.items():
        assert (rows, top) == (1, 1), table
        assert last.startswith("7,"), table  # the extra column's value: `a"b` sorts first among the names


def test_numbers_of_another_storage_class_read_as_the_cleaning_sql_judges_them(tmp_path):
    path = StoreBuilder(str(tmp_path / "store.db")).call(NOW - HOUR).call(NOW - 2 * HOUR).write()
    source = Source(path)
    con = sqlite3.connect(path)
    # A REAL status and a TEXT price in INTEGER columns, a text latency: raw numbers cannot build their columns.
    con.execute("UPDATE calls SET status_code = 200.5, price_micro = 'lots', latency_ms = 'slow' WHERE rowid = 1")
    con.commit()
    con.close()
    rows = source.read("calls")
    # What the cleaning SQL itself gives for every value (texts as blobs, decoded after).
    cleaned = source._query(source.select_sql("calls", binary=True))
    numbers = [n for n, dtype in source.schema("calls").items() if dtype != pl.String]
    index = {n: i for i, n in enumerate(source.schema("calls"))}
    assert rows.select(numbers).rows() == [tuple(r[index[n]] for n in numbers) for r in cleaned]
    first = rows.filter(pl.col("_rid") == 1).row(0, named=True)
    assert (first["status_code"], first["price_micro"], first["latency_ms"]) == (None, None, -1.0)
    source.close()


def test_texts_of_another_storage_class_or_not_utf8_read_as_the_cleaning_sql_judges_them(tmp_path):
    path = StoreBuilder(str(tmp_path / "store.db")).call(NOW - HOUR).call(NOW - 2 * HOUR).call(NOW - 3 * HOUR).write()
    source = Source(path)
    con = sqlite3.connect(path)
    # A blob role and consumer (TEXT affinity makes numbers text), then a request_id that is not UTF-8.
    con.execute("UPDATE calls SET role = CAST('seller' AS BLOB), consumer = X'3432' WHERE rowid = 1")
    con.commit()
    first = source.read("calls").filter(pl.col("_rid") == 1).row(0, named=True)
    assert (first["role"], first["consumer"]) == (None, None)  # not text: no role, no consumer
    con.execute("UPDATE calls SET request_id = CAST(X'FF41' AS TEXT), api_name = CAST(X'4EFF' AS TEXT) WHERE rowid = 2")
    con.commit()
    con.close()
    rows = source.read("calls")
    second = rows.filter(pl.col("_rid") == 2).row(0, named=True)
    # A key text that is not UTF-8 marks the row bad; a descriptive one is read with a replacement character.
    assert (second["request_id"], second["api_name"]) == (INVALID_TEXT, "N\ufffd")
    # Every value as the cleaning SQL gives it (texts as blobs, decoded after).
    clean = source._query(source.select_sql("calls", binary=True))
    cleaned = finish(columns(clean, wire(source.schema("calls"))), "calls")
    assert rows.equals(cleaned) and rows.height == 3
    assert source.con.text_factory == source._decode  # the connection decodes as it did
    source.close()
