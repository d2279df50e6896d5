"""All-time totals moved by a few rows, in eager polars operations.

A refresh adds about a thousand rows to a few dozen totals.  For frames this
small a lazy plan's optimisation costs more than the work (a ``group_by``
collected lazily took 0.4 ms, eagerly 0.16 ms), so the totals are merged
with eager operations, and the rows join them as they are where that is
cheaper than grouping them first: every latency a sketch of one call, every
named call a name candidate.  The figures are those of ``formulas.tally`` /
``merge_tallies``, ``sketch.sketch`` / ``merge_sketches`` and
``formulas.latest_names``; float sums only add in another order.

A refresh's rows are most often those of one API (one ``role``, ``api_id``):
their tally is then one ``select`` and is merged into the few dozen tally
rows in Python, and their latest name is found with Series reductions, as
each polars operation costs far more in a refresh (its thread pool wakes
up) than its rows.  The sketch's rows are merged in one plan collected
without optimisation passes.

Pure polars, no I/O.
"""

from __future__ import annotations

import polars as pl

from ccanalytics.metrics import formulas, sketch

__all__ = ["issues_with", "names_with", "sketch_with", "tallies_with"]

_LATENCY = pl.col("latency_ms")
_TALLY = {  # as formulas.tally
    "calls": pl.len().cast(pl.Int64),
    "success": formulas.succeeded().sum().cast(pl.Int64),
    "latency_sum": _LATENCY.sum().cast(pl.Float64),
    "latency_n": _LATENCY.count().cast(pl.Int64),
    "price_micro": pl.col("price_micro").cast(pl.Int128).sum(),
    "revenue_micro": pl.col("revenue_micro").cast(pl.Int128).sum(),
}
_SKETCH_KEYS = ("role", "api_id", "key")


def _one(calls: pl.DataFrame, columns: tuple[str, ...]) -> bool:
    """Whether the rows all have one same value, never null, in each of these columns."""
    return calls.height > 0 and all(calls[c].null_count() == 0 and calls[c].n_unique() == 1 for c in columns)


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
    if _one(calls, keys):  # one group: its tally in one select, merged into the few tally rows in Python
        key = tuple(calls[k][0] for k in keys)
        tally = calls.select(**_TALLY).row(0)
        merged, found = [], False
        for row in tallies.rows():
            if row[: len(keys)] == key:
                row, found = (*key, *(a + b for a, b in zip(row[len(keys) :], tally, strict=True))), True
            merged.append(row)
        if not found:
            merged.append((*key, *tally))
        return pl.DataFrame(merged, schema=tallies.schema, orient="row")
    tallied = calls.group_by(*keys).agg(**_TALLY)  # as formulas.tally, grouped eagerly
    return pl.concat([tallies, tallied.select(tallies.columns)]).group_by(*keys).agg(pl.exclude(*keys).sum())


def sketch_with(sketches: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """``sketches`` (per role, api_id, key) with these calls' non-null latencies counted too.

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer"] * 3, "api_id": ["a"] * 3, "latency_ms": [5.0, 5.0, None]})
    >>> sketch_with(sketch.empty_sketch().collect(), calls).rows()
    [('buyer', 'a', 162, 2)]
    """
    if _one(calls, formulas.TALLY_KEYS):  # one group: its counts added to the sketch's by Series operations
        return _one_sketch_with(sketches, calls)
    each = calls.filter(_LATENCY.is_not_null()).select(
        "role", "api_id", key=sketch.bucket(_LATENCY), n=pl.lit(1, pl.Int64)
    )
    return pl.concat([sketches, each]).group_by(*_SKETCH_KEYS).agg(pl.col("n").sum())


def _one_sketch_with(sketches: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """``sketch_with`` for calls of one (role, api_id)."""
    latencies = calls["latency_ms"]
    if latencies.null_count():
        latencies = latencies.drop_nulls()
    if latencies.is_empty():
        return sketches
    keys = latencies.to_frame().select(sketch.bucket(_LATENCY)).to_series()
    role, api_id = calls["role"][0], calls["api_id"][0]
    new, counts = keys.unique(maintain_order=True), keys.unique_counts().cast(pl.Int64)
    mine = (sketches["role"] == role) & (sketches["api_id"] == api_id)
    added = sketches["key"].replace_strict(new, counts, default=0, return_dtype=pl.Int64) * mine.cast(pl.Int64)
    merged = pl.DataFrame([sketches["role"], sketches["api_id"], sketches["key"], (sketches["n"] + added).alias("n")])
    known = set(sketches["key"].filter(mine).to_list())
    fresh = [(key, n) for key, n in zip(new.to_list(), counts.to_list(), strict=True) if key not in known]
    if not fresh:
        return merged
    rows = [(role, api_id, key, n) for key, n in fresh]
    return pl.concat([merged, pl.DataFrame(rows, schema=sketches.schema, orient="row")])


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
    named = calls.select(names.columns)
    if named["api_name"].null_count():
        named = named.filter(pl.col("api_name").is_not_null())
    if named.is_empty():
        return names
    if _one(named, ("api_id",)):  # one API: its latest named call by Series reductions, merged in Python
        times, ids = named["ts_ms"], named["request_id"]
        at_top = times == times.max()
        top = (at_top & (ids == ids.filter(at_top).max())).arg_max()
        latest = named.row(top)  # type: ignore[arg-type]
        kept = [row for row in names.rows() if row[0] != latest[0]]
        old = [row for row in names.rows() if row[0] == latest[0]]
        if old and old[0][1:3] > latest[1:3]:
            return names
        return pl.DataFrame([*kept, latest], schema=names.schema, orient="row")
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
