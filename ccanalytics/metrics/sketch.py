"""Latency percentiles: exact from rows, or from a mergeable log-bucket sketch.

A percentile ``pNN`` is the nearest-rank one of views.md: of the ``n``
non-null latencies sorted ascending, the value at 1-based position
``ceil(NN / 100 * n)``; null when ``n = 0``.

All-time percentiles must not keep every latency ever seen, so the ledger
keeps a *sketch* beside its tallies (DDSketch's idea, as polars frames): each
latency ``v > 0`` falls in the bucket ``k = ceil(log_γ v)`` (γ = 1.01), which
holds the values in ``(γ^(k-1), γ^k]``; a bucket stands for
``2 γ^k / (γ + 1)``, within ``(γ - 1) / (γ + 1)`` ≈ 0.5 % of every value in
it.  Zero has a bucket of its own and stands for exactly 0.  A sketch is a
frame of ``(*by, key, n)``: two sketches merge by summing ``n`` per key, so the
sketch of old history plus the sketch of new rows is the sketch of both.

Pure polars, no I/O.
"""

from __future__ import annotations

import math
from typing import TypeVar

import polars as pl

__all__ = [
    "GAMMA",
    "PERCENTILES",
    "bucket",
    "empty_sketch",
    "exact_percentiles",
    "grouped_percentiles",
    "merge_sketches",
    "rank",
    "rank_of",
    "sketch",
    "sketch_percentiles",
    "value_of",
]

GAMMA = 1.01
PERCENTILES = (50, 95, 99)
ZERO_KEY = -(2**31)  # the bucket of latency 0, below every other key
_LOG_GAMMA = math.log(GAMMA)
Frame = TypeVar("Frame", pl.LazyFrame, pl.DataFrame)


def rank(n: pl.Expr, nn: int) -> pl.Expr:
    """The nearest rank ``ceil(nn / 100 * n)`` (1-based), in integers.

    Examples
    --------
    >>> pl.select(r=rank(pl.lit(20), 95), s=rank(pl.lit(21), 95), t=rank(pl.lit(1), 50)).row(0)
    (19, 20, 1)
    """
    return (n * nn + 99) // 100


def rank_of(n: int, nn: int) -> int:
    """``rank`` of Python integers.

    Examples
    --------
    >>> rank_of(20, 95), rank_of(21, 95), rank_of(1, 50)
    (19, 20, 1)
    """
    return (n * nn + 99) // 100


def _key(latency: pl.Expr) -> pl.Expr:
    return pl.when(latency > 0).then(_positive_key(latency)).otherwise(pl.lit(ZERO_KEY, pl.Int32))


def _positive_key(latency: pl.Expr) -> pl.Expr:
    return (latency.log() / _LOG_GAMMA).ceil().cast(pl.Int32, strict=False)  # log(0) = -inf: not taken


def bucket(latency: pl.Expr, positive: bool = False) -> pl.Expr:
    """The key of the bucket each latency falls in (``Int32``; 0 has ``ZERO_KEY``).

    With ``positive``, every latency is known to be above 0 (or null): the
    same keys (a null's is null, not ``ZERO_KEY``) without the ``when`` for 0,
    whose branches cost a refresh's query a sixth more CPU, most of it on
    polars' other threads (docs/performance.md, "Seventh wave").

    Examples
    --------
    >>> pl.select(k=bucket(pl.lit(5.0)), z=bucket(pl.lit(0.0)), p=bucket(pl.lit(5.0), positive=True)).row(0)
    (162, -2147483648, 162)
    """
    return _positive_key(latency) if positive else _key(latency)


def _value(key: pl.Expr) -> pl.Expr:
    # ZERO_KEY needs no branch: its exponential underflows to 0.0 (so ``key`` is used once, see grouped_percentiles).
    return 2.0 * (key.cast(pl.Float64) * _LOG_GAMMA).exp() / (GAMMA + 1)


def value_of(key: int) -> float:
    """The value bucket ``key`` stands for, as ``_value`` computes it in a query (within a unit in the last place).

    The exponential is the C library's, polars' may round the other way (so
    may polars between a column of one value and of several).

    Examples
    --------
    >>> value_of(ZERO_KEY), round(value_of(162), 3)
    (0.0, 4.988)
    """
    return 0.0 if key == ZERO_KEY else 2.0 * math.exp(float(key) * _LOG_GAMMA) / (GAMMA + 1)


def empty_sketch(by: tuple[str, ...] = ("role", "api_id")) -> pl.LazyFrame:
    """A sketch of no latencies."""
    return pl.LazyFrame(schema={**dict.fromkeys(by, pl.String), "key": pl.Int32, "n": pl.Int64})


def sketch(calls: pl.LazyFrame, by: tuple[str, ...] = ("role", "api_id")) -> pl.LazyFrame:
    """The sketch of the calls' non-null ``latency_ms`` per group: ``*by``, ``key``, ``n``.

    Examples
    --------
    >>> calls = pl.LazyFrame({"role": ["buyer"] * 4, "latency_ms": [0.0, 100.2, 100.7, None]})
    >>> sketch(calls, by=("role",)).sort("key").collect().rows()
    [('buyer', -2147483648, 1), ('buyer', 464, 2)]
    """
    latency = pl.col("latency_ms")
    return (
        calls.filter(latency.is_not_null())
        .group_by(*by, key=_key(latency))
        .agg(n=pl.len().cast(pl.Int64))
        .select(*by, "key", "n")
    )


