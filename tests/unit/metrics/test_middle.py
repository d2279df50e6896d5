"""The consumers of a day range's fixed middle, and the window's figures from them plus the edges' calls."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ccanalytics.metrics.consumers import FirstSeen, api_key, consumer_key, ranked, text_key
from ccanalytics.metrics.middle import MiddleConsumers, _summed, per_consumer, sellers
from ccanalytics.metrics.texts import Texts
from ccanalytics.metrics.views import TOP_CONSUMERS

# The build is at 30; the fixed middle [10, 30); c first called at 5, d at 15.
BEFORE = pl.LazyFrame(
    {
        "ts_ms": [5, 15, 25, 26],
        "role": ["seller", "seller", "seller", "buyer"],
        "api_id": ["a", "a", "b", "a"],
        "consumer": ["c", "d", "c", "z"],
        "revenue_micro": [1, 2, 4, 99],
    }
)
# After the build: c again, and e for the first time.
NEW = pl.LazyFrame(
    {"ts_ms": [32, 35], "role": ["seller"] * 2, "api_id": ["a", "a"], "consumer": ["c", "e"], "revenue_micro": [1, 8]}
)


TEXTS = Texts.of_rows(pl.concat([BEFORE, NEW]))


def named(per: pl.LazyFrame) -> pl.DataFrame:
    """``per_consumer``'s rows with their consumers' texts (``consumer``) instead of keys, by text."""
    texts = pl.concat([BEFORE, NEW]).select("consumer", key=text_key()).unique().collect()
    return per.collect().join(texts, on="key").sort("consumer")


def test_sellers_are_the_seller_calls_with_a_consumer() -> None:
    calls = pl.LazyFrame({"role": ["seller", "seller", "buyer"], "consumer": ["c", None, "c"]})
    kept = sellers(calls).collect()
    assert kept["role"].to_list() == ["seller"]
    assert kept["consumer_key"].to_list() == calls.head(1).select(text_key()).collect().to_series().to_list()


def test_per_consumer_sums_calls_and_revenue_overall_and_per_api() -> None:
    everyone = named(per_consumer(BEFORE, None)).select("consumer", "calls", "micro")
    assert everyone.rows() == [("c", 2, 5), ("d", 1, 2)]
    only_b = per_consumer(BEFORE, "b").select("calls", "micro").collect()
    assert only_b.rows() == [(1, 4)]
    assert per_consumer(BEFORE.clear(), None).collect().height == 0


def test_the_middle_keeps_its_consumers_top_and_the_first_calls_since_the_earliest_start() -> None:
    middle = MiddleConsumers.of(BEFORE, FirstSeen.empty(), middle=(10, 30), since=6, api=None)
    assert middle.top.select("consumer", "calls", "micro").rows() == [("c", 1, 4), ("d", 1, 2)]
    assert middle.table.height == 2
    assert (middle.table.schema["calls"], middle.table.schema["micro"]) == (pl.UInt8, pl.Int8)  # the narrowest
    # c was first seen at 5, before `since`; d at 15, in the middle: counted, not kept
    assert (middle.fresh.to_list(), middle.later) == ([], 1)


def test_the_windows_figures_add_the_edges_consumers() -> None:
    middle = MiddleConsumers.of(BEFORE, FirstSeen.empty(), middle=(10, 30), since=6, api=None)
    outside = per_consumer(NEW, None).collect()
    new_firsts = sellers(NEW).group_by(key=consumer_key()).agg(pl.col("ts_ms").min()).collect()
    count, fresh, top = middle.figures(outside, new_firsts, FirstSeen.empty(), start=8, now=40, texts=TEXTS)
    assert count == 3  # c, d, e in [8, 40)
    assert fresh == 2  # d (15) and e (35); c first called at 5
    assert top.rows() == [("e", 1, "0.000008"), ("c", 2, "0.000005"), ("d", 1, "0.000002")]


def test_one_api_counts_its_own_consumers() -> None:
    middle = MiddleConsumers.of(BEFORE, FirstSeen.empty(), middle=(10, 30), since=6, api="a")
    mine = NEW.filter(pl.col("api_id") == "a")
    outside = per_consumer(mine, "a").collect()
    new_firsts = sellers(mine).group_by(key=api_key()).agg(pl.col("ts_ms").min()).collect()
    count, fresh, top = middle.figures(outside, new_firsts, FirstSeen.empty(), start=8, now=40, texts=TEXTS)
    # On a: d at 15 and c, e after the build; c's first call on a was at 5.
    assert (count, fresh) == (3, 2)
    assert [row[0] for row in top.rows()] == ["e", "d", "c"]


def test_an_empty_middle_and_no_new_calls() -> None:
    empty = BEFORE.clear()
    middle = MiddleConsumers.of(empty, FirstSeen.empty(), middle=(10, 30), since=6, api=None)
    outside = per_consumer(empty, None).collect()
    new_firsts = sellers(empty).group_by(key=consumer_key()).agg(pl.col("ts_ms").min()).collect()
    count, fresh, top = middle.figures(outside, new_firsts, FirstSeen.empty(), start=8, now=40, texts=TEXTS)
    assert (count, fresh, top.height) == (0, 0, 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.integers(0, 4)), max_size=40))
def test_the_ranked_consumers_are_the_ten_first_and_every_tie_with_the_tenth(rows: list) -> None:
    per = pl.DataFrame(rows, schema={"micro": pl.Int64, "calls": pl.UInt32, "prefix": pl.UInt64}, orient="row")
    per = per.with_row_index("key")
    order = per.sort(["micro", "calls", "prefix"], descending=[True, True, False])
    want = set(order.head(TOP_CONSUMERS)["key"])
    if order.height > TOP_CONSUMERS:
        tenth = order.row(TOP_CONSUMERS - 1)[1:]
        want |= {row[0] for row in order.rows() if row[1:] == tenth}
    assert set(ranked(per, TOP_CONSUMERS)["key"]) == want


def test_sums_per_consumer_in_key_order_and_in_128_bits_when_64_could_overflow() -> None:
    big = 2**62
    parts = [
        pl.LazyFrame({"key": [3, 1], "calls": [2, 1], "micro": [5, big], "prefix": [7, 8]}),
        pl.LazyFrame({"key": [1, 2], "calls": [1, 1], "micro": [big, 1], "prefix": [8, 9]}),
    ]
    parts = [p.with_columns(pl.col("key", "prefix").cast(pl.UInt64), pl.col("calls").cast(pl.UInt32)) for p in parts]
    summed = _summed(parts)
    assert summed.rows() == [(1, 2, 2 * big, 8), (2, 1, 1, 9), (3, 2, 5, 7)]
    assert summed.schema["micro"] == pl.Int128
    assert _summed([parts[0].head(0)]).height == 0


@settings(max_examples=25, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.integers(0, 99), st.sampled_from("abc"), st.integers(0, 30), st.sampled_from(["a", "b"])),
        min_size=0,
        max_size=60,
    ),
    range_rows=st.integers(1, 8),
    api=st.sampled_from([None, "a"]),
)
def test_the_middle_summed_in_key_ranges_from_a_shelf_equals_it_summed_at_once(calls, range_rows, api) -> None:
    # Settled calls before 50 (on a shelf of 3-row pieces, read piece by piece), recent ones after; middle [20, 80).
    import ccanalytics.metrics.middle as middle
    from ccanalytics.metrics.past import READ, Past
    from ccanalytics.metrics.quarters import RID, Quarters
    from ccanalytics.store import shelf as shelf_module

    horizon = 50
    rows = pl.DataFrame(
        {
            "ts_ms": [c[0] for c in calls],
            "role": ["seller"] * len(calls),
            "api_id": [c[3] for c in calls],
            "status_code": [200] * len(calls),
            "latency_ms": [1.0] * len(calls),
            "price_micro": [0] * len(calls),
            "revenue_micro": [c[2] for c in calls],
            "consumer": [c[1] * 12 for c in calls],  # long texts: ties in their first 8 bytes too
            "rule": [None] * len(calls),
            RID: list(range(len(calls))),
        },
        schema={
            **dict.fromkeys(["ts_ms", "status_code", "price_micro", "revenue_micro", RID], pl.Int64),
            **dict.fromkeys(["role", "api_id", "consumer", "rule"], pl.String),
            "latency_ms": pl.Float64,
        },
    ).sort("ts_ms")

    def reader(first: int, last: int, start: int, end: int) -> pl.DataFrame:
        inside = pl.col(RID).is_between(first, last) & pl.col("ts_ms").is_between(start, end, closed="left")
        return rows.filter(inside).select(READ)

    settled = rows.filter(pl.col("ts_ms") < horizon)
    recent = rows.filter(pl.col("ts_ms") >= horizon).lazy()
    pieces, ranges = shelf_module.PIECE_ROWS, middle.RANGE_ROWS
    try:
        shelf_module.PIECE_ROWS = 3
        quarters = Quarters.empty(0).plus(settled, rows).merged().shelved(shelf_module.shelf)
        past = Past(quarters, reader, horizon)
        of = {"middle": (20, 80), "since": 10, "api": api, "past": past}
        middle.RANGE_ROWS = 10**9
        once = MiddleConsumers.of(recent, FirstSeen.empty(), **of)
        middle.RANGE_ROWS = range_rows
        in_ranges = MiddleConsumers.of(recent, FirstSeen.empty(), **of)
    finally:
        shelf_module.PIECE_ROWS, middle.RANGE_ROWS = pieces, ranges
    assert in_ranges.table.rows() == once.table.rows() and in_ranges.table.schema == once.table.schema
    assert in_ranges.top.rows() == once.top.rows()
    assert (in_ranges.fresh.to_list(), in_ranges.later) == (once.fresh.to_list(), once.later)
    # And the figures are those of the calls themselves: every consumer of the middle, and its top.
    mine = rows.filter(pl.col("ts_ms").is_between(20, 80, closed="left"))
    want = per_consumer(mine.lazy(), api).collect()
    assert sorted(once.table.rows()) == sorted(want.select("key", "calls", "micro").rows())
    key = text_key() if api is None else text_key().xor(pl.col("api_id").hash(seed=15))
    texts = mine.select("consumer", key=key).unique("key")
    top = want.join(texts, on="key").sort(["micro", "calls", "consumer"], descending=[True, True, False])
    top = top.head(TOP_CONSUMERS)
    assert once.top.select("consumer", "calls", "micro").rows() == top.select("consumer", "calls", "micro").rows()
