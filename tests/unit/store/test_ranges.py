"""``store.ranges``: rowid ranges of at most so many rows, none empty, however the rowids are spread."""

from __future__ import annotations

import sqlite3

import pytest

from ccanalytics.store.connection import TableShape
from ccanalytics.store.ranges import MAX_RANGES, rowid_ranges

SHAPE = TableShape("t", exists=True, actual="t", rowid="rowid")


def ranges(rowids, rows, upto=None):
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (x)")
    con.executemany("INSERT INTO t (rowid, x) VALUES (?, 0)", [(r,) for r in rowids])
    return list(rowid_ranges(lambda sql: con.execute(sql).fetchone(), SHAPE, rows, upto))


def covered(found, rowids):
    return sorted(r for r in rowids if any(low <= r <= high for low, high in found))


def test_dense_rowids_are_cut_every_so_many_and_the_last_range_ends_on_the_greatest():
    assert ranges(range(-3, 8), 4) == [(-3, 0), (1, 4), (5, 7)]


def test_an_empty_table_has_no_range_and_upto_below_every_rowid_neither():
    assert ranges([], 4) == []
    assert ranges([10, 11], 4, upto=5) == []


@pytest.mark.parametrize("rowids", [[1, 2, 3, 2**62], [-(2**62), -5, 0, 7, 2**40]])
def test_sparse_rowids_are_cut_at_every_so_many_rows_so_no_range_is_empty(rowids):
    found = ranges(rowids, 2)
    assert len(found) <= MAX_RANGES
    assert covered(found, rowids) == sorted(rowids)
    con_rows = [[r for r in rowids if low <= r <= high] for low, high in found]
    assert all(1 <= len(rows) <= 2 for rows in con_rows)


def test_upto_ends_the_ranges_at_that_rowid():
    found = ranges(range(1, 11), 3, upto=7)
    assert found[-1][1] == 7
    assert covered(found, range(1, 11)) == list(range(1, 8))
