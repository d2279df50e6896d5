"""How the views' ledger keeps its recent rows' texts: few-valued ones as categories, no request ids.

A view's ledger keeps weeks of rows (``ledger.Ledger.recent``).  A text
column of polars holds a 16-byte view per row and, beyond 12 bytes, the text
itself; ``api_name`` (a dozen names, ~20 characters) and ``rule`` (null but for
the broken rows), ``role`` and ``api_id`` (two values; a few dozen APIs)
take 4 bytes a row as categories instead.  Rows that leave ``recent`` for the
totals are text again (``texts``), and so are the rows the views' queries read
(``plain``, cast after they are filtered), so nothing downstream sees a
category.

``request_id`` (36 characters, 52 bytes a row) only breaks ties of an API's
latest name: two named valid calls of one API in the same millisecond
(metrics.md).  Rows with one time leave ``recent`` together, so the tie is
settled when the rows come in (``named_once``): of those calls only the one
with the greatest ``request_id`` keeps its ``api_name`` in ``recent``; the
others can never be the latest name.  The rows keep their rowid (``RID``, 8
bytes) instead, by which a tie with a row that came in earlier (a late row,
or the rest of a millisecond read by a later refresh) reads that row's
``request_id`` back.  Rows leave ``recent`` with a null ``request_id``,
which loses a tie to a real one (``formulas.latest_names``): the one row of
its time that kept its name, or one that came in later and beat it.  The
settled names keep real ones (``with_request_ids``), as a late row older
than the horizon is compared with them.

Pure polars; the rows read back come from a function the store gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import polars as pl
import polars.selectors as cs

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = ["AS_CATEGORIES", "RID", "Read", "compact", "like", "named_once", "plain", "texts", "with_request_ids"]

AS_CATEGORIES = ("role", "api_id", "api_name", "rule")
RID = "_rid"  # the rowid column of rows read from the store (``store.sqlite.RID``)
# The calls with these rowids, read back from the store (their RID and request_id among the columns).
Read = Callable[[list[int]], pl.DataFrame]
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

_TS = pl.col("ts_ms")
_NAMED = pl.col("api_name").is_not_null() & pl.col("rule").is_null() & _TS.is_not_null()
_TIE = ("api_id", "ts_ms")


def compact(schema: dict[str, PolarsDataType]) -> dict[str, PolarsDataType]:
    """``schema`` with the ``AS_CATEGORIES`` columns as categories, the rowid instead of ``request_id``.

    Examples
    --------
    >>> compact({"ts_ms": pl.Int64, "api_name": pl.String, "request_id": pl.String})
    {'ts_ms': Int64, 'api_name': Categorical, '_rid': Int64}
    """
    kept = {name: pl.Categorical() if name in AS_CATEGORIES else dtype for name, dtype in schema.items()}
    return {RID if name == "request_id" else name: pl.Int64 if name == "request_id" else d for name, d in kept.items()}


def named_once(rows: pl.DataFrame, recent: pl.DataFrame, read: Read | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``rows`` coming into ``recent`` (with ``request_id``), and ``recent``, with each tie of a name settled.

    Of the named valid calls of one API at one millisecond — among the rows,
    and the one of ``recent`` that kept its name — all but the one with the
    greatest ``request_id`` lose their ``api_name``.  ``read`` reads back the
    ``request_id`` of that one of ``recent``.  The same frames when no row ties
    (the usual refresh: later than every kept row, one at a time).

    Examples
    --------
    >>> recent = pl.DataFrame({"ts_ms": [5], "api_id": ["a"], "api_name": ["Old"], "rule": [None], RID: [1]})
    >>> rows = pl.DataFrame({"ts_ms": [5, 5], "api_id": ["a", "a"], "api_name": ["New", "Newer"],
    ...     "rule": [None, None], RID: [2, 3], "request_id": ["r2", "r0"]})
    >>> read = lambda rowids: pl.DataFrame({RID: [1], "request_id": ["r1"]})
    >>> rows, recent = named_once(rows, recent, read)
    >>> rows["api_name"].to_list(), recent["api_name"].to_list()
    (['New', None], [None])
    """
    times = rows["ts_ms"]
    if rows.is_empty() or times.null_count():
        return rows, recent
    newest = recent["ts_ms"].max() if recent.height else None
    later = newest is None or times.min() > newest  # type: ignore[operator]
    if later and times.is_sorted() and times.n_unique() == rows.height:
        return rows, recent
    named = rows.with_row_index("_at").filter(_NAMED).select(*_TIE, "request_id", "_at", RID)
    if named.is_empty():
        return rows, recent
    candidates = [named]
    if not later:  # the one of `recent` that kept its name at each of these times, its request_id read back
        keys = named.select(*_TIE).unique()
        earlier = recent.filter(_TS.is_in(keys["ts_ms"].implode()) & _NAMED).select(*_TIE, RID)
        earlier = earlier.with_columns(pl.col("api_id").cast(pl.String)).join(keys, on=list(_TIE), how="semi")
        if earlier.height:
            assert read is not None, "a tie with an earlier row: its request_id must be read back"
            ids = read(earlier[RID].to_list()).select(RID, "request_id")
            candidates.append(
                earlier.join(ids, on=RID).select(*_TIE, "request_id", _at=pl.lit(None, pl.UInt32), **{RID: RID})
            )
    losers = pl.concat(candidates).filter(pl.col("request_id") < pl.col("request_id").max().over(*_TIE))
    if losers.is_empty():
        return rows, recent
    earlier_losers = losers.filter(pl.col("_at").is_null())[RID]
    return _unnamed(rows, pl.int_range(pl.len(), dtype=pl.UInt32), losers["_at"]), _unnamed(
        recent, pl.col(RID), earlier_losers
    )


