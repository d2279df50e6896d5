"""How the fleet's engines merge the lake's rollups: narwhals expressions, written once.

narwhals is one lazy expression API over polars, PySpark, DuckDB and Daft:
every function here takes and returns a ``narwhals.LazyFrame`` and runs on
whichever engine holds the frame (``fleet`` hands them polars or Spark frames).

The metrics themselves are defined once, in ``metrics``, ``sketch`` and
``ledger`` (polars): ``ccanalytics export`` applies them to each day's calls
and writes the results — tallies, latency sketches, latest names, consumers'
first calls — as rollups.  Those are mergeable: the figures of many days (and
many nodes) are sums, minima and "latest" of theirs.  Merging years of
rollups over thousands of nodes is the heavy part of a fleet query, and the
only part that needs a distributed engine; it is these three merges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["SUMS", "earliest", "latest_named", "merge"]

SUMS = ("calls", "success", "latency_sum", "latency_n", "price_micro", "revenue_micro")


def merge(tallies: nw.LazyFrame, by: Sequence[str], sums: Sequence[str] = SUMS) -> nw.LazyFrame:
    """The tally of the union of the tallied calls: sums of the tallies per group.

    Examples
    --------
    >>> import polars as pl
    >>> rows = nw.from_native(pl.LazyFrame({"role": ["buyer", "buyer"], "calls": [2, 3], "success": [1, 3],
    ...     "latency_sum": [1.5, 2.0], "latency_n": [1, 2], "price_micro": [10, 5], "revenue_micro": [0, 0]}))
    >>> merge(rows, by=["role"]).collect().to_native().rows()
    [('buyer', 5, 4, 3.5, 3, 15, 0)]
    """
    return tallies.group_by(*by).agg(*(nw.col(name).sum().alias(name) for name in sums))


def earliest(rows: nw.LazyFrame, by: Sequence[str]) -> nw.LazyFrame:
    """Per group, the earliest ``ts_ms`` (a consumer's first call, merged over days).

    Examples
    --------
    >>> import polars as pl
    >>> rows = nw.from_native(pl.LazyFrame({"consumer": ["c", "c", "d"], "ts_ms": [5, 3, 9]}))
    >>> earliest(rows, by=["consumer"]).sort("consumer").collect().to_native().rows()
    [('c', 3), ('d', 9)]
    """
    return rows.group_by(*by).agg(nw.col("ts_ms").min())


def latest_named(calls: nw.LazyFrame, by: Sequence[str]) -> nw.LazyFrame:
    """Per group, the latest row that has an ``api_name``: ``ts_ms``, ``request_id``, ``api_name``.

    Latest by ``ts_ms``, ties broken by the greater ``request_id`` (metrics.md:
    API breakdown), as ``metrics.latest_names``; groups without a named row are
    absent.  Applied to its own results, it merges them: the latest of the latest.

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
    return latest.group_by(*keys).agg(nw.col("ts_ms").max(), nw.col("request_id").max(), nw.col("api_name").max())
