"""metrics/consumers.py against views.md: a consumer is new in a window when its first seller call ever lies in it."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccanalytics.metrics.consumers import FirstSeen, api_key, consumer_key, keyed, new_consumers

SCHEMA = {"role": pl.String, "api_id": pl.String, "consumer": pl.String, "ts_ms": pl.Int64, "rule": pl.String}
HORIZON = 100


def calls(*rows: tuple) -> pl.DataFrame:
    """(role, api_id, consumer, ts_ms[, rule]) rows."""
    return pl.DataFrame([(*r, None) if len(r) == 4 else r for r in rows], schema=SCHEMA, orient="row")


OLD = calls(
    ("seller", "a", "c1", 10),
    ("seller", "b", "c1", 90),
    ("buyer", "a", "c9", 20),  # a buyer call: nobody's first seller call
    ("seller", "a", None, 30),  # no consumer
    ("seller", "a", "c8", 40, "status_code outside 100..599"),  # a bad row does not count
)
RECENT = calls(
    ("seller", "a", "c1", 150),  # c1 is old
    ("seller", "c", "c1", 160),  # but new to api c
    ("seller", "a", "c2", 170),
    ("seller", "a", "c2", 120),  # c2's first call, before the window
    ("seller", "b", "c3", 180),
    ("seller", "a", "c8", 185),  # its old row was bad: new now
    ("buyer", "a", "c4", 190),
).drop("rule")


@pytest.mark.parametrize(
    ("start", "api", "new"),
    [
        (150, None, 2),  # c3, c8
        (100, None, 3),  # c2 too
        (0, None, 4),  # c1 as well: first seen at 10
        (95, "a", 2),  # c2, c8
        (150, "c", 1),  # c1's first call to c
        (0, "b", 2),  # c1 at 90, c3
        (150, "zzz", 0),  # an api nobody called
    ],
)
def test_new_consumers_in_a_window(start: int, api: str | None, new: int) -> None:
    seen = FirstSeen.empty().plus(OLD).merged()
    assert new_consumers(RECENT.lazy(), seen, HORIZON, start, 200, api) == new


def test_the_window_is_half_open() -> None:
    seen = FirstSeen.empty().plus(OLD)
    assert new_consumers(RECENT.lazy(), seen, HORIZON, 180, 185) == 1  # c3 at 180; c8 at 185 is not yet
    assert new_consumers(RECENT.lazy(), seen, HORIZON, 10, 90) == 1  # c1 at 10 (settled), c1/b at 90 is not new


def test_first_calls_merge_whatever_the_pieces() -> None:
    whole = FirstSeen.empty().plus(OLD).merged()
    pieces = FirstSeen.empty()
    for i in range(OLD.height):
        pieces = pieces.plus(OLD.slice(i, 1))
    pieces = pieces.merged()
    assert whole.by_consumer.equals(pieces.by_consumer) and whole.by_api.equals(pieces.by_api)
    firsts = OLD.filter(pl.col("rule").is_null() & (pl.col("role") == "seller") & pl.col("consumer").is_not_null())
    of = FirstSeen.of_firsts(firsts.select("consumer", "api_id", "ts_ms"))
    assert of.by_consumer.equals(whole.by_consumer)


def test_no_consumers_anywhere_is_zero() -> None:
    empty = calls().drop("rule")
    assert new_consumers(empty.lazy(), FirstSeen.empty(), HORIZON, 0, 200) == 0
    assert new_consumers(empty.lazy(), FirstSeen.empty(), HORIZON, 0, 200, api="a") == 0
    seen = FirstSeen.empty()
    assert seen.plus(calls()) is seen


def test_first_calls_before_the_cut_are_kept_as_keys_and_still_known() -> None:
    old = pl.DataFrame(
        {"role": ["seller"] * 3, "api_id": ["a", "b", "a"], "consumer": ["c1", "c2", "c3"], "ts_ms": [5, 50, 15]}
    ).with_columns(rule=pl.lit(None, pl.String))
    seen = FirstSeen.empty(cut=20).plus(old).merged()
    assert seen.by_consumer["ts_ms"].to_list() == [50] and seen.old_consumers.len() == 2
    # Every pair is its consumer's first: kept as the API beside the consumer, not by its own key.
    assert seen.aged(60).by_consumer.height == 0 and seen.aged(60).old_consumers.len() == 3
    assert seen.aged(60).old_pairs.len() == 0 and seen.aged(60).aged_keys(_pairs(["c2"], "b"), "b").to_list() == [True]
    recent = pl.LazyFrame({"role": ["seller"] * 3, "api_id": ["a", "a", "b"], "consumer": ["c1", "c4", "c1"],
                           "ts_ms": [100, 101, 102]})  # fmt: skip
    assert new_consumers(recent, seen, horizon=90, start=95, now=200) == 1  # c4; c1 was seen before the cut
    assert new_consumers(recent, seen, horizon=90, start=95, now=200, api="b") == 1  # c1's first call to b
    again = seen.plus(old.with_columns(pl.col("ts_ms") + 1)).merged()  # seen again later: still aged, once
    assert again.old_consumers.len() == 2 and again.by_consumer.height == 1


def _pairs(consumers: list[str], api: str) -> pl.Series:
    return keyed(pl.DataFrame({"consumer": consumers, "api_id": [api] * len(consumers)})).select(api_key()).to_series()


CALL = st.tuples(st.sampled_from(["c1", "c2", "c3", "c4"]), st.sampled_from(["a", "b", "c"]), st.integers(0, 60))


@settings(max_examples=150, deadline=None)
@given(
    pieces=st.lists(st.lists(CALL, min_size=1, max_size=6), max_size=6),
    cuts=st.lists(st.integers(0, 70), min_size=1, max_size=3),
    merge_every=st.integers(1, 3),
)
def test_first_calls_and_pairs_are_exact_whatever_the_pieces_and_cuts(
    pieces: list[list[tuple]], cuts: list[int], merge_every: int
) -> None:
    seen = FirstSeen.empty(cut=cuts[0])
    for i, piece in enumerate(pieces):
        rows = pl.DataFrame(
            [("seller", api, consumer, ts, None) for consumer, api, ts in piece], schema=SCHEMA, orient="row"
        )
        seen = seen.plus(rows)
        if i % merge_every == 0:
            seen = seen.merged()
        if i < len(cuts):
            seen = seen.aged(cuts[i])
    seen = seen.merged()
    cut = max(cuts[: max(1, min(len(cuts), len(pieces)))])
    calls = pl.DataFrame(
        [(c, a, t) for piece in pieces for c, a, t in piece],
        schema={"consumer": pl.String, "api_id": pl.String, "ts_ms": pl.Int64},
        orient="row",
    )
    everyone = ["c1", "c2", "c3", "c4", "never"]
    firsts = dict(calls.group_by("consumer").agg(pl.col("ts_ms").min()).rows())
    keys = keyed(pl.DataFrame({"consumer": everyone})).select(consumer_key()).to_series()
    assert seen.first_times(keys, None).to_list() == [firsts[c] if firsts.get(c, -1) >= cut else None for c in everyone]
    assert seen.aged_keys(keys, None).to_list() == [c in firsts and firsts[c] < cut for c in everyone]
    assert sorted(seen.settled(None).to_list()) == sorted(t for t in firsts.values() if t >= cut)
    for api in ("a", "b", "c", "zzz"):
        mine = dict(calls.filter(pl.col("api_id") == api).group_by("consumer").agg(pl.col("ts_ms").min()).rows())
        pairs = _pairs(everyone, api)
        want = [mine[c] if mine.get(c, -1) >= cut else None for c in everyone]
        assert seen.first_times(pairs, api).to_list() == want
        assert seen.aged_keys(pairs, api).to_list() == [c in mine and mine[c] < cut for c in everyone]
        assert seen.known(pairs, api).to_list() == [c in mine for c in everyone]
        assert sorted(seen.settled(api).to_list()) == sorted(t for t in mine.values() if t >= cut)
