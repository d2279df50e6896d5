"""A day range's view moved forward: what a history's refreshes keep from one to the next (``history``).

A ``History`` answers for every ``now`` of its span from fixed middles, the
bands' rows and the calls added since its build.  Between two refreshes only a
few calls change places: those added since (each counted once, in the window
or the previous period, when its time passes ``now``; one after ``now`` waits
in ``pending``), and the band calls that the window's and the previous
period's starts passed (from the window to the previous period, or out).

``Edges`` keeps, for one API filter, at one ``now``: the tallies and latency
sketches of both periods (middles included), the series' counts of the new
calls per bucket start, their failed calls, the window's consumers outside the
middle (each with its figures in the middle) and each consumer's first call
among the new calls (with its first call before them).  ``plan`` adds the
changes as signed rows (+1 entering, −1 leaving), so that a refresh costs the
calls that changed, not the bands nor every call since the build.  Counts and
integer sums stay exact; latency sums are floats added and subtracted (a
latency of a billion milliseconds or more leaving makes the caller start again
from the build, so that no rounding can show).

Pure polars, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from ccanalytics.metrics import formulas, sketch
from ccanalytics.metrics.consumers import api_key, consumer_key, consumer_prefix
from ccanalytics.metrics.views import Range, bucket_starts

__all__ = [
    "FIRSTS_SCHEMA",
    "OUTSIDE_SCHEMA",
    "SIGNED",
    "Edges",
    "Move",
    "coarse",
    "group",
    "label",
    "merged_firsts",
    "merged_outside",
]

_BY = ["period", "role", "api_id"]
_HUGE_LATENCY = 1e9  # leaving with one this big, a float sum could lose the others' digits: start again
SIGNED = "sign"
_TOP_BITS = 2**62  # a group's period and role, above a hash of its api_id
# The window's consumers outside the middle: their calls and revenue there, and their figures in the middle.
OUTSIDE_SCHEMA = {
    "key": pl.UInt64,
    "prefix": pl.UInt64,  # the consumer's first 8 bytes (``consumers.consumer_prefix``)
    "calls": pl.Int64,
    "micro": pl.Int128,
    "mid_calls": pl.Int64,
    "mid_micro": pl.Int128,
    "known": pl.Boolean,  # whether the middle has the consumer
}
_LOOKED = ("mid_calls", "mid_micro", "known")
# Each consumer's first call among the new calls, and its first call before them (null: none).
FIRSTS_SCHEMA = {"key": pl.UInt64, "ts_ms": pl.Int64, "old": pl.Int64}


def label(calls: pl.LazyFrame, now: int, length: int) -> pl.LazyFrame:
    """The calls of the window ``[now − length, now)`` and of its previous period, with ``period`` and ``sign`` +1.

    Examples
    --------
    >>> calls = pl.LazyFrame({"ts_ms": [0, 5, 10, 15]})
    >>> label(calls, 15, 5).collect().select("ts_ms", "period").rows()
    [(5, 'previous'), (10, 'window')]
    """
    ts = pl.col("ts_ms")
    period = (
        pl.when(ts >= now - length)
        .then(pl.lit("window"))
        .otherwise(pl.when(ts >= now - 2 * length).then(pl.lit("previous")))
    )
    return calls.filter(ts.is_between(now - 2 * length, now, closed="left")).with_columns(
        period=period, **{SIGNED: pl.lit(1, pl.Int64)}
    )


def group(*, by_api: bool = True) -> pl.Expr:
    """A sketch group's 64-bit id from ``period``, ``role`` and ``api_id``: integers sort and group fast.

    The top two bits say the period and the role, the rest is a hash of
    ``api_id`` (without ``by_api``: zero, the group of the role's APIs together).

    Examples
    --------
    >>> rows = pl.DataFrame({"period": ["window", "window"], "role": ["seller"] * 2, "api_id": ["a", "b"]})
    >>> ids = rows.select(fine=group(), role=group(by_api=False))
    >>> ids["fine"].n_unique(), ids["role"].to_list() == [3 * 2**62] * 2, (ids["fine"] // 2**62).to_list()
    (2, True, [3, 3])
    """
    period_role = (pl.col("period") == "window").cast(pl.UInt64) * 2 + (pl.col("role") == "seller").cast(pl.UInt64)
    top = period_role * pl.lit(_TOP_BITS, pl.UInt64)
    return top + pl.col("api_id").hash(seed=7) // 4 if by_api else top


def coarse(grp: pl.Expr) -> pl.Expr:
    """The group of a ``group`` id's period and role, every API together (``group(by_api=False)``)."""
    return grp // _TOP_BITS * pl.lit(_TOP_BITS, pl.UInt64)


def _signed_tally(delta: pl.LazyFrame) -> pl.LazyFrame:
    sign, latency = pl.col(SIGNED), pl.col("latency_ms")
    return delta.group_by(_BY).agg(
        calls=sign.sum(),
        success=(sign * formulas.succeeded().cast(pl.Int64)).sum(),
        latency_sum=formulas.exact_sum(latency * sign),
        latency_n=(latency.is_not_null().cast(pl.Int64) * sign).sum(),
        price_micro=(pl.col("price_micro").cast(pl.Int128) * sign).sum(),
        revenue_micro=(pl.col("revenue_micro").cast(pl.Int128) * sign).sum(),
    )


def _signed_sketch(delta: pl.LazyFrame) -> pl.LazyFrame:
    latency = pl.col("latency_ms")
    return (
        delta.filter(latency.is_not_null())
        .group_by(grp=group(), key=sketch.bucket(latency))
        .agg(n=pl.col(SIGNED).sum())
        .select("grp", "key", "n")
    )


def _bucket_counts(calls: pl.LazyFrame, starts: list[int]) -> pl.LazyFrame:
    """Per (role, start): successes and errors of the calls since ``starts[0]`` (all before ``now``)."""
    edges = pl.Series("start", starts, dtype=pl.Int64)
    ts = pl.col("ts_ms")
    at = pl.lit(edges).search_sorted(ts, side="right").cast(pl.Int64) - 1  # the bucket each call lies in
    return (
        calls.filter(ts >= starts[0])
        .group_by("role", start=pl.lit(edges).gather(at))
        .agg(success=formulas.succeeded().sum().cast(pl.Int64), error=(~formulas.succeeded()).sum().cast(pl.Int64))
    )


def _sellers(calls: pl.LazyFrame) -> pl.LazyFrame:
    return calls.filter((pl.col("role") == "seller") & consumer_key().is_not_null())


@dataclass(frozen=True)
class Edges:
    """The figures of one API filter's view at ``now``, and what moves them to a later ``now``."""

    api: str | None
    now: int
    height: int  # rows of the ledger's `recent` counted (or pending)
    band: pl.DataFrame  # the bands' calls (late ones merged in), sorted by ts_ms
    pending: pl.DataFrame  # calls added at or after `now`: counted when `now` passes them
    tallies: pl.DataFrame  # period, role, api_id, figures: both periods, middles included
    sketch: pl.DataFrame  # grp (``group``), key, n: both periods, sorted by grp and key
    counts: pl.DataFrame  # role, start, success, error: the new calls per bucket start
    failed: pl.DataFrame  # role, api_id, ts_ms: the new calls that failed
    outside: pl.DataFrame  # key, prefix, calls, micro: the window's seller calls outside the middle
    firsts: pl.DataFrame  # key, ts_ms: each consumer's first call among the new calls

    @classmethod
    def start(
        cls,
        api: str | None,
        now: int,
        known: int,
        band: pl.DataFrame,
        future: pl.DataFrame,
        tallies: pl.DataFrame,
        sketches: pl.DataFrame,
        length: int,
    ) -> tuple[Edges, pl.LazyFrame]:
        """The middles alone at ``now``, and the bands' calls to add then (signed rows, for ``plan``'s ``extra``).

        ``known`` rows of the ledger were there at the build; ``future`` are
        those of them at or after it; ``sketches`` per (period, role, api_id,
        key), as a history keeps them.
        """
        if api is not None:
            mine = pl.col("api_id") == api
            band, future = band.filter(mine), future.filter(mine)
            tallies, sketches = tallies.filter(mine), sketches.filter(mine)
        failed = pl.DataFrame(schema={"role": pl.String, "api_id": pl.String, "ts_ms": pl.Int64})
        counts = pl.DataFrame(schema={"role": pl.String, "start": pl.Int64, "success": pl.Int64, "error": pl.Int64})
        outside = pl.DataFrame(schema=OUTSIDE_SCHEMA)
        firsts = pl.DataFrame(schema=FIRSTS_SCHEMA)
        sketches = sketches.select(grp=group(), key="key", n="n").sort("grp", "key")
        edges = cls(api, now, known, band, future, tallies, sketches, counts, failed, outside, firsts)
        return edges, label(band.lazy(), now, length)

    def with_consumers(self, outside: pl.DataFrame, firsts: pl.DataFrame) -> Edges:
        """These edges with their consumers' figures (as ``merged_outside`` and ``merged_firsts`` give them)."""
        return replace(self, outside=outside, firsts=firsts)

    def plan(
        self,
        rows: pl.DataFrame,
        height: int,
        now: int,
        *,
        built: int,
        span: int,
        timezone: str,
        range_: Range,
        extra: pl.LazyFrame | None = None,
    ) -> Move | None:
        """The move to a later ``now``, as queries (``Move``): a view collects them with its own in one polars call.

        ``rows`` are the valid calls added since ``self.height`` (up to
        ``height``), not filtered by API; ``extra`` more signed rows to add
        (the bands' at the start).  None when ``now`` moved back, or when a
        huge latency leaves (start again from the build).
        """
        if now < self.now:
            return None
        length = range_.length_ms
        ts = pl.col("ts_ms")
        mine = rows if self.api is None else rows.filter(pl.col("api_id") == self.api)
        incoming = pl.concat([self.pending, mine.select(self.pending.columns)]) if mine.height else self.pending
        if incoming.height and incoming["ts_ms"].max() >= now:  # type: ignore[operator]
            entering, pending = incoming.filter(ts < now), incoming.filter(ts >= now)
        else:
            entering, pending = incoming, incoming.clear()
        band_ts = self.band["ts_ms"]
        cuts = [self.now - 2 * length, now - 2 * length, self.now - length, now - length]
        a, b, c, d = (int(i) for i in band_ts.search_sorted(pl.Series(cuts, dtype=pl.Int64), side="left"))
        out_of_previous, into_previous = self.band.slice(a, b - a), self.band.slice(c, d - c)
        most = [frame["latency_ms"].max() or 0.0 for frame in (out_of_previous, into_previous)]
        if max(most) >= _HUGE_LATENCY:  # type: ignore[operator]
            return None
        band = self.band
        if entering.height and entering["ts_ms"].min() < built - length + span:  # type: ignore[operator]
            in_band = ts.is_between(built - 2 * length, built - 2 * length + span, closed="left") | ts.is_between(
                built - length, built - length + span, closed="left"
            )
            late = entering.filter(in_band)
            if late.height:
                band = pl.concat([band, late]).sort("ts_ms")
        sign = pl.lit(-1, pl.Int64)
        delta = pl.concat(
            [
                *([] if extra is None else [extra]),
                label(entering.lazy(), now, length),
                out_of_previous.lazy().with_columns(period=pl.lit("previous"), **{SIGNED: sign}),
                into_previous.lazy().with_columns(period=pl.lit("window"), **{SIGNED: sign}),
                into_previous.lazy().with_columns(period=pl.lit("previous"), **{SIGNED: pl.lit(1, pl.Int64)}),
            ],
            how="diagonal_relaxed",
        )
        key = consumer_key() if self.api is None else api_key()
        starts = bucket_starts(now, timezone, range_)
        tallies = (
            pl.concat([self.tallies.lazy(), _signed_tally(delta)], how="vertical_relaxed")
            .group_by(_BY)
            .agg(*formulas.sums(_BY))
            .filter(pl.col("calls") != 0)
            .select(self.tallies.columns)
        )
        sketches = (
            pl.concat([self.sketch.lazy(), _signed_sketch(delta)], how="vertical_relaxed")
            .group_by("grp", "key")
            .agg(pl.col("n").sum())
            .filter(pl.col("n") != 0)
            .sort("grp", "key")  # kept in order: its percentiles need no sort
        )
        counts = (
            pl.concat([self.counts.lazy(), _bucket_counts(entering.lazy(), starts)])
            .group_by("role", "start")
            .agg(pl.col("success", "error").sum())
        )
        outside = (
            _sellers(delta.filter(pl.col("period") == "window"))
            .group_by(key=key)
            .agg(
                prefix=consumer_prefix().first(),
                calls=pl.col(SIGNED).sum(),
                micro=(pl.col("revenue_micro").cast(pl.Int128) * pl.col(SIGNED)).sum(),
            )
        )
        moved = replace(self, now=now, height=height, band=band, pending=pending)
        return Move(
            edges=moved,
            tallies=tallies,
            sketch=sketches,
            counts=counts,
            failed=entering.lazy().filter(~formulas.succeeded()).select(self.failed.columns),
            outside=outside,
            firsts=_sellers(entering.lazy()).group_by(key=key).agg(pl.col("ts_ms").min()),
            starts=starts,
        )


@dataclass(frozen=True)
class Move:
    """``Edges.plan``'s answer: the edges at the later ``now`` once its queries are collected (``done``)."""

    edges: Edges  # now, height, band and pending moved; the frames below not yet
    tallies: pl.LazyFrame
    sketch: pl.LazyFrame
    counts: pl.LazyFrame
    failed: pl.LazyFrame  # the calls entering that failed
    outside: pl.LazyFrame  # per consumer of the window's changes: key, prefix, calls and micro signed
    firsts: pl.LazyFrame  # key, ts_ms: each consumer's first call among those entering
    starts: list[int]  # the buckets' starts at `now`

    def queries(self) -> list[pl.LazyFrame]:
        """The frames ``done`` takes, in its order."""
        return [self.tallies, self.sketch, self.counts, self.failed]

    def done(self, tallies: pl.DataFrame, sketch: pl.DataFrame, counts: pl.DataFrame, failed: pl.DataFrame) -> Edges:
        """The edges at ``now`` from the collected ``queries`` (consumers not yet: ``Edges.with_consumers``)."""
        edges = self.edges
        failed = pl.concat([edges.failed, failed]) if failed.height else edges.failed
        return replace(edges, tallies=tallies, sketch=sketch, counts=counts, failed=failed)


def merged_outside(before: pl.DataFrame, looked: pl.DataFrame) -> pl.DataFrame:
    """The window's consumers outside the middle: ``before`` with the changes ``looked`` (both ``OUTSIDE_SCHEMA``).

    ``before`` is sorted by ``key``, ``looked`` has each key once; the answer
    is sorted by ``key`` too.  The few changes are added in place (binary
    searches), not every row grouped again; a consumer left without calls
    outside the middle leaves.

    Examples
    --------
    >>> row = {"prefix": 7, "mid_calls": 0, "mid_micro": 0, "known": False}
    >>> before = pl.DataFrame([{"key": 1, "calls": 2, "micro": 5, **row}, {"key": 3, "calls": 1, "micro": 1, **row}],
    ...     schema=OUTSIDE_SCHEMA)
    >>> looked = pl.DataFrame([{"key": 3, "calls": -1, "micro": -1, **row}, {"key": 2, "calls": 1, "micro": 4, **row}],
    ...     schema=OUTSIDE_SCHEMA)
    >>> merged_outside(before, looked).select("key", "calls", "micro").rows()
    [(1, 2, 5), (2, 1, 4)]
    """
    if looked.is_empty():
        return before
    changes = looked.select(*OUTSIDE_SCHEMA).sort("key")
    if before.is_empty():
        merged = changes
    else:
        keys = before["key"]
        at = keys.search_sorted(changes["key"], side="left")
        hit = (at < before.height) & (keys.gather(at.clip(upper_bound=before.height - 1)) == changes["key"])
        if hit.any():
            where, added = at.filter(hit), changes.filter(hit)
            before = before.with_columns(
                before[c].scatter(where, before[c].gather(where) + added[c]) for c in ("calls", "micro")
            )
            changes = changes.filter(~hit)
        merged = before.merge_sorted(changes, key="key") if changes.height else before
    calls = merged["calls"]
    return merged.filter(calls != 0) if (calls == 0).any() else merged


def merged_firsts(before: pl.DataFrame, firsts: pl.DataFrame) -> pl.DataFrame:
    """``before`` with the new first calls ``firsts`` (both ``FIRSTS_SCHEMA``): a consumer's earlier call of the two."""
    if not firsts.height:
        return before
    return (
        pl.concat([before, firsts], how="vertical_relaxed")
        .group_by("key")
        .agg(pl.col("ts_ms").min(), pl.col("old").first())
    )
