"""Reading a store's whole calls history into a ledger, within memory however long it is.

Calls before the ledger's horizon go into totals, later ones stay rows.  The
long texts of old calls are not read (``texts_from``): of them only each
API's latest name matters, and those few rows are fetched whole at the end.
That keeps a first read of ten million calls within memory.  A table without
rowids is read whole, texts and all.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.allocator import trim
from ccanalytics.contract import TABLES, first_broken_rule
from ccanalytics.metrics import formulas
from ccanalytics.metrics.ledger import Ledger
from ccanalytics.store.follow import advance
from ccanalytics.store.shelf import shelf
from ccanalytics.store.sqlite import RID
from ccanalytics.store.unbroken import unbroken
from ccanalytics.units import DAY_MS

if TYPE_CHECKING:
    from ccanalytics.store.bulk import Bulk
    from ccanalytics.store.follow import Cursor
    from ccanalytics.store.sqlite import Source

__all__ = ["judged", "read_history", "shelved"]


# Built once: building the expressions costs more than judging a refresh's rows with them.
_RULE = {name: first_broken_rule(table) for name, table in TABLES.items()}
_BROKEN = {
    name: [broken.fill_null(False).alias(f"rule_{i}") for i, (_, broken) in enumerate(table.rules)]
    for name, table in TABLES.items()
}


def judged(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Clean rows with the first contract rule each breaks (``rule``, null when none).

    Examples
    --------
    >>> frame = pl.DataFrame({"ts_ms": [1, None], "usdc_micro": [5, 5], "eth_wei": ["0", "0"]})
    >>> judged("balance_snapshots", frame)["rule"].is_null().to_list()
    [True, False]
    """
    # Proven by column reductions (``unbroken``), else one expression after the other (``select_seq``): on a
    # refresh's thousand rows, waking polars' threads costs more.
    if frame.height and not unbroken(table, frame) and any(broken.any() for broken in frame.select_seq(_BROKEN[table])):
        return frame.with_columns(rule=_RULE[table])
    # No row breaks a rule (the usual case): a column of nulls (no plan) instead of naming a rule per row.
    if "rule" in frame.columns:
        return frame.with_columns(rule=pl.lit(None, pl.String))
    return frame.hstack([pl.Series("rule", [None] * frame.height, dtype=pl.String)])


def read_history(
    source: Source,
    bulk: Bulk | None,
    cursor: Cursor,
    *,
    now: int,
    reach: int,
    consumers: bool,
    upto: int | None = None,
) -> Ledger:
    """All calls as a ledger ``reach`` back from ``now``; ``cursor`` ends past the last call read.

    ``bulk`` gives the read's connections (see ``Source.read_chunks``);
    ``upto`` ends the read at that rowid; ``consumers`` keeps when each
    consumer was first seen (views).
    """
    # Shelved from the start: the settled seller calls wait on disk during the read too, not only after it.
    ledger = shelved(Ledger.empty(horizon=now - reach - DAY_MS, reach=reach, consumers=consumers))
    advance(cursor, "calls", pl.DataFrame(schema={RID: pl.Int64}), reset=True)
    spare = source.shapes["calls"].has_rowid
    named = [pl.LazyFrame(schema={"api_id": pl.String, "ts_ms": pl.Int64, RID: pl.Int64})]
    texts_from = ledger.horizon if spare else None
    unread = () if consumers else ("consumer",)  # only views count consumers
    for chunk in source.read_chunks("calls", bulk, texts_from=texts_from, upto=upto, unread=unread):
        advance(cursor, "calls", chunk, reset=False)
        # ADBC's record batches make ~50 pieces of a chunk: the rows kept as recent are made one piece (their copy
        # only), or the ledger rejoins all its recent rows at every chunk (many pieces: a copy of them all).
        newest = chunk["ts_ms"].max()
        if chunk.n_chunks() > 1 and newest is not None and newest >= ledger.horizon:  # type: ignore[operator]
            chunk = chunk.rechunk()
        rows = judged("calls", chunk)
        ledger = ledger.add(rows, lambda rowids: source.read_rowids("calls", rowids, bulk))
        if spare:
            latest = _latest_named(rows.lazy().filter(pl.col("ts_ms") < ledger.horizon)).collect()
            named.append(_detached(latest).lazy())
    if spare:
        latest = _at_latest_time(pl.concat(named)).collect()
        rows = source.read_rowids("calls", latest[RID].to_list(), bulk)
        names = formulas.latest_names(rows.lazy()).collect()
        ledger = replace(ledger, settled=replace(ledger.settled, names=names))
    if cursor.top is not None:
        cursor.last = source.row_at("calls", cursor.top, bulk)  # with its real texts
    ledger = shelved(ledger)
    trim()  # the read's C buffers are freed: their pages go back before a view's build rises over them
    return ledger


def shelved(ledger: Ledger) -> Ledger:
    """The ledger with its settled seller calls and its consumers' texts on disk (``shelf``): read only when asked."""
    if ledger.texts is not None:
        ledger = replace(ledger, texts=ledger.texts.shelved(shelf))
    if ledger.quarters is None:
        return ledger
    return replace(ledger, quarters=ledger.quarters.shelved(shelf))


def _latest_named(calls: pl.LazyFrame) -> pl.LazyFrame:
    """The rowids of the valid named calls at each API's latest named time (ties kept)."""
    named = calls.filter(pl.col("rule").is_null() & pl.col("api_name").is_not_null())
    return _at_latest_time(named.select("api_id", "ts_ms", RID))


def _detached(small: pl.DataFrame) -> pl.DataFrame:
    """A copy of a few rows that owns its memory.

    A frame filtered from a big one can keep the big one's buffers alive (its
    strings are views into them): kept for the whole read, a few rows per
    chunk held every chunk (7 MB each).
    """
    return pl.DataFrame(small.to_dict(as_series=False), schema=small.schema)


def _at_latest_time(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.filter(pl.col("ts_ms") == pl.col("ts_ms").max().over("api_id"))
