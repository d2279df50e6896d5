"""Following a table by its rowids: how far it was read, and whether what was read is still there.

Appends leave the row count explained by the new rows and the last row read
as it was (SQLite reuses the greatest rowid once its row is gone).  Deletes,
replaced rows and a swapped table fail one of these checks; an ``UPDATE`` in
place of an older row passes both (see docs/design.md).  Counting a big table
takes longer than a refresh may, so ``Verifier`` counts it in the background.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccanalytics.contract import TABLES
from ccanalytics.errors import StoreError
from ccanalytics.store.bulk import turn
from ccanalytics.store.sqlite import RID, Source

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

__all__ = ["PACE", "PACED_S", "Cursor", "HistoryChanged", "Verifier", "advance", "intact", "new_rows", "still_there"]

# A background count that took more than PACED_S of CPU waits PACE times as long before the next one (``Verifier``).
PACE = 10
PACED_S = 0.02


@dataclass
class Cursor:
    """How far a table has been read: the greatest rowid, how many rows, the last row.

    Examples
    --------
    >>> import polars as pl
    >>> cursor = Cursor()
    >>> rows = pl.DataFrame({"_rid": [3, 9], "id": [1, 2], "ts_ms": [5, 6], "type": ["a", "b"],
    ...     "severity": ["info", "info"], "message": ["x", "y"]})
    >>> advance(cursor, "events", rows, reset=False)
    >>> cursor
    Cursor(top=9, rows=2, last=(9, 2, 6, 'b', 'info', 'y'))
    """

    top: int | None = None  # None: no row read yet (rowids may be negative)
    rows: int = 0
    last: tuple | None = None


def advance(cursor: Cursor, table: str, rows: pl.DataFrame, reset: bool) -> None:
    """Move ``cursor`` past ``rows`` just read (after forgetting what it had read, with ``reset``)."""
    if reset:
        cursor.top, cursor.rows, cursor.last = None, 0, None
    cursor.rows += rows.height
    top = rows[RID].max() if rows.height else None
    if isinstance(top, int) and (cursor.top is None or top > cursor.top):
        cursor.top = top
        columns = [RID, *TABLES[table].schema]
        cursor.last = (rows if rows.columns == columns else rows.select(columns)).row(rows[RID].arg_max())


def new_rows(source: Source, table: str, cursor: Cursor, count: bool = True) -> tuple[bool, pl.DataFrame]:
    """Rows added since ``cursor``, or (True, all rows) when history changed.

    Without ``count`` the row count is not checked (a big table's is counted
    in the background: see ``Verifier``).
    """
    shape = source.shapes[table]
    if shape.has_rowid and cursor.top is not None:
        # One query: the last row read (to check it is unchanged) and every row after it.
        r = shape.rowid
        rows = source.read(table, where=f"{r} >= ? ORDER BY {r}", params=(cursor.top,))
        again = rows.height > 0 and rows[RID][0] == cursor.top
        new = rows.slice(1) if again else rows
        counted = not count or cursor.rows + new.height == source.count(table)
        if counted and (cursor.last is None or (again and rows.row(0) == cursor.last)):
            return False, new
    return True, source.read(table)


def intact(source: Source, table: str, cursor: Cursor) -> bool:
    """Whether the rows a cursor has read are all still there, the last one unchanged.

    Counts the whole table: cheap for a small one, a background job for a big one.
    """
    if cursor.top is None:
        return source.count(table) == cursor.rows
    below = source.count(table) - source.count_after(table, cursor.top)
    return below == cursor.rows and (cursor.last is None or source.row_at(table, cursor.top) == cursor.last)


def still_there(source: Source, cursor: Cursor) -> bool:
    """Whether every call a read in short queries counted is still there, the last one unchanged.

    Counted in short queries too: a rollback-journal writer never waits long.
    """
    if cursor.top is None:
        return True
    below = source.count_upto("calls", cursor.top)
    return below == cursor.rows and source.row_at("calls", cursor.top) == cursor.last


class HistoryChanged(Exception):
    """Rows read before are gone or changed: the calls must be read in full."""


class Verifier:
    """Counts a big table's rows in a background thread, off the refresh path.

    Appends are seen at once; a row deleted (or replaced) in the middle of a
    big history only changes the count, and counting ten million rows takes
    longer than a whole refresh may.  So the count runs here, after a refresh,
    and the next refresh rebuilds when it disagreed.  A count that took more
    than ``PACED_S`` of CPU waits ``PACE`` times that long before the next one
    starts: ten million calls take 0.2-0.3 s to count, which after every
    one-second refresh was a quarter of a core, ten times the refresh itself.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccanalytics-verify")
        self._pending: Future[bool] | None = None
        self._next = 0.0  # time.monotonic() before which no count starts

    def start(self, table: str, cursor: Cursor) -> None:
        """Count ``table`` against ``cursor`` (a copy), unless a count is still running or was just made."""
        if (self._pending is None or self._pending.done()) and time.monotonic() >= self._next:
            self._pending = self._pool.submit(self._paced, table, Cursor(cursor.top, cursor.rows, cursor.last))

    def _paced(self, table: str, cursor: Cursor) -> bool:
        cpu = time.thread_time()
        try:
            return self._check(table, cursor)
        finally:
            cpu = time.thread_time() - cpu
            self._next = time.monotonic() + (PACE * cpu if cpu > PACED_S else 0.0)

    def _check(self, table: str, cursor: Cursor) -> bool:
        # Not while a full read opens the store through ADBC's SQLite (``bulk.turn``); if that lasts,
        # this count is skipped (it agrees) and the next refresh starts another.
        try:
            with turn():
                return self._counted(table, cursor)
        except TimeoutError:
            return True

    def _counted(self, table: str, cursor: Cursor) -> bool:
        try:
            source = Source(self._path)
        except StoreError:
            return False
        try:
            if source.wal:
                with source.transaction():
                    return intact(source, table, cursor)
            # A rollback-journal store: short queries, none of which makes a writer wait long.
            # A commit between them may show as a difference: the store is then read again.
            below = 0 if cursor.top is None else source.count_upto(table, cursor.top)
            return below == cursor.rows and (
                cursor.top is None or cursor.last is None or source.row_at(table, cursor.top) == cursor.last
            )
        except StoreError:
            return False
        finally:
            source.close()

    def disagreed(self) -> bool:
        """Whether a finished count disagreed with what had been read (the answer is used once)."""
        pending = self._pending
        if pending is None or not pending.done():
            return False
        self._pending = None
        return not pending.result()

    def close(self) -> None:
        """Stop counting (a count under way is abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
