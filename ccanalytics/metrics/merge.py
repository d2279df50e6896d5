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
up) than its rows.  The sketch's rows are merged by Series operations, and
that API's all-time p95 is read off its merged buckets in Python
(``p95_of_buckets``), so the other APIs' p95 values are kept, not queried again.

Pure polars, no I/O.
"""

from __future__ import annotations

import polars as pl

from ccanalytics.metrics import formulas, sketch

__all__ = [
    "issues_with",
    "moved_by_one_api",
    "names_with",
    "p95_by_group",
    "p95_of_buckets",
    "sketch_with",
    "tallies_with",
]

_LATENCY = pl.col("latency_ms")
_SKETCH_KEYS = ("role", "api_id", "key")
_NAMED = pl.col("api_name").is_not_null()
_BUCKETS = sketch.bucket(_LATENCY).filter(_LATENCY.is_not_null())
_ONE_API = {  # beside a tally, for calls of one (role, api_id): the latest named call, the bucket counts
    "latest": pl.struct(*formulas.empty_names().collect_schema().names())
    .filter(_NAMED)
    .sort_by(pl.col("ts_ms").filter(_NAMED), pl.col("request_id").filter(_NAMED))
    .last(),
    "buckets": _BUCKETS.unique(maintain_order=True).implode(),
    "counts": _BUCKETS.unique_counts().cast(pl.Int64).implode(),
}


def moved_by_one_api(
    tallies: pl.DataFrame, names: pl.DataFrame, sketches: pl.DataFrame, calls: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, tuple[tuple[str, str], float | None]] | None:
    """``tallies_with``, ``names_with`` and ``sketch_with`` at once, for valid calls of one (role, api_id).

    None when the calls are not all of one (role, api_id).  Their tally, their
    latencies' bucket counts and their latest name come from one ``select``;
    each is merged into the totals in Python or by Series operations.  The
    fourth item is that (role, api_id) and its all-time p95 from the merged
    sketch (``p95_by_group``'s value for it).

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer"] * 2, "api_id": ["a"] * 2, "ts_ms": [1, 2], "request_id": ["r1", "r2"],
    ...     "api_name": ["A", None], "status_code": [200, 502], "latency_ms": [5.0, None], "price_micro": [5, 0],
    ...     "revenue_micro": [0, 0]})
    >>> empty = formulas.empty_tally().collect(), formulas.empty_names().collect(), sketch.empty_sketch().collect()
    >>> *frames, p95 = moved_by_one_api(*empty, calls)
    >>> [frame.rows() for frame in frames], p95 == (("buyer", "a"), p95_by_group(frames[2])[("buyer", "a")])
    ([[('buyer', 'a', 2, 1, 5.0, 1, 5, 0)], [('a', 1, 'r1', 'A')], [('buyer', 'a', 162, 1)]], True)
    """
    keys = formulas.TALLY_KEYS
    if calls.height == 0 or any(calls[k].null_count() or calls[k].n_unique() != 1 for k in keys):
        return None
    group = tuple(calls[k][0] for k in keys)
    *tally, latest, buckets, counts = calls.select(**formulas.TALLY_AGGREGATES, **_ONE_API).row(0)
    merged, mine = _sketch_merged(sketches, group, buckets, counts)
    return (
        _tally_merged(tallies, group, tuple(tally)),
        names if latest is None else _name_merged(names, tuple(latest[c] for c in names.columns)),
        merged,
        (group, p95_of_buckets(mine)),
    )


def _tally_merged(tallies: pl.DataFrame, group: tuple[str, ...], tally: tuple[object, ...]) -> pl.DataFrame:
    merged, found = [], False
    for row in tallies.rows():
        if row[: len(group)] == group:
            row, found = (*group, *(a + b for a, b in zip(row[len(group) :], tally, strict=True))), True
        merged.append(row)
    if not found:
        merged.append((*group, *tally))
    return pl.DataFrame(merged, schema=tallies.schema, orient="row")


def _name_merged(names: pl.DataFrame, latest: tuple[object, ...]) -> pl.DataFrame:
    rows = names.rows()
    kept = [row for row in rows if row[0] == latest[0]]
    if kept and kept[0][1:3] > latest[1:3]:
        return names
    return pl.DataFrame([*(row for row in rows if row[0] != latest[0]), latest], schema=names.schema, orient="row")


def _sketch_merged(
    sketches: pl.DataFrame, group: tuple[str, ...], buckets: list[int], counts: list[int]
) -> tuple[pl.DataFrame, dict[int, int]]:
    """The sketch with one group's bucket counts added, and that group's buckets after the merge (key -> n)."""
    role, api_id = group
    where = ((sketches["role"] == role) & (sketches["api_id"] == api_id)).arg_true()
    n = sketches["n"]
    rows = where.to_list()
    at = dict(zip(sketches["key"].gather(where).to_list(), rows, strict=True))
    mine = dict(zip(at, n.gather(where).to_list(), strict=True))  # key -> n, before
    if not buckets:
        return sketches, mine
    changed = [(at[key], mine[key] + count) for key, count in zip(buckets, counts, strict=True) if key in at]
    fresh = [(role, api_id, key, count) for key, count in zip(buckets, counts, strict=True) if key not in at]
    for key, count in zip(buckets, counts, strict=True):
        mine[key] = mine.get(key, 0) + count
    if changed:
        n = n.clone().scatter([i for i, _ in changed], [value for _, value in changed])
    merged = pl.DataFrame([sketches["role"], sketches["api_id"], sketches["key"], n])
    if fresh:
        merged = pl.concat([merged, pl.DataFrame(fresh, schema=sketches.schema, orient="row")])
    return merged, mine


def p95_by_group(sketches: pl.DataFrame) -> dict[tuple[str, str], float | None]:
    """Each (role, api_id)'s all-time ``p95_latency_ms`` from the sketch (``alltime.p95_query``), as a dict.

    Examples
    --------
    >>> calls = pl.LazyFrame({"role": ["seller"] * 100, "api_id": ["a"] * 100,
    ...     "latency_ms": [float(v) for v in range(1, 101)]})
    >>> {key: round(value) for key, value in p95_by_group(sketch.sketch(calls).collect()).items()}
    {('seller', 'a'): 95}
    """
    p95 = sketch.sketch_percentiles(sketches, percentiles=(95,))
    columns = (p95[name].to_list() for name in ("role", "api_id", "p95_latency_ms"))
    return {(role, api): value for role, api, value in zip(*columns, strict=True)}


def p95_of_buckets(buckets: dict[int, int]) -> float | None:
    """The nearest-rank p95 of one group's sketch buckets (key -> n), as ``sketch.sketch_percentiles`` gives it.

    The key is found in integers; the value is the same float operations
    as the query's (``2 γ^k / (γ + 1)``, 0 for ``ZERO_KEY``).  None without latencies.

    Examples
    --------
    >>> p95_of_buckets({100: 94, 200: 6}) == sketch.value_of(200)
    True
    >>> p95_of_buckets({100: 95, 200: 5}) == sketch.value_of(100)
    True
    >>> p95_of_buckets({sketch.ZERO_KEY: 100}), p95_of_buckets({})
    (0.0, None)
    """
    keys = sorted(key for key, n in buckets.items() if n > 0)
    total = sum(buckets[key] for key in keys)
    if not total:
        return None
    want, running = sketch.rank_of(total, 95), 0
    for key in keys:
        running += buckets[key]
        if running >= want:
            return sketch.value_of(key)
    return None  # pragma: no cover  # the running count reaches the total


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
    tallied = calls.group_by(*keys).agg(**formulas.TALLY_AGGREGATES)  # as formulas.tally, grouped eagerly
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
    return pl.concat([sketches, each]).group_by(*_SKETCH_KEYS).agg(pl.col("n").sum())


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