def merge_sketches(*sketches: pl.LazyFrame, by: tuple[str, ...] = ("role", "api_id")) -> pl.LazyFrame:
    """The sketch of the union of the sketched latencies (``by`` may be coarser than theirs).

    Examples
    --------
    >>> a = sketch(pl.LazyFrame({"role": ["buyer"], "api_id": ["x"], "latency_ms": [5.0]}))
    >>> merge_sketches(a, a, by=("role",)).collect().rows()
    [('buyer', 162, 2)]
    """
    frames = [s.select(*by, "key", "n") for s in sketches]
    return pl.concat(frames).group_by(*by, "key").agg(pl.col("n").sum())


def sketch_percentiles(
    sketches: Frame, by: tuple[str, ...] = ("role", "api_id"), percentiles: tuple[int, ...] = PERCENTILES
) -> Frame:
    """Per group, ``p50_latency_ms``, ``p95_latency_ms``, ``p99_latency_ms`` of a sketch (nearest rank).

    Each is the value its bucket stands for: within 0.5 % of the exact
    percentile, and exactly 0 when that is 0.  Groups without latencies are
    absent.  ``percentiles`` picks fewer of them.  A ``DataFrame`` sketch is
    answered eagerly (no optimiser passes: about half the cost on a thousand
    sketch rows), a ``LazyFrame`` one as a plan.

    Examples
    --------
    >>> calls = pl.LazyFrame({"role": ["seller"] * 100, "latency_ms": [float(v) for v in range(1, 101)]})
    >>> p = sketch_percentiles(sketch(calls, by=("role",)), by=("role",)).collect().row(0)
    >>> p[0], [round(v) for v in p[1:]]
    ('seller', [50, 95, 99])
    """
    # Within a group, keys in order and their running count: a percentile's key is the first whose
    # running count reaches its rank, so its index is how many running counts fall short of it.
    # (One aggregation, no sort of the whole sketch nor window over it: a third of the cost.)
    cum, total = pl.col("n").sort_by("key").cum_sum(), pl.col("n").sum()
    keys = pl.col("key").sort_by("key")
    picks = [
        _value(keys.get((cum < rank(total, nn)).sum(), null_on_oob=True)).alias(f"p{nn}_latency_ms")
        for nn in percentiles
    ]
    ordered = sketches.filter(pl.col("n") > 0)
    if not by:
        return ordered.select(picks)
    return ordered.group_by(*by).agg(picks)


def grouped_percentiles(
    sketches: pl.LazyFrame, group: str = "grp", percentiles: tuple[int, ...] = PERCENTILES
) -> pl.LazyFrame:
    """``sketch_percentiles`` of a sketch sorted by an integer ``group`` column and ``key``, as one ``select``.

    One running count over all rows: a group's percentile is the key whose
    running count first reaches the counts of the groups before it plus its
    rank.  No hash of the groups,
    no sort: a fraction of a grouped aggregation's cost.  Rows with
    ``n <= 0`` must not be there; a key may repeat within a group.

    Examples
    --------
    >>> rows = pl.LazyFrame({"grp": [1] * 100 + [2], "latency_ms": [*map(float, range(1, 101)), 0.0]})
    >>> sketched = sketch(rows, by=("grp",)).sort("grp", "key")
    >>> p = grouped_percentiles(sketched).collect()
    >>> p["grp"].to_list(), [round(v) for v in p.row(0)[1:]], p.row(1)[1:]
    ([1, 2], [50, 95, 99], (0.0, 0.0, 0.0))
    """
    grp, n, key = pl.col(group), pl.col("n"), pl.col("key")
    starts = (grp != grp.shift(1)).fill_null(True)  # each group's first row, and its last
    ends = (grp != grp.shift(-1)).fill_null(True)
    running, before, last = pl.col("_running"), pl.col("_before"), pl.col("_last")
    # Every row with its group's count before it and its last running count: no expression of fewer rows than the
    # sketch is used twice (polars' common subexpressions would be hoisted as columns of the wrong length).
    marked = sketches.with_columns(_running=n.cum_sum()).with_columns(
        _before=pl.when(starts).then(running - n).forward_fill(), _last=pl.when(ends).then(running).backward_fill()
    )
    picks = {}
    for nn in percentiles:
        target = before + rank(last - before, nn)
        picks[f"p{nn}_latency_ms"] = _value(key.filter((running >= target) & (running - n < target)))
    return marked.select(grp.filter(starts), **picks)


def exact_percentiles(calls: pl.LazyFrame, by: tuple[str, ...] = ("role",)) -> pl.LazyFrame:
    """Per group, the exact nearest-rank ``p50/p95/p99_latency_ms`` of the calls' non-null latencies.

    Groups with calls but no latency get nulls.

    Examples
    --------
    >>> calls = pl.LazyFrame({"role": ["buyer"] * 5 + ["seller"],
    ...     "latency_ms": [5.0, 1.0, 4.0, 2.0, 3.0, None]})
    >>> exact_percentiles(calls).sort("role").collect().rows()
    [('buyer', 3.0, 5.0, 5.0), ('seller', None, None, None)]
    """
    values = pl.col("latency_ms").drop_nulls().sort()
    n = pl.col("latency_ms").count()
    picks = [
        pl.when(n > 0)
        .then(values.get(pl.max_horizontal(rank(n, nn) - 1, 0), null_on_oob=True))
        .otherwise(None)
        .cast(pl.Float64)
        .alias(f"p{nn}_latency_ms")
        for nn in PERCENTILES
    ]
    if not by:
        return calls.select(picks)
    return calls.group_by(*by).agg(picks)
