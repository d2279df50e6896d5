"""metrics/buckets.py: the p95 kept as counts arrive is the sketch query's (its key exactly, its value to an ulp)."""

from __future__ import annotations

import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ccanalytics.metrics import alltime, sketch
from ccanalytics.metrics.buckets import Buckets, by_group

SCHEMA = sketch.empty_sketch().collect_schema()


def _queried(frame: pl.DataFrame) -> dict[tuple[str, str], float]:
    p95 = alltime.p95_query(frame)
    return dict(zip(zip(p95["role"], p95["api_id"], strict=True), p95["p95_latency_ms"], strict=True))


def _same(a: float | None, b: float | None) -> bool:
    """Equal, or within a unit in the last place (polars' exp and the C library's may round apart)."""
    return a == b or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-15, abs_tol=0))


def test_every_bucket_s_value_is_the_query_s() -> None:
    keys = [sketch.ZERO_KEY, *range(-3000, 3001)]  # latencies from 1e-13 to 9e12 ms
    one_each = pl.DataFrame({"role": "r", "api_id": [str(k) for k in keys], "key": keys, "n": 1}, schema=SCHEMA)
    kept = {group: b.p95 for group, b in by_group(one_each).items()}
    queried = _queried(one_each)
    assert kept.keys() == queried.keys() and all(_same(kept[g], queried[g]) for g in kept)
    assert kept[("r", str(sketch.ZERO_KEY))] == 0.0  # zero exactly


counts = st.lists(st.tuples(st.integers(-50, 50), st.integers(1, 30)), max_size=12)


@settings(max_examples=200, deadline=None)
@given(start=counts, moves=st.lists(counts, max_size=6))
def test_buckets_moved_by_new_counts_give_the_query_s_p95(start, moves) -> None:
    seen: dict[int, int] = {}
    buckets = Buckets.empty()
    for step in [start, *moves]:
        step = list(dict(step).items())  # each key once per step, as a refresh's bucket counts come
        buckets = buckets.plus([k for k, _ in step], [n for _, n in step])
        for key, n in step:
            seen[key] = seen.get(key, 0) + n
        frame = pl.DataFrame({"role": "r", "api_id": "a", "key": list(seen), "n": list(seen.values())}, schema=SCHEMA)
        assert _same(buckets.p95, _queried(frame).get(("r", "a")))
        assert buckets.p95 is None or buckets.p95 == sketch.value_of(_queried_key(seen))
        assert buckets.total == sum(seen.values())


def _queried_key(seen: dict[int, int]) -> int:
    """The nearest-rank p95's bucket key, counted the slow way."""
    total, running = sum(seen.values()), 0
    for key in sorted(seen):
        running += seen[key]
        if running >= (total * 95 + 99) // 100:
            return key
    raise AssertionError
