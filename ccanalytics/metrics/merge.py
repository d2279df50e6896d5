"""All-time totals moved by a few rows, in eager polars operations.

A refresh adds about a thousand rows to a few dozen totals.  For frames this
small a lazy plan's optimisation costs more than the work (a ``group_by``
collected lazily took 0.4 ms, eagerly 0.16 ms), so the totals are merged
with eager operations, and the rows join them as they are where that is
cheaper than grouping them first: every latency a sketch of one call, every
named call a name candidate.  The figures are those of ``formulas.tally`` /
``merge_tallies``, ``sketch.sketch`` / ``merge_sketches`` and
``formulas.latest_names``; float sums only add in another order.

Pure polars, no I/O.
"""

from __future__ import annotations

import polars as pl

from ccanalytics.metrics import formulas, sketch

__all__ = ["issues_with", "names_with", "sketch_with", "tallies_with"]

_LATENCY = pl.col("latency_ms")


def tallies_with(tallies: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """``tallies`` (per role, api_id) with these valid calls counted too.

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer", "buyer"], "api_id": ["a", "a"], "status_code": [200, 502],
    ...     "latency_ms": [10.0, None], "price_micro": [5, 0], "revenue_micro": [0, 0]})
    >>> once = tallies_with(formulas.empty_tally().collect(), calls)
    >>> tallies_with(once, calls).row(0)
    ('buyer', 'a', 4, 2, 20.0, 2, 10, 0)
    """
    keys = formulas.TALLY_KEYS
    tallied = calls.group_by(*keys).agg(  # as formulas.tally, grouped eagerly
        calls=pl.len().cast(pl.Int64),
        success=formulas.succeeded().sum().cast(pl.Int64),
        latency_sum=_LATENCY.sum().cast(pl.Float64),
        latency_n=_LATENCY.count().cast(pl.Int64),
        price_micro=pl.col("price_micro").cast(pl.Int128).sum(),
        revenue_micro=pl.col("revenue_micro").cast(pl.Int128).sum(),
    )
    return pl.concat([tallies, tallied.select(tallies.columns)]).group_by(*keys).agg(pl.exclude(*keys).sum())


def sketch_with(sketches: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """``sketches`` (per role, api_id, key) with these calls' non-null latencies counted too.

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer"] * 3, "api_id": ["a"] * 3, "latency_ms": [5.0, 5.0, None]})
    >>> sketch_with(sketch.empty_sketch().collect(), calls).rows()
    [('buyer', 'a', 162, 2)]
    """
    each = calls.filter(_LATENCY.is_not_null()).select(
        "role", "api_id", key=sketch.bucket(_LATENCY), n=pl.lit(1, pl.Int64)
    )
    return pl.concat([sketches, each]).group_by("role", "api_id", "key").agg(pl.col("n").sum())


def names_with(names: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """``names`` (see ``formulas.latest_names``) with these valid calls' names taken into account.

    The latest named call per API wins, ties broken by the greater
    ``request_id`` (a tie on both keeps any one of them, as there).

    Examples
    --------
    >>> names = pl.DataFrame({"api_id": ["a"], "ts_ms": [5], "request_id": ["r1"], "api_name": ["Old"]})
    >>> calls = pl.DataFrame({"api_id": ["a", "a"], "ts_ms": [5, 4], "request_id": ["r2", "r9"],
    ...     "api_name": ["New", "Older"]})
    >>> names_with(names, calls).rows()
    [('a', 5, 'r2', 'New')]
    """
    named = calls.select(names.columns).filter(pl.col("api_name").is_not_null())
    return pl.concat([names, named]).group_by("api_id").agg(pl.all().sort_by("ts_ms", "request_id").last())


def issues_with(issues: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """``issues`` (bad rows per ``rule``) with these rows' counted too (good rows have no ``rule``).

    Examples
    --------
    >>> issues = pl.DataFrame({"rule": ["x"], "rows": [2]})
    >>> issues_with(issues, pl.DataFrame({"rule": ["x", None, "y"]})).sort("rule").rows()
    [('x', 3), ('y', 1)]
    """
    bad = rows.filter(pl.col("rule").is_not_null()).select("rule", rows=pl.lit(1, pl.Int64))
    return pl.concat([issues, bad]).group_by("rule").agg(pl.col("rows").sum())
