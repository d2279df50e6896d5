"""All-time totals moved by a few rows: each row merged in as a total of its own, one ``group_by`` each.

``formulas.tally`` then ``formulas.merge_tallies`` (and the same for sketches
and names) would group the new rows first and then group again with the
totals.  A refresh adds about a thousand rows to a few dozen totals, where
each polars query costs more than its rows, so here the rows join the totals
as they are — every call a tally of one call, every latency a sketch of one
— and a single ``group_by`` per total adds them up.  The figures are the
same; float sums only add in another order.

Pure polars, no I/O.
"""

from __future__ import annotations

import polars as pl

from ccanalytics.metrics import formulas, sketch

__all__ = ["issues_with", "names_with", "sketch_with", "tallies_with"]

_LATENCY = pl.col("latency_ms")


def tallies_with(tallies: pl.DataFrame, calls: pl.DataFrame) -> pl.LazyFrame:
    """``tallies`` (per role, api_id) with these valid calls counted too.

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer", "buyer"], "api_id": ["a", "a"], "status_code": [200, 502],
    ...     "latency_ms": [10.0, None], "price_micro": [5, 0], "revenue_micro": [0, 0]})
    >>> once = tallies_with(formulas.empty_tally().collect(), calls).collect()
    >>> tallies_with(once, calls).collect().row(0)
    ('buyer', 'a', 4, 2, 20.0, 2, 10, 0)
    """
    each = calls.lazy().select(
        "role",
        "api_id",
        calls=pl.lit(1, pl.Int64),
        success=formulas.succeeded().cast(pl.Int64),
        latency_sum=_LATENCY.cast(pl.Float64),
        latency_n=_LATENCY.is_not_null().cast(pl.Int64),
        price_micro=pl.col("price_micro").cast(pl.Int128),
        revenue_micro=pl.col("revenue_micro").cast(pl.Int128),
    )
    keys = formulas.TALLY_KEYS
    return pl.concat([tallies.lazy(), each.cast(tallies.schema)]).group_by(*keys).agg(pl.exclude(*keys).sum())


def sketch_with(sketches: pl.DataFrame, calls: pl.DataFrame) -> pl.LazyFrame:
    """``sketches`` (per role, api_id, key) with these calls' non-null latencies counted too.

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer"] * 3, "api_id": ["a"] * 3, "latency_ms": [5.0, 5.0, None]})
    >>> sketch_with(sketch.empty_sketch().collect(), calls).collect().rows()
    [('buyer', 'a', 162, 2)]
    """
    each = calls.lazy().filter(_LATENCY.is_not_null()).select("role", "api_id", key=sketch.bucket(_LATENCY))
    each = each.with_columns(n=pl.lit(1, pl.Int64))
    return sketch.merge_sketches(sketches.lazy(), each.cast(sketches.schema))


def names_with(names: pl.DataFrame, calls: pl.DataFrame) -> pl.LazyFrame:
    """``names`` (see ``formulas.latest_names``) with these valid calls' names taken into account.

    The latest named call per API wins, ties broken by the greater
    ``request_id`` (a tie on both keeps any one of them, as there).

    Examples
    --------
    >>> names = pl.DataFrame({"api_id": ["a"], "ts_ms": [5], "request_id": ["r1"], "api_name": ["Old"]})
    >>> calls = pl.DataFrame({"api_id": ["a", "a"], "ts_ms": [5, 4], "request_id": ["r2", "r9"],
    ...     "api_name": ["New", "Older"]})
    >>> names_with(names, calls).collect().rows()
    [('a', 5, 'r2', 'New')]
    """
    named = calls.lazy().select(names.columns).filter(pl.col("api_name").is_not_null())
    latest = pl.all().sort_by("ts_ms", "request_id").last()
    return pl.concat([names.lazy(), named.cast(names.schema)]).group_by("api_id").agg(latest)


def issues_with(issues: pl.DataFrame, rows: pl.DataFrame) -> pl.LazyFrame:
    """``issues`` (bad rows per ``rule``) with these rows' counted too (good rows have no ``rule``).

    Examples
    --------
    >>> issues = pl.DataFrame({"rule": ["x"], "rows": [2]})
    >>> issues_with(issues, pl.DataFrame({"rule": ["x", None, "y"]})).sort("rule").collect().rows()
    [('x', 3), ('y', 1)]
    """
    bad = rows.lazy().filter(pl.col("rule").is_not_null()).select("rule", rows=pl.lit(1, pl.Int64))
    return pl.concat([issues.lazy(), bad.cast(issues.schema)]).group_by("rule").agg(pl.col("rows").sum())
