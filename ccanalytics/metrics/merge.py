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
up) than its rows.  The sketch's rows are merged by Series operations.  Rows
of several APIs are grouped once (``moved_by_groups``).  Both also return the
new bucket counts per (role, api_id), which move the all-time p95 kept beside
the totals (``buckets``) instead of querying the sketch again.

Pure polars, no I/O.
"""

from __future__ import annotations

import math
from collections import Counter

import polars as pl

from ccanalytics.metrics import formulas, sketch

Counts = dict[tuple[str, str], tuple[list[int], list[int]]]  # per (role, api_id): new bucket keys and their counts

__all__ = [
    "issues_with",
    "moved_by_groups",
    "moved_by_one_api",
    "names_with",
    "sketch_with",
    "tallies_with",
]

_LATENCY = pl.col("latency_ms")
_LATENCY_SUM = formulas.TALLY_AGGREGATES["latency_sum"]  # exact (``formulas.exact_sum``)
_SMALLEST = 2.0**-20  # formulas.exact_sum: values from here up (or 0) are summed exactly, if they total under 2**54
_MAX_PIECES = 32  # an appended sketch is summed beyond this many pieces
_SKETCH_KEYS = ("role", "api_id", "key")
_NAMED = pl.col("api_name").is_not_null()
_BUCKETS = sketch.bucket(_LATENCY).filter(_LATENCY.is_not_null())
_LATEST = (  # the latest named call (``formulas.latest_names``)
    pl.struct(*formulas.empty_names().collect_schema().names())
    .filter(_NAMED)
    .sort_by(pl.col("ts_ms").filter(_NAMED), pl.col("request_id").filter(_NAMED))
    .last()
)
_BUCKET_COUNTS = {  # the latencies' bucket keys and their counts
    "buckets": _BUCKETS.unique(maintain_order=True).implode(),
    "counts": _BUCKETS.unique_counts().cast(pl.Int64).implode(),
}
_ONE_API = {"latest": _LATEST, **_BUCKET_COUNTS}  # beside a tally, for calls of one (role, api_id)


def moved_by_one_api(
    tallies: pl.DataFrame, names: pl.DataFrame, sketches: pl.DataFrame, calls: pl.DataFrame, appended: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, Counts] | None:
    """``tallies_with``, ``names_with`` and ``sketch_with`` at once, for valid calls of one (role, api_id).

    None when the calls are not all of one (role, api_id).  Their latencies'
    bucket keys come from one ``select`` (counted in Python), their tally and
    latest name from Series reductions; each is merged into the totals in
    Python or by Series operations.  The fourth item is the new bucket counts
    of that (role, api_id).  With ``appended``, those counts are appended to
    the sketch as rows (a key may then have several rows: its count is their
    sum), summed once the sketch is in many pieces: for a sketch read only now
    and then (``ledger.Totals``, whose ``buckets`` answer the p95).

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer"] * 2, "api_id": ["a"] * 2, "ts_ms": [1, 2], "request_id": ["r1", "r2"],
    ...     "api_name": ["A", None], "status_code": [200, 502], "latency_ms": [5.0, None], "price_micro": [5, 0],
    ...     "revenue_micro": [0, 0]})
    >>> empty = formulas.empty_tally().collect(), formulas.empty_names().collect(), sketch.empty_sketch().collect()
    >>> *frames, counts = moved_by_one_api(*empty, calls)
    >>> [frame.rows() for frame in frames]
    [[('buyer', 'a', 2, 1, 5.0, 1, 5, 0)], [('a', 1, 'r1', 'A')], [('buyer', 'a', 162, 1)]]
    >>> counts
    {('buyer', 'a'): ([162], [1])}
    """
    keys = formulas.TALLY_KEYS
    if calls.height == 0 or any(calls[k].null_count() or calls[k].n_unique() != 1 for k in keys):
        return None
    role, api_id = (calls[k][0] for k in keys)
    latency = calls["latency_ms"]
    if latency.null_count() == calls.height:
        buckets, counts, latency_sum = [], [], 0.0
    else:  # the keys in one select, counted in Python (first seen first, as ``unique(maintain_order=True)``)
        low = latency.min()
        positive = isinstance(low, float) and low > 0  # valid latencies: none negative or NaN
        bucket_of = sketch.bucket(_LATENCY, positive=positive)
        counted = Counter(
            calls.select_seq(bucket_of.filter(_LATENCY.is_not_null()) if latency.null_count() else bucket_of)
            .to_series()
            .to_list()
        )
        latency_sum = _exact_sum(latency, low)
        buckets, counts = list(counted), list(counted.values())
    latest = _latest(calls)
    return (
        _tally_merged(tallies, (role, api_id), _tally(calls, latency_sum)),
        names if latest is None else _name_merged(names, tuple(latest[c] for c in names.columns)),
        (_sketch_appended if appended else _sketch_merged)(sketches, (role, api_id), buckets, counts),
        {(role, api_id): (buckets, counts)},
    )


def moved_by_groups(
    tallies: pl.DataFrame, names: pl.DataFrame, sketches: pl.DataFrame, calls: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, Counts] | None:
    """``tallies_with``, ``names_with`` and ``sketch_with`` at once, for valid calls of any (role, api_id).

    One ``group_by`` of the calls gives each group's tally, latest name and
    bucket counts; tallies and names are merged in Python, the buckets with
    one ``group_by`` of the sketch.  None when a call has no role or api_id.
    The fourth item is the new bucket counts per (role, api_id).

    Examples
    --------
    >>> calls = pl.DataFrame({"role": ["buyer", "seller"], "api_id": ["a", "a"], "ts_ms": [1, 2],
    ...     "request_id": ["r1", "r2"], "api_name": ["A", "A2"], "status_code": [200, 502],
    ...     "latency_ms": [5.0, None], "price_micro": [5, 0], "revenue_micro": [0, 3]})
    >>> empty = formulas.empty_tally().collect(), formulas.empty_names().collect(), sketch.empty_sketch().collect()
    >>> tallies, names, sketches, counts = moved_by_groups(*empty, calls)
    >>> sorted(tallies.rows())
    [('buyer', 'a', 1, 1, 5.0, 1, 5, 0), ('seller', 'a', 1, 0, 0.0, 0, 0, 3)]
    >>> names.rows(), sketches.rows(), counts[("buyer", "a")]
    ([('a', 2, 'r2', 'A2')], [('buyer', 'a', 162, 1)], ([162], [1]))
    """
    keys = formulas.TALLY_KEYS
    if calls.height == 0 or any(calls[k].null_count() for k in keys):
        return None
    per = calls.group_by(*keys).agg(**formulas.TALLY_AGGREGATES, **_ONE_API).rows()
    moved = {tuple(row[: len(keys)]): tuple(row[len(keys) : -3]) for row in per}
    merged = []
    for row in tallies.rows():
        group = row[: len(keys)]
        more = moved.pop(group, None)
        merged.append(row if more is None else (*group, *(a + b for a, b in zip(row[len(keys) :], more, strict=True))))
    merged += [(*group, *tally) for group, tally in moved.items()]
    latest = {row[0]: row for row in names.rows()}
    for *_, named, _, _ in per:
        if named is not None:
            row = tuple(named[c] for c in names.columns)
            if row[0] not in latest or not _later(latest[row[0]], row):
                latest[row[0]] = row
    fresh = [(*row[: len(keys)], key, n) for row in per for key, n in zip(row[-2], row[-1], strict=True)]
    if fresh:
        counts = pl.DataFrame(fresh, schema=sketches.schema, orient="row")
        sketches = pl.concat([sketches, counts]).group_by(*_SKETCH_KEYS).agg(pl.col("n").sum())
    return (
        pl.DataFrame(merged, schema=tallies.schema, orient="row"),
        pl.DataFrame(list(latest.values()), schema=names.schema, orient="row"),
        sketches,
        {(row[0], row[1]): (row[-2], row[-1]) for row in per},
    )


def _exact_sum(latencies: pl.Series, low: object) -> float:
    """``formulas.exact_sum`` of a refresh's valid latencies (none negative; ``low`` their least), without a query.

    Its exact sum rounded once is ``math.fsum``'s (correctly rounded), to the
    last bit; where it would sum floats instead, the query is run.
    """
    if low is not None and low < _SMALLEST:  # type: ignore[operator]
        positive = latencies.filter(latencies > 0)
        low = positive.min() if positive.len() else _SMALLEST
    if low is None or low >= _SMALLEST:  # type: ignore[operator]
        if latencies.null_count():  # nulls sorted last and cut off (``drop_nulls`` would be a query)
            latencies = latencies.sort(multithreaded=False).slice(latencies.null_count())
        total = math.fsum(latencies.to_list())
        if total < 2.0**54:
            return total
    return float(latencies.to_frame().select(_LATENCY_SUM.alias("latency_sum")).item())


def _tally(calls: pl.DataFrame, latency_sum: float) -> tuple[object, ...]:
    """``formulas.TALLY_AGGREGATES`` of these calls by Series reductions (no query), given their ``latency_sum``."""
    status, latency, n = calls["status_code"], calls["latency_ms"], calls.height
    low = status.min()
    if low is not None and low >= 200 and status.max() <= 299:  # type: ignore[operator]  # every status 2xx
        success = n - status.null_count()
    else:
        success = int(((status >= 200) & (status <= 299)).sum())
    return (
        n,
        success,
        latency_sum,
        n - latency.null_count(),
        calls["price_micro"].cast(pl.Int128).sum(),
        calls["revenue_micro"].cast(pl.Int128).sum(),
    )


def _latest(calls: pl.DataFrame) -> dict[str, object] | None:
    """The latest named call of these calls of one API (``_LATEST``), read off the last row when it is that one.

    It is when every call is named and the times are sorted, the last one alone
    at its time (no tie for ``request_id`` to break): the usual refresh.
    """
    names, times = calls["api_name"], calls["ts_ms"]
    if names.null_count() == 0 and times.null_count() == 0 and times.is_sorted():
        last = calls.height - 1
        if last == 0 or times[last - 1] < times[last]:
            return {name: calls[name][last] for name in ("api_id", "ts_ms", "request_id", "api_name")}
    return calls.select_seq(latest=_LATEST).item()


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
    if kept and _later(kept[0], latest):
        return names
    return pl.DataFrame([*(row for row in rows if row[0] != latest[0]), latest], schema=names.schema, orient="row")


def _later(name: tuple[object, ...], other: tuple[object, ...]) -> bool:
    """Whether a names row (api_id, ts_ms, request_id, …) is later than another: a null request_id loses a tie."""
    return (name[1], name[2] is not None, name[2] or "") > (other[1], other[2] is not None, other[2] or "")


def _sketch_merged(
    sketches: pl.DataFrame, group: tuple[str, ...], buckets: list[int], counts: list[int]
) -> pl.DataFrame:
    if not buckets:
        return sketches
    role, api_id = group
    mine = ((sketches["role"] == role) & (sketches["api_id"] == api_id)).arg_true()
    at = dict(zip(sketches["key"].gather(mine).to_list(), mine.to_list(), strict=True))
    n = sketches["n"]
    olds = dict(zip(mine.to_list(), n.gather(mine).to_list(), strict=True))
    changed = [(at[key], olds[at[key]] + count) for key, count in zip(buckets, counts, strict=True) if key in at]
    fresh = [(role, api_id, key, count) for key, count in zip(buckets, counts, strict=True) if key not in at]
    if changed:
        n = n.clone().scatter([i for i, _ in changed], [value for _, value in changed])
    merged = pl.DataFrame([sketches["role"], sketches["api_id"], sketches["key"], n])
    if fresh:
        merged = pl.concat([merged, pl.DataFrame(fresh, schema=sketches.schema, orient="row")])
    return merged


def _sketch_appended(
    sketches: pl.DataFrame, group: tuple[str, ...], buckets: list[int], counts: list[int]
) -> pl.DataFrame:
    """The sketch with these counts as more rows (one frame built, no search), summed when in many pieces."""
    if not buckets:
        return sketches
    role, api_id = group
    fresh = pl.DataFrame(
        {"role": [role] * len(buckets), "api_id": [api_id] * len(buckets), "key": buckets, "n": counts},
        schema=sketches.schema,
    )
    merged = pl.concat([sketches, fresh])
    if merged.n_chunks() <= _MAX_PIECES:
        return merged
    return merged.group_by(*_SKETCH_KEYS).agg(pl.col("n").sum())


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
