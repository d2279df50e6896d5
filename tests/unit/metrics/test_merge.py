"""metrics/merge.py: totals moved by a few rows in one group_by equal those grouped first and merged after."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from ccanalytics.metrics import formulas, merge, sketch

CALLS = pl.DataFrame(
    {
        "role": ["buyer", "buyer", "seller", "seller", "buyer", "seller"],
        "api_id": ["a", "a", "a", "b", "b", "b"],
        "ts_ms": [5, 9, 9, 3, 7, 7],
        "request_id": ["r1", "r2", "r3", "r4", "r5", "r0"],
        "api_name": ["A1", None, "A2", "B", None, "B2"],
        "status_code": [200, 502, 201, 200, 404, 200],
        "latency_ms": [10.0, None, 0.0, 1e6, None, 0.5],
        "price_micro": [5, 0, 7, 2**62, 1, 3],
        "revenue_micro": [0, 0, 6, 2**62, 0, 2],
    }
)
FIRST, THEN = CALLS.head(3), CALLS.slice(3)


def _sorted(frame: pl.DataFrame, *by: str) -> pl.DataFrame:
    return frame.sort(*by)


def test_tallies_moved_by_rows_equal_the_rows_tallied_and_merged() -> None:
    old = formulas.tally(FIRST.lazy()).collect()
    expected = formulas.merge_tallies(old.lazy(), formulas.tally(THEN.lazy())).collect()
    assert_frame_equal(_sorted(merge.tallies_with(old, THEN), "role", "api_id"), _sorted(expected, "role", "api_id"))
    # Money sums past 2**63 do not wrap; a group of only null latencies sums to 0.0.
    twice = merge.tallies_with(merge.tallies_with(old, THEN), THEN)
    seller_b = twice.filter(pl.col("role") == "seller", pl.col("api_id") == "b").row(0, named=True)
    assert seller_b["price_micro"] == 2**62 * 2 + 6 and seller_b["calls"] == 4
    buyer_b = twice.filter(pl.col("role") == "buyer", pl.col("api_id") == "b").row(0, named=True)
    assert (buyer_b["latency_sum"], buyer_b["latency_n"]) == (0.0, 0)


def test_sketches_moved_by_rows_equal_the_rows_sketched_and_merged() -> None:
    old = sketch.sketch(FIRST.lazy()).collect()
    expected = sketch.merge_sketches(old.lazy(), sketch.sketch(THEN.lazy())).collect()
    by = ("role", "api_id", "key")
    assert_frame_equal(_sorted(merge.sketch_with(old, THEN), *by), _sorted(expected, *by))


def test_names_moved_by_rows_are_the_latest_named_calls_of_all() -> None:
    old = formulas.latest_names(FIRST.lazy()).collect()
    expected = formulas.latest_names(CALLS.lazy()).collect()
    assert_frame_equal(_sorted(merge.names_with(old, THEN), "api_id"), _sorted(expected, "api_id"))
    # A later call without a name keeps the name; a tie on time goes to the greater request_id.
    assert dict(merge.names_with(old, THEN).select("api_id", "api_name").rows()) == {"a": "A2", "b": "B2"}


def test_issues_moved_by_rows_count_each_rule() -> None:
    rows = pl.DataFrame({"rule": ["ts_ms is not an integer", None, "demo is not 0 or 1", "demo is not 0 or 1"]})
    issues = pl.DataFrame({"rule": ["demo is not 0 or 1"], "rows": [4]})
    assert dict(merge.issues_with(issues, rows).rows()) == {
        "demo is not 0 or 1": 6,
        "ts_ms is not an integer": 1,
    }


def test_rows_of_one_api_at_a_time_move_every_total_as_the_rows_all_at_once() -> None:
    # A refresh's rows are mostly of one (role, api_id): those move the totals by one select and Series operations.
    assert merge.moved_by_one_api(*_empty(), CALLS) is None  # several APIs: the general merges
    pieces = CALLS.partition_by("role", "api_id", maintain_order=True)
    for order in (pieces, pieces[::-1], [*pieces[1::2], *pieces[::2]]):
        tallies, names, sketches = _empty()
        for piece in [*order, *order]:  # each piece twice: groups and keys new, then already there
            moved = merge.moved_by_one_api(tallies, names, sketches, piece)
            assert moved is not None
            tallies, names, sketches, counts = moved
            assert list(counts) == [(piece["role"][0], piece["api_id"][0])]  # the new bucket counts of that API
        twice = pl.concat([CALLS, CALLS]).lazy()
        by = ("role", "api_id", "key")
        assert_frame_equal(
            _sorted(tallies, "role", "api_id"), _sorted(formulas.tally(twice).collect(), "role", "api_id")
        )
        assert_frame_equal(_sorted(sketches, *by), _sorted(sketch.sketch(twice).collect(), *by))
        assert_frame_equal(_sorted(names, "api_id"), _sorted(formulas.latest_names(twice).collect(), "api_id"))


def _empty() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return formulas.empty_tally().collect(), formulas.empty_names().collect(), sketch.empty_sketch().collect()


def test_a_name_of_one_api_replaces_the_kept_one_only_when_later() -> None:
    tallies, _, sketches = _empty()
    names = pl.DataFrame({"api_id": ["a", "b"], "ts_ms": [5, 5], "request_id": ["r5", "r5"], "api_name": ["A", "B"]})

    def moved(calls: dict[str, list[object]]) -> dict[str, str]:
        rows = pl.DataFrame(
            {**calls, "role": "buyer", "status_code": 200, "latency_ms": None, "price_micro": 1, "revenue_micro": 0},
            schema_overrides={"latency_ms": pl.Float64},
        )
        result = merge.moved_by_one_api(tallies, names, sketches, rows)
        assert result is not None
        return dict(result[1].select("api_id", "api_name").rows())

    older = {"api_id": ["a", "a"], "ts_ms": [4, 5], "request_id": ["r9", "r4"], "api_name": ["X", "Y"]}
    assert moved(older) == {"a": "A", "b": "B"}
    tie = {
        "api_id": ["a", "a", "a", "a"],
        "ts_ms": [5, 5, 1, 9],
        "request_id": ["r7", "r6", "r8", "r9"],
        "api_name": ["Z", "W", "V", None],
    }
    assert moved(tie) == {"a": "Z", "b": "B"}  # a later call without a name keeps the name
    assert moved({**tie, "api_name": [None] * 4}) == {"a": "A", "b": "B"}


def test_rows_of_several_apis_move_every_total_as_they_are_grouped_and_merged() -> None:
    # A refresh's rows of many APIs: one group_by of the rows, the tallies and names merged in Python.
    for first, then in [(CALLS.head(2), CALLS.slice(2)), (CALLS.slice(3), CALLS.head(3)), (CALLS.clear(), CALLS)]:
        old = [
            formulas.tally(first.lazy()).collect(),
            formulas.latest_names(first.lazy()).collect(),
            sketch.sketch(first.lazy()).collect(),
        ]
        moved = merge.moved_by_groups(*old, then)
        assert moved is not None
        tallies, names, sketches, counts = moved
        assert set(counts) == set(then.select("role", "api_id").rows())
        every = CALLS.lazy()
        by = ("role", "api_id", "key")
        expected = formulas.tally(every).collect()
        assert_frame_equal(_sorted(tallies, "role", "api_id"), _sorted(expected, "role", "api_id"))
        assert_frame_equal(_sorted(sketches, *by), _sorted(sketch.sketch(every).collect(), *by))
        assert_frame_equal(_sorted(names, "api_id"), _sorted(formulas.latest_names(every).collect(), "api_id"))
    assert merge.moved_by_groups(*_empty(), CALLS.with_columns(api_id=pl.lit(None, pl.String))) is None


def test_a_refresh_s_latency_sum_is_the_exact_sum_to_the_last_bit() -> None:
    # merge._exact_sum (no query) against formulas.exact_sum (the query), on valid latencies: none negative.
    import random

    rng = random.Random(7)
    cases = [
        [0.1, 0.2, 0.3],
        [None, 5.0, None],
        [0.0, 0.0],
        [1e-30, 2.0],  # below 2**-20: summed as floats, as the query does
        [2.0**53, 2.0**53],  # a total of 2**54: floats too
        [rng.expovariate(1 / 150) for _ in range(1000)],
        [rng.choice([None, 0.0, rng.uniform(0, 1e6)]) for _ in range(500)],
    ]
    for values in cases:
        latencies = pl.Series("latency_ms", values, dtype=pl.Float64)
        expected = latencies.to_frame().select(formulas.exact_sum(pl.col("latency_ms"))).item()
        assert merge._exact_sum(latencies, latencies.min()) == expected, values[:5]
