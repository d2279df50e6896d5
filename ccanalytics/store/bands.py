"""Reading a few hours of old calls back from the store, by rowid range (``metrics.quarters.Reader``).

A day range's history keeps no rows before the ledger's horizon, only
tallies; the few hours at the ends of its periods are read back here when it
is built.  The ledger knows, per quarter hour, the least and greatest rowid of
its calls; on an appended store those hours are one short rowid range.  On a
store whose rowids do not follow time (rows inserted out of order) the range
is wider, up to the whole table: it is then read in short queries and
filtered as it goes, so memory stays small and only the time grows.  Only rows
up to the last one the ledger has read count: later ones reach it as new rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import quote_name
from ccanalytics.metrics.past import READ
from ccanalytics.store.history import judged

if TYPE_CHECKING:
    from ccanalytics.metrics.quarters import Reader
    from ccanalytics.store.follow import Cursor
    from ccanalytics.store.sqlite import Source

__all__ = ["STEP", "read_back"]

STEP = 50_000  # rowids per query


def read_back(source: Source, cursor: Cursor) -> Reader:
    """A ``Reader`` of the valid calls among the rowids the ``cursor`` has passed, in one state of the file.

    Examples
    --------
    >>> import tempfile, os, sqlite3
    >>> from ccanalytics.contract import create_store
    >>> from ccanalytics.store.follow import Cursor
    >>> from ccanalytics.store.sqlite import Source
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> create_store(path)
    >>> con = sqlite3.connect(path)
    >>> sql = "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, 'buyer', 'a', 200)"
    >>> _ = con.executemany(sql, [("r1", 10), ("r2", 20), ("r3", 30)])
    >>> con.commit()
    >>> read = read_back(Source(path), Cursor(top=2))
    >>> read(1, 3, 15, 40)["ts_ms"].to_list()     # the third row is not read yet
    [20]
    """
    shape = source.shapes["calls"]
    rowid, ts = shape.rowid, quote_name(shape.columns["ts_ms"])

    def read(first: int, last: int, start: int, end: int) -> pl.DataFrame:
        assert rowid is not None
        last = last if cursor.top is None else min(last, cursor.top)
        frames = []
        # Integers clearly outside the times asked are skipped in SQL; anything else is judged here.
        outside = f"typeof({ts}) = 'integer' AND ({ts} < {int(start)} OR {ts} >= {int(end)})"
        with source.transaction():
            for low in range(first, last + 1, STEP):
                high = min(low + STEP - 1, last)
                where = f"{rowid} BETWEEN {int(low)} AND {int(high)} AND NOT ({outside})"
                rows = judged("calls", source.read("calls", where=where))
                good = rows.filter(pl.col("rule").is_null() & pl.col("ts_ms").is_between(start, end, closed="left"))
                frames.append(good.select(READ))
        if not frames:
            schema = source.schema("calls")
            return pl.DataFrame(schema={name: schema[name] for name in READ})
        return pl.concat(frames)

    return read
