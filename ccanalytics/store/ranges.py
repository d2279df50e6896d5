"""Rowid ranges to read a big table by: at most so many rows each, never empty however sparse the rowids."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from ccanalytics.store.connection import TableShape

__all__ = ["rowid_ranges"]

# Beyond this many rowid ranges (sparse rowids), chunks are cut by rows instead.
MAX_RANGES = 1_000


def rowid_ranges(
    value: Callable[[str], tuple], shape: TableShape, rows: int, upto: int | None = None
) -> Iterator[tuple[int, int]]:
    """Inclusive rowid ranges of at most ``rows`` rows each, covering the table (up to the rowid ``upto``).

    Ranges run from the actual least to the greatest rowid (negative and huge
    rowids alike); when rowids are sparse, each range is cut at the
    ``rows``-th rowid instead, so no range is empty.  ``value`` runs a query
    and gives its first row.

    Examples
    --------
    >>> import sqlite3
    >>> from ccanalytics.store.connection import TableShape
    >>> con = sqlite3.connect(":memory:")
    >>> _ = con.execute("CREATE TABLE t (x)")
    >>> _ = con.executemany("INSERT INTO t (rowid, x) VALUES (?, 0)", [(r,) for r in (1, 2, 3, 10)])
    >>> shape = TableShape("t", exists=True, actual="t", rowid="rowid")
    >>> list(rowid_ranges(lambda sql: con.execute(sql).fetchone(), shape, 4))
    [(1, 4), (5, 8), (9, 10)]
    >>> list(rowid_ranges(lambda sql: con.execute(sql).fetchone(), shape, 4, upto=3))
    [(1, 3)]
    """
    t, r = shape.quoted, shape.rowid
    # Two subqueries: each is one seek in the b-tree (a WHERE would make SQLite scan).
    low, high = value(f"SELECT (SELECT min({r}) FROM {t}) AS low, (SELECT max({r}) FROM {t}) AS high")
    if low is None:
        return
    if upto is not None:
        high = min(high, upto)
        if high < low:
            return
    if (high - low) // rows < MAX_RANGES:
        for start in range(low, high + 1, rows):
            yield start, min(start + rows - 1, high)
        return
    while True:
        (end,) = value(
            f"SELECT max(x) AS x FROM (SELECT {r} AS x FROM {t} WHERE {r} BETWEEN {int(low)} AND {int(high)} "
            f"ORDER BY {r} LIMIT {rows})"
        )
        if end is None:
            return
        yield low, end
        if end >= high:
            return
        low = end + 1
