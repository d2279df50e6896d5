"""``store.sqlite``: names from a store are always quoted, whatever characters they hold.

A store may come from any software (data-contract.md, "Stores written by
someone else"), with extra columns of any name.  Issue 12's bug: a column named
``a"b`` was quoted without doubling its ``"``, and every snapshot failed.
"""

from __future__ import annotations

import sqlite3

import pytest

import ccanalytics as cc
from ccanalytics.store.sqlite import Source
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
