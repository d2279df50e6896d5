"""Every number of the Dashboard, as pure polars: frames in, frames out, no I/O.

The definitions are those of ``../shared/spec/metrics.md``.  Inputs are the
*clean* rows of the store (see ``contract``) that keep the contract; choosing
which rows exist at ``now`` is part of each function, so a caller cannot
forget it.

Tallies (``tally``) are mergeable: the tally of two sets of calls is the sum
of their tallies, which is what lets the store keep old history as a few
hundred rows instead of millions (``ledger``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from ccanalytics.units import DAY_MS, HOUR_MS, WEEK_MS

__all__ = [
    "CHART_HOURS",
    "TALLY_AGGREGATES",
    "TALLY_COLUMNS",
    "breakdown",
    "call_rate",
    "exact_sum",
    "existing",
    "issue_counts",
    "last_bucket_start",
    "latest_names",
    "merge_tallies",
    "money_column",
    "recent_events",
    "succeeded",
    "sums",
    "tally",
    "window",
    "windows",
]

CHART_HOURS = 48
ROLES = ("buyer", "seller")
TALLY_KEYS = ("role", "api_id")


def money_column(role: str) -> str:
    """The column of a role's money: a buyer's spend (``price_micro``), a seller's revenue (``revenue_micro``).

    Examples
    --------
    >>> money_column("buyer"), money_column("seller")
    ('price_micro', 'revenue_micro')
    """
    return "price_micro" if role == "buyer" else "revenue_micro"


_TALLY_SCHEMA = {
    "role": pl.String,
    "api_id": pl.String,
    "calls": pl.Int64,
    "success": pl.Int64,
    "latency_sum": pl.Float64,
    "latency_n": pl.Int64,
    # Money sums are Int128: each amount may be up to 2**63 - 1 (data-contract.md), a sum of them never wraps.
    "price_micro": pl.Int128,
    "revenue_micro": pl.Int128,
}
TALLY_COLUMNS = tuple(_TALLY_SCHEMA)  # a tally's columns, keys first
_TALLY_SUMS = tuple(c for c in _TALLY_SCHEMA if c not in TALLY_KEYS)
_NAMES_SCHEMA = {"api_id": pl.String, "ts_ms": pl.Int64, "request_id": pl.String, "api_name": pl.String}


def succeeded() -> pl.Expr:
    """True for a call whose status is 2xx."""
    return pl.col("status_code").is_between(200, 299)


def existing(frame: pl.LazyFrame, now: int) -> pl.LazyFrame:
    """The rows that exist at ``now``: those with ``ts_ms < now``.

    Examples
    --------
    >>> frame = pl.LazyFrame({"ts_ms": [999, 1000, 1001]})
    >>> existing(frame, now=1000).collect()["ts_ms"].to_list()
    [999]
    """
    return frame.filter(pl.col("ts_ms") < now)


def window(calls: pl.LazyFrame, start: int, end: int) -> pl.LazyFrame:
    """Calls in the half-open window ``[start, end)``.

    Examples
    --------
    >>> calls = pl.LazyFrame({"ts_ms": [0, 1, 2]})
    >>> window(calls, 1, 2).collect()["ts_ms"].to_list()
    [1]
    """
    return calls.filter(pl.col("ts_ms").is_between(start, end, closed="left"))


_FIXED = 2.0**72  # exact_sum's unit, 2**-72: every double of magnitude 2**-20 or more is a whole number of them


def exact_sum(values: pl.Expr) -> pl.Expr:
    """The sum of float ``values``, the same to the last bit in whatever order they come (docs/decisions.md).

    Each value is added exactly, as a whole number of 2**-72 (a double of
    magnitude 2**-20 or more is one), in 128-bit integers, and the total is
    rounded once.  Values below 2**-20 other than 0, or totals of magnitude
    2**54 or more, are summed as floats instead (in polars' order).

    Examples
    --------
    >>> frame = pl.DataFrame({"v": [1e15, 0.01, -1e15, 0.01, None]})
    >>> frame.select(exact=exact_sum(pl.col("v")), float=pl.col("v").sum()).row(0)
    (0.02, 0.01)
    """
    magnitude = values.abs()
    fixed = pl.when(magnitude >= 2.0**-20).then(values * _FIXED).otherwise(0.0).cast(pl.Int128, strict=False)
    exact = ((magnitude >= 2.0**-20) | (magnitude == 0.0) | values.is_null()).all() & (magnitude.sum() < 2.0**54)
    return pl.when(exact).then(fixed.sum().cast(pl.Float64) / _FIXED).otherwise(values.sum()).cast(pl.Float64)


def sums(by: tuple[str, ...] | list[str]) -> list[pl.Expr]:
    """Aggregations of tallies per group: the sum of each column but ``by`` (``latency_sum`` by ``exact_sum``).

    ``latency_sum`` comes last.
    """
    return [pl.exclude(*by, "latency_sum").sum(), exact_sum(pl.col("latency_sum")).alias("latency_sum")]


# What a tally sums per group (``tally``; ``merge`` aggregates the same eagerly).
TALLY_AGGREGATES = {
    "calls": pl.len().cast(pl.Int64),
    "success": succeeded().sum().cast(pl.Int64),
    "latency_sum": exact_sum(pl.col("latency_ms")),
    "latency_n": pl.col("latency_ms").count().cast(pl.Int64),
    "price_micro": pl.col("price_micro").cast(pl.Int128).sum(),
    "revenue_micro": pl.col("revenue_micro").cast(pl.Int128).sum(),
}


def tally(calls: pl.LazyFrame, by: tuple[str, ...] = TALLY_KEYS) -> pl.LazyFrame:
    """Counts and sums of calls per group: the mergeable unit of every figure.

    Examples
    --------
    >>> calls = pl.LazyFrame({
    ...     "role": ["buyer", "buyer", "seller"], "api_id": ["a", "a", "a"],
    ...     "status_code": [200, 502, 200], "latency_ms": [100.0, None, 50.0],
    ...     "price_micro": [1000, 0, 2000], "revenue_micro": [0, 0, 1900],
    ... })
    >>> tally(calls).sort("role").collect()
    shape: (2, 8)
    ┌────────┬────────┬───────┬─────────┬─────────────┬───────────┬─────────────┬───────────────┐
    │ role   ┆ api_id ┆ calls ┆ success ┆ latency_sum ┆ latency_n ┆ price_micro ┆ revenue_micro │
    │ ---    ┆ ---    ┆ ---   ┆ ---     ┆ ---         ┆ ---       ┆ ---         ┆ ---           │
    │ str    ┆ str    ┆ i64   ┆ i64     ┆ f64         ┆ i64       ┆ i128        ┆ i128          │
    ╞════════╪════════╪═══════╪═════════╪═════════════╪═══════════╪═════════════╪═══════════════╡
    │ buyer  ┆ a      ┆ 2     ┆ 1       ┆ 100.0       ┆ 1         ┆ 1000        ┆ 0             │
    │ seller ┆ a      ┆ 1     ┆ 1       ┆ 50.0        ┆ 1         ┆ 2000        ┆ 1900          │
    └────────┴────────┴───────┴─────────┴─────────────┴───────────┴─────────────┴───────────────┘
    """
    return calls.group_by(*by).agg(**TALLY_AGGREGATES)


def merge_tallies(*tallies: pl.LazyFrame, by: tuple[str, ...] = TALLY_KEYS) -> pl.LazyFrame:
    """The tally of the union of the tallied calls.

    Examples
    --------
    >>> a = tally(pl.LazyFrame({"role": ["buyer"], "api_id": ["x"], "status_code": [200],
    ...     "latency_ms": [10.0], "price_micro": [5], "revenue_micro": [0]}))
    >>> merge_tallies(a, a).collect()[["calls", "latency_sum", "price_micro"]].row(0)
    (2, 20.0, 10)
    """
    frames = [t.select(*by, *_TALLY_SUMS) for t in tallies]
    return pl.concat(frames).group_by(*by).agg(*sums(by)).select(*by, *_TALLY_SUMS)


def empty_tally() -> pl.LazyFrame:
    """A tally of no calls."""
    return pl.LazyFrame(schema=_TALLY_SCHEMA)


def latest_names(calls: pl.LazyFrame) -> pl.LazyFrame:
    """Per ``api_id``, the ``api_name`` of its latest call that has one.

    Latest by ``ts_ms``, ties broken by the greater ``request_id``.  The result
    keeps ``ts_ms`` and ``request_id`` so that results can be merged by
    applying this function to their concatenation.

    Examples
    --------
    >>> calls = pl.LazyFrame({"api_id": ["a", "a", "a"], "ts_ms": [1, 2, 2],
    ...     "request_id": ["r1", "r3", "r2"], "api_name": ["Old", "New", "Tie"]})
    >>> latest_names(calls).collect()[["api_id", "api_name"]].rows()
    [('a', 'New')]
    """
    named = calls.select(*_NAMES_SCHEMA).filter(pl.col("api_name").is_not_null())
    # Two window maxima instead of a sort: the latest time per API, then the
    # greatest request_id among the calls at that time.
    latest = named.filter(pl.col("ts_ms") == pl.col("ts_ms").max().over("api_id"))
    # A null request_id (a views' ledger's recent row, alone at its time: ``recent``) loses to any other.
    latest = latest.filter(pl.col("request_id").eq_missing(pl.col("request_id").max().over("api_id")))
    return latest.unique("api_id", keep="any")


def empty_names() -> pl.LazyFrame:
    """Names of no calls."""
    return pl.LazyFrame(schema=_NAMES_SCHEMA)


def breakdown(tallies: pl.LazyFrame, names: pl.LazyFrame, apis: pl.LazyFrame, role: str) -> pl.LazyFrame:
    """The all-time API breakdown of one role, in the dashboard's order.

    ``tallies`` are per (role, api_id); ``names`` come from ``latest_names``;
    ``apis`` are the valid rows of the ``apis`` table.  ``usdc`` is micro-USDC:
    spent (buyer) or earned (seller).

    Examples
    --------
    >>> tallies = pl.LazyFrame({"role": ["buyer"] * 2, "api_id": ["b", "a"], "calls": [2, 2],
    ...     "success": [1, 2], "latency_sum": [30.0, 0.0], "latency_n": [2, 0],
    ...     "price_micro": [20, 10], "revenue_micro": [0, 0]})
    >>> apis = pl.LazyFrame({"api_id": ["b"], "name": ["Bee"]})
    >>> breakdown(tallies, empty_names(), apis, "buyer").collect()
    shape: (2, 7)
    ┌────────┬──────────┬───────┬─────────┬────────┬──────┬────────────────┐
    │ api_id ┆ api_name ┆ calls ┆ success ┆ errors ┆ usdc ┆ avg_latency_ms │
    │ ---    ┆ ---      ┆ ---   ┆ ---     ┆ ---    ┆ ---  ┆ ---            │
    │ str    ┆ str      ┆ i64   ┆ i64     ┆ i64    ┆ i64  ┆ f64            │
    ╞════════╪══════════╪═══════╪═════════╪════════╪══════╪════════════════╡
    │ a      ┆ a        ┆ 2     ┆ 2       ┆ 0      ┆ 10   ┆ null           │
    │ b      ┆ Bee      ┆ 2     ┆ 1       ┆ 1      ┆ 20   ┆ 15.0           │
    └────────┴──────────┴───────┴─────────┴────────┴──────┴────────────────┘
    """
    money = money_column(role)
    last = (
        _ratio("latency_sum", "latency_n").alias("avg_latency_ms")
        if role == "buyer"
        else _ratio("success", "calls").alias("success_rate")
    )
    # Of a repeated api_id the row read last, the greatest rowid, wins (data-contract.md).
    registered = apis.select("api_id", registered_name="name").unique("api_id", keep="last", maintain_order=True)
    called = names.select("api_id", called_name="api_name")
    return (
        tallies.filter(pl.col("role") == role)
        .join(registered, on="api_id", how="left")
        .join(called, on="api_id", how="left")
        .select(
            "api_id",
            api_name=pl.coalesce("registered_name", "called_name", "api_id"),
            calls="calls",
            success="success",
            errors=pl.col("calls") - pl.col("success"),
            usdc=money,
            **{last.meta.output_name(): last},
        )
        .sort(["calls", "api_id"], descending=[True, False])
    )


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    """Numerator / denominator, null when the denominator is 0."""
    return (
        pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator)).otherwise(None).cast(pl.Float64)
    )


def last_bucket_start(now: int, timezone: str) -> int:
    """Start of the chart's last bucket: ``now`` floored to the hour in ``timezone``.

    Examples
    --------
    >>> now = 1795608000000 + 30 * 60_000          # 2026-11-25T12:30:00Z
    >>> last_bucket_start(now, "UTC") == 1795608000000
    True
    >>> (last_bucket_start(now, "Asia/Kathmandu") - 1795608000000) // 60_000   # +05:45
    15
    """
    utc = datetime.fromtimestamp(now // 1000, tz=UTC)
    try:
        moment = utc.astimezone(ZoneInfo(timezone))
    except OverflowError:  # local time past 9999-12-31: the offset a day earlier is the zone's last
        moment = (utc - timedelta(days=1)).astimezone(ZoneInfo(timezone))
    offset = moment.utcoffset() or timedelta(0)
    offset_ms = offset // timedelta(milliseconds=1)
    return now - (now + offset_ms) % HOUR_MS


def call_rate(calls: pl.LazyFrame, now: int, timezone: str, roles: tuple[str, ...] = ROLES) -> pl.LazyFrame:
    """The 48 hourly buckets of each role: ``role``, ``hour`` (bucket start, epoch ms), ``success``, ``error``.

    Examples
    --------
    >>> calls = pl.LazyFrame({"ts_ms": [0, 3_600_000, 3_600_001, 7_200_000], "role": ["buyer"] * 4,
    ...     "status_code": [200, 200, 500, 200]})
    >>> rate = call_rate(calls, now=7_200_000, timezone="UTC", roles=("buyer",)).collect()
    >>> rate.height, rate.tail(3).drop("role").rows()     # the last bucket is the hour so far
    (48, [(0, 1, 0), (3600000, 1, 1), (7200000, 0, 0)])
    """
    first = last_bucket_start(now, timezone) - (CHART_HOURS - 1) * HOUR_MS
    buckets = pl.LazyFrame({"role": roles}).join(
        pl.LazyFrame({"hour": [first + i * HOUR_MS for i in range(CHART_HOURS)]}), how="cross"
    )
    counts = (
        window(calls, first, now)
        .group_by("role", hour=first + (pl.col("ts_ms") - first) // HOUR_MS * HOUR_MS)
        .agg(success=succeeded().sum().cast(pl.Int64), error=(~succeeded()).sum().cast(pl.Int64))
    )
    return (
        buckets.join(counts, on=["role", "hour"], how="left")
        .with_columns(pl.col("success", "error").fill_null(0))
        .sort("role", "hour")
    )


def windows(calls: pl.LazyFrame, now: int) -> pl.LazyFrame:
    """Per role, the figures of the 24 h and 7 d windows before ``now``, in one query.

    Columns: ``calls``, ``success``, ``latency_sum``, ``latency_n``,
    ``price_micro``, ``revenue_micro`` (each with a ``_24h`` suffix) and
    ``calls_7d``, ``price_micro_7d``, ``revenue_micro_7d``.

    Examples
    --------
    >>> day = 86_400_000
    >>> calls = pl.LazyFrame({"ts_ms": [0, day, 2 * day - 1, 2 * day], "role": ["seller"] * 4,
    ...     "status_code": [200, 200, 502, 200], "latency_ms": [1.0, 2.0, None, 4.0],
    ...     "price_micro": [10, 10, 10, 10], "revenue_micro": [9, 9, 9, 9]})
    >>> windows(calls, now=2 * day).select("calls_24h", "success_24h", "calls_7d", "revenue_micro_7d").collect().row(0)
    (2, 1, 3, 27)
    """
    ts = pl.col("ts_ms")
    # Two steps: a tally per (role, within the last day), then each window from those few rows.
    # Sums filtered inside one aggregation cost several times as much on a week of calls.
    parts = tally(window(calls, now - WEEK_MS, now).with_columns(day=ts >= now - DAY_MS), by=("role", "day"))

    def in_day(name: str) -> pl.Expr:
        return pl.col(name).filter("day").sum().alias(f"{name}_24h")

    return parts.group_by("role").agg(
        *(in_day(name) for name in _TALLY_SUMS),
        calls_7d=pl.col("calls").sum(),
        price_micro_7d=pl.col("price_micro").sum(),
        revenue_micro_7d=pl.col("revenue_micro").sum(),
    )


def recent_events(events: pl.LazyFrame, now: int, n: int) -> pl.LazyFrame:
    """The latest ``n`` events before ``now``, newest first; equal times: higher ``id`` first.

    Examples
    --------
    >>> events = pl.LazyFrame({"id": [1, 2, 3], "ts_ms": [5, 5, 9], "type": ["a", "b", "c"]})
    >>> recent_events(events, now=9, n=5).collect()["id"].to_list()
    [2, 1]
    """
    return existing(events, now).sort("ts_ms", "id", descending=True).head(n)


def issue_counts(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Bad rows per broken rule: ``rule``, ``rows`` (rows whose ``rule`` is null are good).

    Examples
    --------
    >>> rows = pl.LazyFrame({"rule": [None, "role is not buyer or seller", "role is not buyer or seller"]})
    >>> issue_counts(rows).collect().rows()
    [('role is not buyer or seller', 2)]
    """
    return rows.filter(pl.col("rule").is_not_null()).group_by("rule").agg(rows=pl.len().cast(pl.Int64))


def latest_time(frame: pl.LazyFrame, now: int) -> pl.LazyFrame:
    """One row, one column ``ts_ms``: the latest time before ``now`` (null when none)."""
    return existing(frame, now).select(pl.col("ts_ms").max())
