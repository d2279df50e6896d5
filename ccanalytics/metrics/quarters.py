"""The settled history a day range's view needs, kept as tallies instead of rows.

A 90d view and its previous period reach 180 days back, far before the
ledger's horizon (two weeks).  Instead of keeping every call since then as a
row with its texts (five million rows on a ten-million-call store), the
ledger keeps, of the valid calls before its horizon and since ``since``:

- ``days``: tallies per (UTC day, role, api_id) and ``sketch``: latency
  sketches per (UTC day, role, api_id) — the fixed middles of ``history`` are
  sums of whole days;
- ``counts``: successes and errors per (UTC quarter hour, role, api_id) — a
  view's local days are sums of quarters (every local midnight of a modern
  zone falls on a quarter hour; ``history`` reads the rows of a quarter that
  a midnight splits);
- ``errors``: the failed calls' times per (role, api_id), for spike flags;
- ``sellers``: per seller call with a consumer, its time, the 64-bit keys of
  its consumer and of (consumer, api_id), its API, revenue and the first 8
  bytes of the consumer (for the order of ties) — no texts;
- ``spans``: per quarter, the least and greatest rowid of its calls (of every
  call read, before the horizon or not), so that the rows of a few hours can
  be read back from the store (``Reader``): an appended store keeps a
  quarter's calls in one short rowid range.

Every piece merges by addition (or min/max), so rows are added in any order.

Pure polars, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Protocol

import polars as pl

from ccanalytics.metrics import formulas, sketch
from ccanalytics.metrics.consumers import api_key, consumer_key, consumer_prefix, keyed
from ccanalytics.units import DAY_MS

__all__ = ["QUARTER_MS", "RID", "Kept", "Quarters", "Reader", "Shelf"]

QUARTER_MS = 15 * 60_000
RID = "_rid"  # the rowid column of rows read from the store (``store.sqlite.RID``)
_MAX_PENDING = 32
_MAX_PENDING_SELLERS = 262_144  # seller calls pending, at most, when they are kept on a shelf
# Read back the valid calls with ``start <= ts_ms < end`` among the rowids ``first..last``.
Reader = Callable[[int, int, int, int], pl.DataFrame]


class Kept(Protocol):
    """A frame kept out of memory (see ``store.shelf``) until ``frame`` reads it back."""

    height: int

    def frame(self, columns: list[str] | None = None) -> pl.DataFrame:
        """The frame (only ``columns`` when given), read back."""
        ...

    def pieces(
        self, columns: list[str] | None = None, start: int | None = None, end: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """The frame in pieces (at least one), one at a time; any with no ``ts_ms`` in ``[start, end)`` skippable."""
        ...

    def appended(self, frames: Sequence[pl.DataFrame], in_order: bool = True) -> Kept | None:
        """The frame with ``frames`` (in time order after it, unless not ``in_order``) added, not read back.

        None when it cannot.
        """
        ...


# Puts a frame out of memory (or gives it back when it cannot).
Shelf = Callable[[pl.DataFrame], "pl.DataFrame | Kept"]


_DAYS = ("day", "role", "api_id")
# Role and API as categories: strings would be views into the whole chunk read (and keep it alive).
_COUNTS = {"q": pl.Int64, "role": pl.Categorical, "api_id": pl.Categorical, "success": pl.Int64, "error": pl.Int64}
_SPANS = {"q": pl.Int64, "first": pl.Int64, "last": pl.Int64}
_ERRORS = {"role": pl.Categorical, "api_id": pl.Categorical, "ts_ms": pl.Int64}
_CATEGORIES = pl.col("role", "api_id").cast(pl.Categorical)
_SELLERS = {
    "ts_ms": pl.Int64,
    "key": pl.UInt64,
    "pair": pl.UInt64,
    "api_id": pl.Categorical,
    "micro": pl.Int64,
    "prefix": pl.UInt64,
}


def _floor(ts: pl.Expr, unit: int) -> pl.Expr:
    return ts - ts % unit


def _empty() -> dict[str, pl.DataFrame]:
    return {
        "days": _empty_days(),
        "sketch": sketch.empty_sketch(_DAYS).with_columns(pl.col("day").cast(pl.Int64), _CATEGORIES).collect(),
        "counts": pl.DataFrame(schema=_COUNTS),
        "spans": pl.DataFrame(schema=_SPANS),
        "errors": pl.DataFrame(schema=_ERRORS),
        "sellers": pl.DataFrame(schema=_SELLERS),
    }


def _empty_days() -> pl.DataFrame:
    tallies = formulas.empty_tally().collect()
    return tallies.select(pl.lit(None, pl.Int64).alias("day"), *tallies.columns).head(0).with_columns(_CATEGORIES)


def _like(frame: pl.DataFrame, model: pl.DataFrame) -> pl.DataFrame:
    return frame.select(model.columns).cast(model.schema)


def _pieces(settled: pl.LazyFrame, spanned: pl.LazyFrame | None, sellers_since: int) -> list[pl.LazyFrame]:
    ts = pl.col("ts_ms")
    good = settled.filter(pl.col("rule").is_null()).with_columns(day=_floor(ts, DAY_MS), q=_floor(ts, QUARTER_MS))
    ok = formulas.succeeded()
    seller = good.filter((pl.col("role") == "seller") & consumer_key().is_not_null() & (ts >= sellers_since))
    pieces = [
        formulas.tally(good, by=_DAYS),
        sketch.sketch(good, by=_DAYS),
        good.group_by("q", "role", "api_id").agg(success=ok.sum().cast(pl.Int64), error=(~ok).sum().cast(pl.Int64)),
        good.filter(~ok).select(*_ERRORS),
        seller.select(
            "ts_ms",
            key=consumer_key(),
            pair=api_key(),
            api_id=pl.col("api_id").cast(pl.Categorical),
            micro=pl.col("revenue_micro").cast(pl.Int64),
            prefix=consumer_prefix(),
        ),
    ]
    if spanned is not None:
        pieces.append(_spans(spanned))
    return pieces


def _spans_of(rows: pl.DataFrame) -> pl.DataFrame:
    """``_spans`` of a few rows, without a query when they lie in one quarter (a refresh's new rows)."""
    rule = rows["rule"]
    valid = rows if rule.null_count() == rows.height else rows.filter(rule.is_null())
    times = valid["ts_ms"]
    if valid.is_empty() or times.null_count():
        return _spans(valid.lazy()).collect().cast(_SPANS)  # type: ignore[arg-type]
    low, high = int(times.min()), int(times.max())  # type: ignore[arg-type]
    if low - low % QUARTER_MS != high - high % QUARTER_MS:
        return _spans(valid.lazy()).collect().cast(_SPANS)  # type: ignore[arg-type]
    rids = valid[RID]
    return pl.DataFrame({"q": [low - low % QUARTER_MS], "first": [rids.min()], "last": [rids.max()]}, schema=_SPANS)


def _spans(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Per quarter, the least and greatest rowid of the valid calls."""
    valid = rows.filter(pl.col("rule").is_null())
    return valid.group_by(q=_floor(pl.col("ts_ms"), QUARTER_MS)).agg(first=pl.col(RID).min(), last=pl.col(RID).max())


def _merged_sellers(kept: pl.DataFrame, pieces: list[pl.DataFrame]) -> pl.DataFrame:
    """The seller calls ``kept`` (sorted by time) with ``pieces``' in, sorted by time, copying ``kept`` at most once.

    A first read brings them in time order: the few new ones are appended as
    chunks of their own.  Otherwise the two sorted runs are merged (never a
    concatenation sorted again: that held the calls three times over,
    the peak of a 90d first read on ten million calls).

    Examples
    --------
    >>> kept = pl.DataFrame({"ts_ms": [1, 5]})
    >>> _merged_sellers(kept, [pl.DataFrame({"ts_ms": [7, 6]})])["ts_ms"].to_list()
    [1, 5, 6, 7]
    >>> _merged_sellers(kept, [pl.DataFrame({"ts_ms": [3]}), pl.DataFrame({"ts_ms": [0]})])["ts_ms"].to_list()
    [0, 1, 3, 5]
    """
    runs = [p if p["ts_ms"].is_sorted() else p.sort("ts_ms") for p in (kept, *pieces) if p.height]
    if not runs:
        return kept
    times = [(run["ts_ms"][0], run["ts_ms"][-1]) for run in runs]
    in_order = all(later[0] >= earlier[1] for earlier, later in pairwise(times))
    if in_order and sum(run.n_chunks() for run in runs) <= _MAX_SELLER_CHUNKS:
        return pl.concat(runs, rechunk=False)
    more = pl.concat(runs[1:]).sort("ts_ms") if kept.height else pl.concat(runs).sort("ts_ms")
    return kept.merge_sorted(more, key="ts_ms") if kept.height and more.height else more


_MAX_SELLER_CHUNKS = 256  # appended runs beyond this are merged into one
_NAMES = ("days", "sketch", "counts", "errors", "sellers", "spans")
_EMPTY = _empty()


@dataclass(frozen=True)
class Quarters:
    """Day tallies and sketches, quarter counts and rowid spans, errors and sellers of the calls before a horizon."""

    since: int  # nothing before this is kept
    sellers_since: int  # no seller call before this is kept (only windows, not previous periods, count consumers)
    days: pl.DataFrame
    sketch: pl.DataFrame
    counts: pl.DataFrame
    errors: pl.DataFrame
    sellers: pl.DataFrame | Kept  # on the `shelf` when there is one: read only when a history is built
    spans: pl.DataFrame
    pending: tuple[tuple[pl.DataFrame, ...], ...] = ()
    shelf: Shelf | None = None

    def loaded(self, name: str, columns: list[str] | None = None) -> pl.DataFrame:
        """The frame ``name`` (``sellers``, …; only ``columns`` when given), read back when it is kept out of memory."""
        frame = getattr(self, name)
        if isinstance(frame, pl.DataFrame):
            return frame if columns is None else frame.select(columns)
        return frame.frame(columns)

    def shelved(self, shelf: Shelf) -> Quarters:
        """The same (merged), with the seller calls kept on ``shelf`` from now on."""
        q = self.merged()
        sellers = shelf(q.sellers) if isinstance(q.sellers, pl.DataFrame) else q.sellers  # kept already: as it is
        return replace(q, sellers=sellers, shelf=shelf)

    def _kept(self, sellers: pl.DataFrame) -> pl.DataFrame | Kept:
        return sellers if self.shelf is None else self.shelf(sellers)

    @classmethod
    def empty(cls, since: int, sellers_since: int | None = None) -> Quarters:
        f = _empty()
        first = since if sellers_since is None else sellers_since
        return cls(since, first, f["days"], f["sketch"], f["counts"], f["errors"], f["sellers"], f["spans"])

    def plus(self, settled: pl.DataFrame, spanned: pl.DataFrame | None = None) -> Quarters:
        """With more settled rows (judged, with ``rule``) counted, and the rowids of ``spanned`` (with ``RID``).

        Examples
        --------
        >>> rows = pl.DataFrame({"ts_ms": [0, 1, 900_000], "role": ["seller"] * 3, "api_id": ["a"] * 3,
        ...     "status_code": [200, 502, 200], "latency_ms": [5.0, None, 7.0], "price_micro": [10] * 3,
        ...     "revenue_micro": [9] * 3, "consumer": ["c", "c", None], "rule": [None] * 3, "_rid": [1, 2, 3]})
        >>> q = Quarters.empty(0).plus(rows, rows).merged()
        >>> q.days["calls"].to_list(), q.counts.sort("q")["error"].to_list(), q.rowids(0, 10**6)
        ([3], [1, 0], (1, 3))
        """
        has_rids = spanned is not None and RID in spanned.columns and not spanned.is_empty()
        if settled.is_empty():  # the usual refresh: recent rows only, whose rowids are kept for later
            if not has_rids:
                return self
            assert spanned is not None
            piece = (*(_EMPTY[n] for n in _NAMES[:-1]), _spans_of(spanned))
        else:
            ts = pl.col("ts_ms")
            spans = spanned.lazy().filter(ts >= self.since) if has_rids and spanned is not None else None
            got = pl.collect_all(_pieces(keyed(settled.lazy()).filter(ts >= self.since), spans, self.sellers_since))
            if spans is None:
                got.append(pl.DataFrame(schema=_SPANS))
            piece = tuple(_like(f, _EMPTY[n]) for f, n in zip(got, _NAMES, strict=True))
        more = replace(self, pending=(*self.pending, piece))
        at = _NAMES.index("sellers")
        # With a shelf, the seller calls go to it before they pile up in memory (a first read's last months).
        heavy = more.shelf is not None and sum(p[at].height for p in more.pending) >= _MAX_PENDING_SELLERS
        return more.merged() if len(more.pending) >= _MAX_PENDING or heavy else more

    def merged(self) -> Quarters:
        """The same, every pending piece merged in."""
        if not self.pending:
            return self
        at = _NAMES.index("sellers")
        more_sellers = any(p[at].height for p in self.pending)  # usually none: the kept ones are not read then
        kept = {n: self.loaded(n) for n in _NAMES if n != "sellers"}
        parts = {
            n: pl.concat([kept[n], *(p[i] for p in self.pending)]).lazy() for i, n in enumerate(_NAMES) if n in kept
        }
        days, sketches, counts, errors, spans = pl.collect_all(
            [
                formulas.merge_tallies(parts["days"], by=_DAYS).sort("day"),
                sketch.merge_sketches(parts["sketch"], by=_DAYS),
                parts["counts"].group_by("q", "role", "api_id").agg(pl.col("success", "error").sum()).sort("q"),
                parts["errors"].sort("ts_ms"),
                parts["spans"].group_by("q").agg(pl.col("first").min(), pl.col("last").max()).sort("q"),
            ]
        )
        if more_sellers:  # appended to the shelf when they come in time order (a first read), else merged
            pieces = [p[at] for p in self.pending]
            appended = None if isinstance(self.sellers, pl.DataFrame) else self.sellers.appended(pieces)
            sellers_kept = appended or self._kept(_merged_sellers(self.loaded("sellers"), pieces))
        else:
            sellers_kept = self.sellers
        return Quarters(
            self.since, self.sellers_since, days, sketches, counts, errors, sellers_kept, spans, shelf=self.shelf
        )

    def trimmed(self, since: int, sellers_since: int) -> Quarters:
        """The same without anything before ``since`` (seller calls: ``sellers_since``), merged."""
        q = self.merged()
        if since <= q.since and sellers_since <= q.sellers_since:
            return q
        since, sellers_since = max(since, q.since), max(sellers_since, q.sellers_since)
        return Quarters(
            since,
            sellers_since,
            q.days.filter(pl.col("day") >= _floor(pl.lit(since), DAY_MS)),
            q.sketch.filter(pl.col("day") >= _floor(pl.lit(since), DAY_MS)),
            q.counts.filter(pl.col("q") >= _floor(pl.lit(since), QUARTER_MS)),
            q.errors.filter(pl.col("ts_ms") >= since),
            q._kept(q.loaded("sellers").filter(pl.col("ts_ms") >= sellers_since)),
            q.spans.filter(pl.col("q") >= _floor(pl.lit(since), QUARTER_MS)),
            shelf=q.shelf,
        )

    def rowids(self, start: int, end: int) -> tuple[int, int] | None:
        """The least and greatest rowid of the calls read with ``start <= ts_ms < end`` (None: none).

        Merged pieces only: call on a merged ``Quarters``.
        """
        q = pl.col("q")
        inside = self.spans.filter((q >= start - start % QUARTER_MS) & (q < end))
        if inside.is_empty():
            return None
        return int(inside["first"].min()), int(inside["last"].max())  # type: ignore[arg-type]
