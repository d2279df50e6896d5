"""The fleet's metric definitions, written once as narwhals expressions.

narwhals is one lazy expression API over polars, PySpark, DuckDB and Daft:
every function here takes and returns a ``narwhals.LazyFrame`` and runs on
whichever engine holds the frame.  ``lake`` uses them (on polars) to write the
hourly rollups; ``fleet`` uses them (on polars or Spark) to tally the lake.
They are the fleet's counterparts of ``metrics``: the same definitions
(metrics.md), in the mergeable form a distributed engine needs — counts and
sums per group, which the engine adds up — and only those.  Everything else
(ratios, ordering, formatting) happens afterwards, on a few collected rows,
in the shared polars code of ``metrics`` and ``snapshot``.

The latency sketch is DDSketch's log buckets: a latency ``x > 0`` falls in
bucket ``ceil(log(x) / log(GAMMA))``, whose representative value is within
``SKETCH_ALPHA`` (0.9 %) of every value in it, so a percentile read from
merged bucket counts is within 1 % of the exact nearest-rank one (views.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import narwhals as nw

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "SKETCH_ALPHA",
    "SUMS",
    "ZERO_BUCKET",
    "bucket_value",
    "hour_of",
    "latency_bucket",
    "latest_named",
    "merge",
    "sketch",
    "succeeded",
    "tally",
]

HOUR_MS = 3_600_000
SKETCH_ALPHA = 0.009
GAMMA = (1 + SKETCH_ALPHA) / (1 - SKETCH_ALPHA)
_LOG_GAMMA = math.log(GAMMA)
ZERO_BUCKET = -(2**31)  # the bucket of latency 0 (log buckets hold only x > 0)
SUMS = ("calls", "success", "latency_sum", "latency_n", "price_micro", "revenue_micro")


def succeeded() -> nw.Expr:
    """True for a call whose status is 2xx (metrics.md: Which rows)."""
    return nw.col("status_code").is_between(200, 299, closed="both")


def tally(calls: nw.LazyFrame, by: Sequence[str]) -> nw.LazyFrame:
    """Counts and sums of calls per group: ``calls``, ``success``, ``latency_sum``, ``latency_n``, money.

    The same figures as ``metrics.tally``; the mergeable unit of every number.

    Examples
    --------
    >>> import polars as pl
    >>> calls = nw.from_native(pl.LazyFrame({"role": ["buyer", "buyer", "seller"],
    ...     "status_code": [200, 502, 200], "latency_ms": [100.0, None, 50.0],
    ...     "price_micro": [1000, 0, 2000], "revenue_micro": [0, 0, 1900]}))
    >>> tally(calls, by=["role"]).sort("role").collect().to_native().rows()
    [('buyer', 2, 1, 100.0, 1, 1000, 0), ('seller', 1, 1, 50.0, 1, 2000, 1900)]
    """
    latency = nw.col("latency_ms")
    return calls.group_by(*by).agg(
        nw.len().cast(nw.Int64).alias("calls"),
        succeeded().cast(nw.Int64).sum().alias("success"),
        latency.sum().fill_null(0.0).cast(nw.Float64).alias("latency_sum"),
        latency.count().cast(nw.Int64).alias("latency_n"),
        nw.col("price_micro").sum().fill_null(0).cast(nw.Int64).alias("price_micro"),
        nw.col("revenue_micro").sum().fill_null(0).cast(nw.Int64).alias("revenue_micro"),
    )


def merge(tallies: nw.LazyFrame, by: Sequence[str]) -> nw.LazyFrame:
    """The tally of the union of the tallied calls: sums of the tallies per group.

    Examples
    --------
    >>> import polars as pl
    >>> rows = nw.from_native(pl.LazyFrame({"role": ["buyer", "buyer"], "calls": [2, 3], "success": [1, 3],
    ...     "latency_sum": [1.5, 2.0], "latency_n": [1, 2], "price_micro": [10, 5], "revenue_micro": [0, 0]}))
    >>> merge(rows, by=["role"]).collect().to_native().rows()
    [('buyer', 5, 4, 3.5, 3, 15, 0)]
    """
    return tallies.group_by(*by).agg(*(nw.col(name).sum().alias(name) for name in SUMS))


def hour_of(first: int | nw.Expr) -> nw.Expr:
    """The start of the hourly bucket of ``ts_ms``, buckets aligned on ``first`` (epoch ms).

    Examples
    --------
    >>> import polars as pl
    >>> frame = nw.from_native(pl.LazyFrame({"ts_ms": [-1, 0, 3_599_999, 3_600_000]}))
    >>> frame.select(hour_of(0).alias("hour")).collect().to_native()["hour"].to_list()
    [-3600000, 0, 0, 3600000]
    """
    start = first if isinstance(first, nw.Expr) else nw.lit(first, nw.Int64)
    ts = nw.col("ts_ms")
    # (ts - first) floored to whole hours, with integer floor division on every engine.
    offset = ts - start
    whole = offset - offset % HOUR_MS
    return (start + whole).cast(nw.Int64)


def latency_bucket() -> nw.Expr:
    """The sketch bucket of ``latency_ms`` (null latencies: null; 0: ``ZERO_BUCKET``).

    Examples
    --------
    >>> import polars as pl
    >>> frame = nw.from_native(pl.LazyFrame({"latency_ms": [None, 0.0, 1.0, 100.0]}))
    >>> frame.select(latency_bucket().alias("b")).collect().to_native()["b"].to_list()
    [None, -2147483648, 0, 256]
    """
    latency = nw.col("latency_ms")
    log_bucket = (latency.clip(lower_bound=1e-300).log() / _LOG_GAMMA).ceil().cast(nw.Int64)
    return nw.when(latency > 0).then(log_bucket).otherwise(nw.when(latency == 0).then(nw.lit(ZERO_BUCKET, nw.Int64)))


def bucket_value(bucket: int) -> float:
    """The representative latency of a sketch bucket (within ``SKETCH_ALPHA`` of its values).

    Examples
    --------
    >>> round(bucket_value(256), 1), bucket_value(ZERO_BUCKET)
    (99.4, 0.0)
    """
    if bucket == ZERO_BUCKET:
        return 0.0
    return 2 * GAMMA**bucket / (GAMMA + 1)


def sketch(calls: nw.LazyFrame, by: Sequence[str]) -> nw.LazyFrame:
    """Latency sketch per group: ``bucket`` and ``calls`` (calls with a latency in that bucket).

    Examples
    --------
    >>> import polars as pl
    >>> calls = nw.from_native(pl.LazyFrame({"role": ["buyer"] * 3, "latency_ms": [100.0, 100.05, None]}))
    >>> sketch(calls, by=["role"]).collect().to_native().rows()
    [('buyer', 256, 2)]
    """
    return (
        calls.filter(~nw.col("latency_ms").is_null())
        .with_columns(latency_bucket().alias("bucket"))
        .group_by(*by, "bucket")
        .agg(nw.len().cast(nw.Int64).alias("calls"))
    )


def latest_named(calls: nw.LazyFrame, by: Sequence[str]) -> nw.LazyFrame:
    """Per group, the latest call that has an ``api_name``: ``name_ts``, ``name_request_id``, ``name``.

    Latest by ``ts_ms``, ties broken by the greater ``request_id`` (metrics.md:
    API breakdown); groups without a named call are absent.  Applied to its own
    output (renamed back), it merges: the latest of the latest.

    Examples
    --------
    >>> import polars as pl
    >>> calls = nw.from_native(pl.LazyFrame({"api_id": ["a", "a", "a", "b"], "ts_ms": [1, 2, 2, 5],
    ...     "request_id": ["r1", "r3", "r2", "r9"], "api_name": ["Old", "New", "Tie", None]}))
    >>> latest_named(calls, by=["api_id"]).collect().to_native().rows()
    [('a', 2, 'r3', 'New')]
    """
    keys = list(by)
    named = calls.filter(~nw.col("api_name").is_null()).select(*keys, "ts_ms", "request_id", "api_name")
    # Two maxima joined back (no window functions, no sort): the latest time, then the greatest id at it.
    at_latest = named.join(named.group_by(*keys).agg(nw.col("ts_ms").max()), on=[*keys, "ts_ms"])
    latest = at_latest.join(at_latest.group_by(*keys).agg(nw.col("request_id").max()), on=[*keys, "request_id"])
    return (
        latest.group_by(*keys)
        .agg(nw.col("ts_ms").max(), nw.col("request_id").max(), nw.col("api_name").max())
        .select(*keys, name_ts="ts_ms", name_request_id="request_id", name="api_name")
    )
