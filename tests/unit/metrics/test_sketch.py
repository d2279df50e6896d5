"""metrics/sketch.py against views.md: nearest-rank percentiles, exact or within 0.5 % from a mergeable sketch."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ccanalytics.metrics.sketch import (
    bucket,
    empty_sketch,
    exact_percentiles,
    merge_sketches,
    sketch,
    sketch_percentiles,
)

P = ["p50_latency_ms", "p95_latency_ms", "p99_latency_ms"]


def calls(latencies: list[float | None], role: str = "buyer") -> pl.LazyFrame:
    return pl.LazyFrame(
        {"role": [role] * len(latencies), "api_id": ["a"] * len(latencies), "latency_ms": latencies},
        schema={"role": pl.String, "api_id": pl.String, "latency_ms": pl.Float64},
    )


def nearest_rank(values: list[float], nn: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(nn / 100 * len(ordered)) - 1]


@pytest.mark.parametrize(
    "latencies",
    [[7.0], [3.0, 1.0], [float(v) for v in range(1, 21)], [float(v) for v in range(1, 22)], [0.0, 0.0, 5.0]],
    ids=["one", "two", "twenty", "twenty-one", "zeros"],
)
def test_exact_percentiles_are_nearest_rank(latencies: list[float]) -> None:
    got = exact_percentiles(calls([*latencies, None])).collect().select(P).row(0)  # nulls are left out
    assert got == tuple(nearest_rank(latencies, nn) for nn in (50, 95, 99))


def test_exact_percentiles_of_calls_without_latency_are_null_and_of_no_calls_absent() -> None:
    assert exact_percentiles(calls([None, None])).collect().select(P).row(0) == (None, None, None)
    assert exact_percentiles(calls([])).collect().height == 0


def test_sketch_percentiles_are_within_half_a_percent_and_zero_is_exact() -> None:
    latencies = [0.0] * 3 + [0.37, 1.0, 12.5, 99.9, 100.0, 250.0, 1_000.0, 4_321.0, 60_000.0] * 7
    got = sketch_percentiles(sketch(calls(latencies))).collect()
    for name, nn in zip(P, (50, 95, 99), strict=True):
        exact = nearest_rank(latencies, nn)
        assert abs(got[name].item() - exact) <= 0.005 * exact, name
    zeros = sketch_percentiles(sketch(calls([0.0, 0.0, 0.0, 9.0]))).collect()
    assert zeros["p50_latency_ms"].item() == 0.0


def test_sketches_merge_to_the_sketch_of_the_union() -> None:
    a, b = calls([1.0, 2.0, None, 300.0]), calls([2.0, 0.0, 45.6], role="seller")
    merged = merge_sketches(sketch(a), sketch(b), empty_sketch()).sort("role", "key").collect()
    assert merged.equals(sketch(pl.concat([a, b])).sort("role", "key").collect())


def test_no_latencies_sketch_to_no_rows_and_no_percentiles() -> None:
    assert sketch(calls([None])).collect().height == 0
    assert sketch_percentiles(empty_sketch()).collect().height == 0
    assert merge_sketches(empty_sketch(), empty_sketch()).collect().height == 0


def test_grouped_percentiles_are_the_sketch_percentiles_of_every_group() -> None:
    import random

    from ccanalytics.metrics.sketch import grouped_percentiles

    rng = random.Random(7)
    n = 3000
    rows = pl.LazyFrame(
        {
            "role": [rng.choice(["buyer", "seller"]) for _ in range(n)],
            "api_id": [rng.choice("abcde") for _ in range(n)],
            "latency_ms": [rng.choice([0.0, rng.expovariate(0.01), rng.uniform(1, 5)]) for _ in range(n)],
        }
    )
    sketched = sketch(rows).collect()
    for by in (("role",), ("role", "api_id")):
        want = sketch_percentiles(sketched.lazy(), by=by).collect().sort(list(by))
        # an integer id per group, keys repeated within a group as a coarser group's rows repeat them
        ids = sketched.with_columns(grp=pl.struct(*by).rank("dense").cast(pl.UInt64)).sort("grp", "key")
        got = grouped_percentiles(ids.lazy()).collect().join(ids.select("grp", *by).unique(), on="grp")
        # the same keys; a bucket's value may differ in its last bit (polars' exp on columns of other lengths)
        got = got.select(want.columns).sort(list(by))
        assert got.select(*by).rows() == want.select(*by).rows()
        assert got.drop(*by).rows() == [pytest.approx(row, rel=1e-15) for row in want.drop(*by).rows()]
    one = grouped_percentiles(sketched.lazy().select(grp=pl.lit(1), key="key", n="n").sort("key"), percentiles=(95,))
    assert one.collect().columns == ["grp", "p95_latency_ms"]
    assert grouped_percentiles(empty_sketch().select(grp=pl.lit(1), key="key", n="n")).collect().height == 0


def test_the_keys_of_positive_latencies_are_the_keys_without_the_branch_for_zero():
    latencies = pl.Series("latency_ms", [None, 2.0**-1074, 1e-9, 0.5, 1.0, 1.01, 150.0, 1e6, 1.7e308, None])
    frame = latencies.to_frame()
    latency, known = pl.col("latency_ms"), pl.col("latency_ms").is_not_null()  # a null's key is not read
    assert frame.select(bucket(latency, positive=True).filter(known)).equals(
        frame.select(bucket(latency).filter(known))
    )
