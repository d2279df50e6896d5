"""Views (``../shared/spec/views.md``): the previous period, percentiles, and ranged views.

Pure polars, no I/O.  ``period_figures`` gives the figures of a role over a
few disjoint periods in one query (the default snapshot's 24 h percentiles,
``previous_24h`` and ``previous_7d``); ``ranged_view`` builds the ``view``
object of ``snapshot --range R [--api ID]`` from the valid calls that exist at
``now`` (as far back as the previous period of the range), the first seller
call of each (consumer, api_id), the APIs' names and their registrations.
Percentiles of windows are exact (nearest rank, from the rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from ccanalytics.metrics import formulas, sketch
from ccanalytics.metrics.consumers import (
    FirstSeen,
    consumer_key,
    consumer_prefix,
    keyed,
    new_consumers,
    ranked,
)
from ccanalytics.metrics.texts import Texts
from ccanalytics.units import DAY_MS, HOUR_MS, iso_utc, usdc_text

__all__ = [
    "RANGES",
    "Range",
    "all_time_breakdown",
    "breakdown_rows",
    "bucket_starts",
    "figures_dict",
    "iso_texts",
    "period_figures",
    "ranged_view",
    "usdc_texts",
    "view_dict",
    "with_names",
]

MINUTE_MS = 60_000
TOP_CONSUMERS = 10
_FIGURES = ("calls", "success", "latency_sum", "latency_n", "price_micro", "revenue_micro")
_PCT = tuple(f"p{nn}_latency_ms" for nn in sketch.PERCENTILES)


@dataclass(frozen=True)
class Range:
    """A range of views.md: its window length, how many buckets and their unit."""

    name: str
    length_ms: int
    buckets: int
    bucket: str  # "1m", "1h" or "1d"


RANGES = {
    r.name: r
    for r in (
        Range("1h", HOUR_MS, 60, "1m"),
        Range("24h", DAY_MS, 24, "1h"),
        Range("7d", 7 * DAY_MS, 168, "1h"),
        Range("30d", 30 * DAY_MS, 30, "1d"),
        Range("90d", 90 * DAY_MS, 90, "1d"),
    )
}


def usdc_texts(micro: pl.Expr) -> pl.Expr:
    """Micro-USDC as 6-decimal text, as an expression.

    Examples
    --------
    >>> pl.select(t=usdc_texts(pl.lit(1_234_567))).item()
    '1.234567'
    """
    return micro.floordiv(1_000_000).cast(pl.String) + "." + (micro % 1_000_000).cast(pl.String).str.zfill(6)


def _offset_ms(moment_ms: int, zone: ZoneInfo) -> int:
    moment = datetime.fromtimestamp(moment_ms // 1000, tz=UTC).astimezone(zone)
    return (moment.utcoffset() or timedelta(0)) // timedelta(milliseconds=1)


def _local_midnight(day: datetime, zone: ZoneInfo) -> int:
    """The first instant of a local calendar day, epoch ms (a midnight in a DST gap: the gap's end)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    return int(midnight.astimezone(UTC).timestamp() * 1000)


@lru_cache(maxsize=16)
def _midnights(last: date, timezone: str, days: int) -> tuple[int, ...]:
    """The first instants of the ``days`` local days up to ``last`` (a refresh asks the same ones all day)."""
    zone = ZoneInfo(timezone)
    return tuple(
        _local_midnight(datetime(d.year, d.month, d.day), zone)
        for d in (last - timedelta(days=i) for i in range(days - 1, -1, -1))
    )


def bucket_starts(now: int, timezone: str, range_: Range) -> list[int]:
    """The starts of a view's buckets (epoch ms), oldest first.

    The last starts at ``now`` floored to the minute, hour or local day in
    ``timezone``; each earlier one a unit before the next (a day: the previous
    local midnight, so a DST day lasts 23 or 25 hours).

    Examples
    --------
    >>> now = 1_774_958_400_000                       # 2026-03-31T12:00:00Z
    >>> starts = bucket_starts(now, "Europe/Berlin", RANGES["30d"])
    >>> [(b - a) // HOUR_MS for a, b in zip(starts[-4:], starts[-3:])]   # DST began on the 29th
    [24, 23, 24]
    >>> starts = bucket_starts(now + 7 * MINUTE_MS, "Asia/Kathmandu", RANGES["24h"])
    >>> iso_utc(starts[-1]), len(starts)
    ('2026-03-31T11:15:00Z', 24)
    """
    zone = ZoneInfo(timezone)
    if range_.bucket == "1d":
        today = datetime.fromtimestamp(now // 1000, tz=UTC).astimezone(zone).date()
        starts = _midnights(today, timezone, range_.buckets)
        if starts[-1] > now:  # `now` in the hour a DST gap skipped at midnight: today began earlier
            starts = _midnights(today - timedelta(1), timezone, range_.buckets)
        return list(starts)
    unit = MINUTE_MS if range_.bucket == "1m" else HOUR_MS
    last = now - (now + _offset_ms(now, zone)) % unit
    return [last - (range_.buckets - 1 - i) * unit for i in range(range_.buckets)]


def _tally(calls: pl.LazyFrame, by: tuple[str, ...]) -> pl.LazyFrame:
    return formulas.tally(calls, by=by).select(*by, *_FIGURES)


def period_figures(
    calls: pl.LazyFrame, periods: dict[str, tuple[int, int]], by: tuple[str, ...] = ("role",)
) -> pl.LazyFrame:
    """Per group and period: the tallied figures and the exact percentiles of the period's calls.

    ``periods`` maps a name to a half-open ``[start, end)``; they must not
    overlap.  Columns: ``*by``, ``period``, ``calls``, ``success``,
    ``latency_sum``, ``latency_n``, ``price_micro``, ``revenue_micro``,
    ``p50_latency_ms``, ``p95_latency_ms``, ``p99_latency_ms``.

    Examples
    --------
    >>> calls = pl.LazyFrame({"ts_ms": [0, 5, 10, 15], "role": ["buyer"] * 4, "status_code": [200, 500, 200, 200],
    ...     "latency_ms": [1.0, 2.0, 3.0, None], "price_micro": [1, 1, 1, 1], "revenue_micro": [0, 0, 0, 0]})
    >>> f = period_figures(calls, {"now": (10, 20), "before": (0, 10)}).sort("period").collect()
    >>> f.select("period", "calls", "success", "p95_latency_ms").rows()
    [('before', 2, 1, 2.0), ('now', 2, 2, 3.0)]
    """
    ts = pl.col("ts_ms")
    label: Any = pl.lit(None, pl.String)
    for name, (start, end) in periods.items():
        label = pl.when(ts.is_between(start, end, closed="left")).then(pl.lit(name)).otherwise(label)
    lo = min(s for s, _ in periods.values())
    hi = max(e for _, e in periods.values())
    labelled = formulas.window(calls, lo, hi).with_columns(period=label).filter(pl.col("period").is_not_null())
    keys = (*by, "period")
    return _tally(labelled, keys).join(sketch.exact_percentiles(labelled, keys), on=list(keys), how="left")


def figures_dict(row: dict[str, Any] | None, role: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The JSON figures of one period (``calls``, ``success_rate``, ``avg_latency_ms``, percentiles, ``usdc``).

    ``row`` is a row of ``period_figures`` (None: no calls); ``keys`` picks and orders the figures.

    Examples
    --------
    >>> figures_dict(None, "seller", ("calls", "usdc"))
    {'calls': 0, 'usdc': '0.000000'}
    """
    row = row or {}
    calls, n = row.get("calls", 0), row.get("latency_n", 0)
    money = row.get(formulas.money_column(role), 0)
    every = {
        "calls": calls,
        "success_rate": row["success"] / calls if calls else None,
        "avg_latency_ms": row["latency_sum"] / n if n else None,
        **{p: row.get(p) for p in _PCT},
        "usdc": usdc_text(money),
    }
    return {k: every[k] for k in keys}


_VIEW_FIGURES = ("calls", "success_rate", "avg_latency_ms", *_PCT, "usdc")


def _series(calls: pl.LazyFrame, starts: list[int], now: int) -> pl.LazyFrame:
    """Per role and bucket: ``start``, ``success``, ``error``."""
    edges = pl.Series("start", starts, dtype=pl.Int64)
    grid = pl.LazyFrame({"role": formulas.ROLES}).join(pl.LazyFrame({"start": edges}), how="cross")
    counts = (
        formulas.window(calls, starts[0], now)
        .sort("ts_ms")
        .join_asof(pl.LazyFrame({"start": edges}).sort("start"), left_on="ts_ms", right_on="start", strategy="backward")
        .group_by("role", "start")
        .agg(success=formulas.succeeded().sum().cast(pl.Int64), error=(~formulas.succeeded()).sum().cast(pl.Int64))
    )
    return (
        grid.join(counts, on=["role", "start"], how="left")
        .with_columns(pl.col("success", "error").fill_null(0))
        .sort("role", "start")
    )


def _breakdown(calls: pl.LazyFrame, names: pl.LazyFrame, apis: pl.LazyFrame) -> pl.LazyFrame:
    """Per role, the window's API breakdown in metrics.md's order (``usdc`` as text)."""
    by = ("role", "api_id")
    tallied = _tally(calls, by).join(sketch.exact_percentiles(calls, by), on=list(by), how="left")
    return breakdown_rows(tallied, names, apis)


def breakdown_rows(tallied: pl.LazyFrame, names: pl.LazyFrame, apis: pl.LazyFrame) -> pl.LazyFrame:
    """A ranged view's breakdown rows from tallies per (role, api_id) with ``p95_latency_ms``, in order."""
    return (
        with_names(tallied, names, apis)
        .select(
            "role",
            "api_id",
            "api_name",
            "calls",
            "success",
            errors=pl.col("calls") - pl.col("success"),
            usdc=usdc_texts(pl.when(pl.col("role") == "buyer").then("price_micro").otherwise("revenue_micro")),
            avg_latency_ms=_ratio("latency_sum", "latency_n"),
            p95_latency_ms="p95_latency_ms",
            success_rate=_ratio("success", "calls"),
        )
        .sort(["role", "calls", "api_id"], descending=[False, True, False])
    )


def with_names(tallied: pl.LazyFrame, names: pl.LazyFrame, apis: pl.LazyFrame) -> pl.LazyFrame:
    """``tallied`` with ``api_name``: registered, else the latest call's name, else the id."""
    # Of a repeated api_id the row read last, the greatest rowid, wins (data-contract.md).
    registered = apis.select("api_id", registered_name="name").unique("api_id", keep="last", maintain_order=True)
    called = names.select("api_id", called_name="api_name")
    return (
        tallied.join(registered, on="api_id", how="left")
        .join(called, on="api_id", how="left")
        .with_columns(api_name=pl.coalesce("registered_name", "called_name", "api_id"))
    )


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return (
        pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator)).otherwise(None).cast(pl.Float64)
    )


def _per_consumer(calls: pl.LazyFrame) -> pl.LazyFrame:
    """Per consumer of the (keyed) seller calls: ``key``, ``prefix``, ``calls``, ``micro``."""
    seller = calls.filter((pl.col("role") == "seller") & consumer_key().is_not_null())
    return seller.group_by(key=consumer_key()).agg(
        prefix=consumer_prefix().first(),
        calls=pl.len().cast(pl.Int64),
        micro=pl.col("revenue_micro").cast(pl.Int128).sum(),  # never wraps
    )


def _top(per: pl.DataFrame, texts: Texts, start: int) -> pl.DataFrame:
    """``top_consumers`` of ``_per_consumer``'s rows: ranked by their first bytes, then the few first's texts found."""
    first = ranked(per, TOP_CONSUMERS)
    first = first.with_columns(consumer=texts.of(first["key"], start)["consumer"])
    return (
        first.sort(["micro", "calls", "consumer"], descending=[True, True, False])
        .head(TOP_CONSUMERS)
        .select("consumer", "calls", usdc=usdc_texts(pl.col("micro")))
    )


def ranged_view(
    calls: pl.LazyFrame,
    *,
    seen: FirstSeen,
    horizon: int,
    names: pl.LazyFrame,
    apis: pl.LazyFrame,
    now: int,
    timezone: str,
    range_name: str,
    api: str | None = None,
    texts: Texts | None = None,
) -> dict[str, Any]:
    """The ``view`` object of views.md for the range ``range_name`` (and one ``api``).

    ``calls`` are the valid calls that exist at ``now`` (at least those since
    the previous period's start and all since ``horizon``), with ``consumer``
    or keyed (``consumers.keyed``: then ``texts`` has their consumers' texts);
    ``seen`` the first seller calls before ``horizon``; ``names`` from
    ``formulas.latest_names``; ``apis`` the valid registrations.

    Examples
    --------
    >>> calls = pl.LazyFrame({"ts_ms": [0, 3_600_000], "role": ["seller"] * 2, "api_id": ["a"] * 2,
    ...     "status_code": [200, 500], "latency_ms": [10.0, 20.0], "price_micro": [5, 5],
    ...     "revenue_micro": [4, 4], "consumer": ["c1", "c1"]})
    >>> apis = pl.LazyFrame(schema={"api_id": pl.String, "name": pl.String})
    >>> v = ranged_view(calls, seen=FirstSeen.empty(), horizon=0, names=formulas.empty_names(), apis=apis,
    ...     now=3_600_001, timezone="UTC", range_name="1h")
    >>> v["seller"]["calls"], v["seller"]["previous"]["calls"], v["seller"]["new_consumers"]
    (1, 1, 0)
    >>> v["seller"]["series"][-1], v["seller"]["top_consumers"]
    ({'start': '1970-01-01T01:00:00Z', 'success': 0, 'error': 1}, [{'consumer': 'c1', 'calls': 1, 'usdc': '0.000004'}])
    """
    range_ = RANGES[range_name]
    start, length = now - range_.length_ms, range_.length_ms
    texts = Texts.of_rows(calls) if texts is None else texts
    calls = keyed(calls)
    if api is not None:
        calls = calls.filter(pl.col("api_id") == api)
    starts = bucket_starts(now, timezone, range_)
    # The calls of the previous period, the window and the buckets, filtered once (not once per figure).
    span = formulas.window(calls, min(start - length, starts[0]), now).collect(engine="in-memory").lazy()
    in_window = formulas.window(span, start, now)
    figures, series, breakdown, per = pl.collect_all(
        [
            period_figures(span, {"window": (start, now), "previous": (start - length, start)}),
            _series(span, starts, now),
            _breakdown(in_window, names, apis),
            _per_consumer(in_window),
        ],
        engine="in-memory",  # as ``history.History.view``
    )
    fresh = new_consumers(calls, seen, horizon, start, now, api)
    return view_dict(range_, api, now, figures, series, breakdown, (per.height, fresh, _top(per, texts, start)))


def view_dict(
    range_: Range,
    api: str | None,
    now: int,
    figures: pl.DataFrame,
    series: pl.DataFrame,
    breakdown: pl.DataFrame,
    consumers: tuple[int, int, pl.DataFrame],
) -> dict[str, Any]:
    """The ``view`` object from its frames.

    ``figures`` per (role, period) as ``period_figures``, ``series`` per
    (role, start), ``breakdown`` per role, and the seller's consumers, new
    consumers and top ones.
    """
    out: dict[str, Any] = {
        "range": range_.name,
        "api": api,
        "start": iso_utc(now - range_.length_ms),
        "end": iso_utc(now),
        "bucket": range_.bucket,
    }
    # One conversion per frame, split by role in Python (each polars call costs a refresh more than these rows).
    periods = {(r["role"], r["period"]): r for r in figures.to_dicts()}
    texts = series if series.schema["start"] == pl.String else series.with_columns(start=iso_texts(pl.col("start")))
    buckets = _by_role(texts.select("role", "start", "success", "error"))
    rows = _by_role(breakdown)
    for role in formulas.ROLES:
        section = figures_dict(periods.get((role, "window")), role, _VIEW_FIGURES)
        section["previous"] = figures_dict(periods.get((role, "previous")), role, _VIEW_FIGURES)
        section["series"] = buckets[role]
        section["breakdown"] = rows[role]
        if role == "seller":
            section["consumers"], section["new_consumers"] = consumers[0], consumers[1]
            section["top_consumers"] = consumers[2].to_dicts()
        out[role] = section
    return out


def _by_role(frame: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``frame`` as dicts without ``role``, per role (in order; every role present)."""
    split: dict[str, list[dict[str, Any]]] = {role: [] for role in formulas.ROLES}
    for row in frame.to_dicts():
        split[row.pop("role")].append(row)
    return split


def iso_texts(ms: pl.Expr) -> pl.Expr:
    """Epoch ms as metrics.md's ISO text (milliseconds only when not zero), as an expression.

    Examples
    --------
    >>> pl.select(t=iso_texts(pl.lit(1_500))).item()
    '1970-01-01T00:00:01.500Z'
    """
    whole = ms.cast(pl.Datetime("ms", "UTC")).dt.strftime("%Y-%m-%dT%H:%M:%S")
    frac = (ms % 1000).cast(pl.String).str.zfill(3)
    return pl.when(ms % 1000 == 0).then(whole + "Z").otherwise(whole + "." + frac + "Z")


def all_time_breakdown(
    tallies: pl.LazyFrame, sketches: pl.LazyFrame, names: pl.LazyFrame, apis: pl.LazyFrame, role: str
) -> pl.LazyFrame:
    """The all-time breakdown of one role with every figure of views.md (``usdc`` in micro-USDC).

    ``p95_latency_ms`` comes from the ledger's sketch (within 0.5 %).

    Examples
    --------
    >>> calls = pl.LazyFrame({"role": ["buyer"] * 3, "api_id": ["a"] * 3, "status_code": [200, 200, 500],
    ...     "latency_ms": [10.0, None, 0.0], "price_micro": [1, 2, 3], "revenue_micro": [0, 0, 0]})
    >>> apis = pl.LazyFrame(schema={"api_id": pl.String, "name": pl.String})
    >>> rows = all_time_breakdown(formulas.tally(calls), sketch.sketch(calls), formulas.empty_names(), apis, "buyer")
    >>> row = rows.collect().row(0)
    >>> row[:7], round(row[7], 1), row[8]           # p95 = 10 within 0.5 %
    (('a', 'a', 3, 2, 1, 6, 5.0), 10.0, 0.6666666666666666)
    """
    money = formulas.money_column(role)
    mine = tallies.filter(pl.col("role") == role)
    p95 = sketch.sketch_percentiles(sketches.filter(pl.col("role") == role)).select("api_id", "p95_latency_ms")
    return (
        with_names(mine.join(p95, on="api_id", how="left"), names, apis)
        .select(
            "api_id",
            "api_name",
            "calls",
            "success",
            errors=pl.col("calls") - pl.col("success"),
            usdc=money,
            avg_latency_ms=_ratio("latency_sum", "latency_n"),
            p95_latency_ms="p95_latency_ms",
            success_rate=_ratio("success", "calls"),
        )
        .sort(["calls", "api_id"], descending=[True, False])
    )
