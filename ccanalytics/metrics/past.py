"""What a day range's history (``history``) takes from before the ledger's horizon.

The ledger keeps no rows there, only ``quarters.Quarters``; a history's
periods and bands are arbitrary instants, so each is split into whole UTC days
(summed from the day tallies and sketches) and the hours at its ends, whose
rows are read back from the store by rowid range (``quarters.Reader``): on an
appended store a few hours of calls lie in one short rowid range.  The
series' local days are sums of quarter-hour counts; a quarter that a local
midnight splits (a zone whose midnight is not on a quarter hour) is read back
as rows too.  Everything is exact.

Pure polars; the store does the reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.metrics import formulas
from ccanalytics.metrics.consumers import KEY, PREFIX, api_key, consumer_key, keyed, text_key
from ccanalytics.metrics.quarters import QUARTER_MS, Quarters, Reader
from ccanalytics.units import DAY_MS

__all__ = ["COLUMNS", "READ", "Past"]

READ = ("ts_ms", "role", "api_id", "status_code", "latency_ms", "price_micro", "revenue_micro", "consumer")
COLUMNS = (*READ[:-1], KEY, PREFIX)  # as a history keeps its calls: the consumer keyed (``consumers.keyed``)
_TEXTS = pl.col("role", "api_id").cast(pl.String)
_SCHEMA = {name: TABLES["calls"].schema[name] for name in READ}  # the contract's dtypes


def _ceil(t: int, unit: int) -> int:
    return -(-t // unit) * unit


def whole_days(start: int, end: int) -> tuple[int, int] | None:
    """The whole UTC days within ``[start, end)`` as ``(first day, end of the last)``; None when there are none.

    Examples
    --------
    >>> whole_days(DAY_MS - 1, 3 * DAY_MS + 5), whole_days(1, DAY_MS)
    ((86400000, 259200000), None)
    """
    first, last = _ceil(start, DAY_MS), end - end % DAY_MS
    return (first, last) if first < last else None


@dataclass(frozen=True)
class Past:
    """The settled calls (before ``horizon``) as day tallies and quarter counts, and a way to read their rows."""

    quarters: Quarters  # merged
    reader: Reader
    horizon: int

    def rows(self, ranges: list[tuple[int, int]]) -> pl.DataFrame:
        """The valid settled calls (``COLUMNS``) in these disjoint ranges ``[start, end)``, read back."""
        return keyed(self._read(ranges))

    def _read(self, ranges: list[tuple[int, int]]) -> pl.DataFrame:
        """The valid settled calls in these disjoint ranges ``[start, end)`` as the store has them (``READ``)."""
        frames = [pl.DataFrame(schema=_SCHEMA)]
        for start, end in ranges:
            end = min(end, self.horizon)
            span = self.quarters.rowids(start, end) if start < end else None
            if span is not None:
                got = self.reader(span[0], span[1], start, end)
                frames.append(got.select(READ).cast(_SCHEMA))  # type: ignore[arg-type]
        return pl.concat(frames)

    def days(self, periods: dict[str, tuple[int, int]]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
        """The day tallies and sketches of the whole days of each period, with its ``period``."""
        tallies, sketches = [], []
        day = pl.col("day")
        for name, (first, end) in periods.items():
            label = pl.lit(name).alias("period")
            inside = day.is_between(first, end, closed="left")
            tallies.append(self.quarters.days.lazy().filter(inside).with_columns(label, _TEXTS))
            sketches.append(self.quarters.sketch.lazy().filter(inside).with_columns(label, _TEXTS))
        if not tallies:
            return (
                self.quarters.days.lazy().head(0).with_columns(_TEXTS, period=pl.lit(None, pl.String)),
                self.quarters.sketch.lazy().head(0).with_columns(_TEXTS, period=pl.lit(None, pl.String)),
            )
        return pl.concat(tallies), pl.concat(sketches)

    def day_counts(self, starts: list[int], end: int) -> pl.LazyFrame:
        """Per (role, api_id, start): successes and errors of the settled calls in ``[starts[0], end)``."""
        split = sorted({s - s % QUARTER_MS for s in starts if s % QUARTER_MS and s < self.horizon})
        q = pl.col("q")
        first = starts[0] - starts[0] % QUARTER_MS
        counts = self.quarters.counts.lazy().filter(
            (q >= first) & (q < end) & ~q.is_in(pl.Series(split, dtype=pl.Int64).implode())
        )
        edges = pl.LazyFrame({"start": pl.Series(starts, dtype=pl.Int64)})
        whole = (
            counts.sort("q")
            .join_asof(edges, left_on="q", right_on="start", strategy="backward")
            .filter(pl.col("start").is_not_null())
            .group_by("role", "api_id", "start")
            .agg(pl.col("success", "error").sum())
            .with_columns(_TEXTS)
        )
        if not split:
            return whole
        rows = self.rows([(s, s + QUARTER_MS) for s in split]).lazy()
        parts = (
            formulas.window(rows, starts[0], end)
            .sort("ts_ms")
            .join_asof(edges, left_on="ts_ms", right_on="start", strategy="backward")
            .group_by("role", "api_id", "start")
            .agg(success=formulas.succeeded().sum().cast(pl.Int64), error=(~formulas.succeeded()).sum().cast(pl.Int64))
        )
        return pl.concat([whole, parts]).group_by("role", "api_id", "start").agg(pl.col("success", "error").sum())

    def errors(self, since: int, end: int) -> pl.LazyFrame:
        """The settled failed calls in ``[since, end)``: ``role``, ``api_id``, ``ts_ms``."""
        inside = pl.col("ts_ms").is_between(since, end, closed="left")
        return self.quarters.errors.lazy().filter(inside).with_columns(_TEXTS)

    def _sellers(
        self, start: int, end: int, api: str | None, keys: pl.Expr | None = None, sums: bool = True
    ) -> pl.DataFrame:
        """The settled seller calls in ``[start, end)`` (with ``api``: of that API): ``ts_ms``, ``key``.

        With ``api``, ``key`` is the (consumer, api_id) key; ``keys``: only the
        calls it holds true for (an expression of ``key``); ``sums``: with
        ``micro`` and ``prefix``.  Read piece by piece as the shelf keeps
        them, each piece filtered before the next is read: only the calls
        asked are ever held together, never all of them.
        """
        columns = ["ts_ms", "key"] if api is None else ["ts_ms", "pair", "api_id"]
        sums_of = ["micro", "prefix"] if sums else []
        kept = self.quarters.sellers
        pieces = (
            [kept.select(columns + sums_of)]
            if isinstance(kept, pl.DataFrame)
            else kept.pieces(columns + sums_of, start, end)
        )
        mine = pl.col("ts_ms").is_between(start, end, closed="left")
        if api is not None:
            mine = mine & (pl.col("api_id").cast(pl.String) == api)
        wanted = ["ts_ms", pl.col(columns[1]).alias("key"), *sums_of]
        keys = pl.lit(True) if keys is None else keys
        # One query a piece: the rows asked are picked at once, no copy of the piece between.
        found = [piece.lazy().filter(mine).select(wanted).filter(keys).collect(engine="in-memory") for piece in pieces]
        return pl.concat(found)

    def sellers(self, start: int, end: int, api: str | None, keys: pl.Expr | None = None) -> pl.LazyFrame:
        """The settled seller calls in ``[start, end)`` (with ``api``: of that API), one row each, not summed.

        Columns ``key`` (with ``api``: the (consumer, api_id) key), ``calls`` (1), ``micro``, ``prefix``;
        with ``keys`` (an expression of ``key``), only the calls it holds true for.
        """
        calls = self._sellers(start, end, api, keys)
        return calls.lazy().select("key", pl.lit(1, pl.UInt32).alias("calls"), "micro", "prefix")

    def times(self, keys: pl.Series, start: int, end: int, api: str | None) -> pl.DataFrame:
        """``key``, ``ts_ms``: the time of one settled seller call in ``[start, end)`` of each of these consumers."""
        calls = self._sellers(start, end, api, keys=pl.col("key").is_in(keys.implode()), sums=False)
        return calls.group_by("key").agg(pl.col("ts_ms").first())

    def texts(self, keys: pl.DataFrame, api: str | None) -> pl.DataFrame:
        """``key`` -> ``consumer``: the texts of these consumers (``key``, a call's ``ts_ms``), read back."""
        quarters = sorted({t - t % QUARTER_MS for t in keys["ts_ms"].to_list()})
        rows = self._read([(q, q + QUARTER_MS) for q in quarters]).lazy()
        found = (
            rows.filter(pl.col("consumer").is_not_null() & (pl.col("role") == "seller"))
            .with_columns(text_key().alias(KEY))
            .select(key=consumer_key() if api is None else api_key(), consumer="consumer")
            .unique("key")
            .collect()
        )
        return keys.select("key").join(found, on="key", how="left")