def _unnamed(rows: pl.DataFrame, key: pl.Expr, losers: pl.Series) -> pl.DataFrame:
    """``rows`` without the ``api_name`` of those whose ``key`` is among the ``losers``' (the same frame if none)."""
    losers = losers.drop_nulls()
    if losers.is_empty():
        return rows
    return rows.with_columns(pl.when(key.is_in(losers.implode())).then(None).otherwise("api_name").alias("api_name"))


def with_request_ids(leaving: pl.DataFrame, read: Read | None) -> pl.DataFrame:
    """Rows leaving ``recent`` for the settled totals, with the ``request_id`` of each API's latest named one.

    Examples
    --------
    >>> leaving = pl.DataFrame({"ts_ms": [4, 5], "api_id": ["a", "a"], "api_name": ["Old", "New"], "rule": [None] * 2,
    ...     RID: [1, 2], "request_id": pl.Series([None, None], dtype=pl.String)})
    >>> read = lambda rowids: pl.DataFrame({RID: rowids, "request_id": ["r2"]})
    >>> with_request_ids(leaving, read)["request_id"].to_list()
    [None, 'r2']
    """
    latest = leaving.filter(_NAMED).filter(_TS.max().over("api_id") == _TS)
    if latest.is_empty():
        return leaving
    assert read is not None, "rows leaving for the settled totals: their latest names' request_id must be read back"
    ids = read(latest[RID].to_list()).select(RID, found="request_id")
    filled = leaving.join(ids, on=RID, how="left", maintain_order="left")
    return filled.with_columns(pl.coalesce("found", "request_id").alias("request_id")).drop("found")


def texts(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with every category as text again and a ``request_id`` (null) if they have none.

    The same frame when there is nothing to do.

    Examples
    --------
    >>> rows = pl.DataFrame({"api_name": ["A"]}, schema={"api_name": pl.Categorical})
    >>> texts(rows).schema
    Schema([('api_name', String), ('request_id', String)])
    """
    rows = plain(rows)
    if "request_id" in rows.columns:
        return rows
    return pl.DataFrame([*rows.get_columns(), pl.Series("request_id", [None] * rows.height, dtype=pl.String)])


def plain(rows: Frame) -> Frame:
    """``rows`` (a frame or a plan) with every category as text again: what the views' queries of kept rows read.

    The kept rows are filtered first, so only the rows a query reads are cast.
    A frame is cast column by column (no query), and is the same frame when
    it has no category (the default view's rows, every refresh).

    Examples
    --------
    >>> rows = pl.DataFrame({"role": ["seller"], "ts_ms": [1]}, schema_overrides={"role": pl.Categorical})
    >>> plain(rows).schema, plain(rows.lazy()).collect_schema()
    (Schema([('role', String), ('ts_ms', Int64)]), Schema([('role', String), ('ts_ms', Int64)]))
    """
    if isinstance(rows, pl.LazyFrame):
        return rows.with_columns(cs.categorical().cast(pl.String))
    if not any(dtype == pl.Categorical for dtype in rows.schema.values()):
        return rows
    return pl.DataFrame([s.cast(pl.String) if s.dtype == pl.Categorical else s for s in rows.get_columns()])


def like(rows: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """``rows`` (the columns of ``schema``, in order) in its dtypes, column by column: no query, no copy when they are.

    Examples
    --------
    >>> rows = pl.DataFrame({"api_name": ["A"]})
    >>> like(rows, pl.Schema({"api_name": pl.Categorical()})).schema
    Schema([('api_name', Categorical)])
    """
    if rows.schema == schema:
        return rows
    return pl.DataFrame([s if s.dtype == schema[s.name] else s.cast(schema[s.name]) for s in rows.get_columns()])
