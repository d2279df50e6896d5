"""ccanalytics.fleet.tallies: the three merges agree with the ledger's definitions and merge their own results."""

from __future__ import annotations

import narwhals as nw
import polars as pl
from polars.testing import assert_frame_equal

from ccanalytics.fleet.tallies import SUMS, earliest, latest_named, merge
from ccanalytics.metrics import formulas


def _lazy(data: dict[str, list[object]]) -> nw.LazyFrame:
    return nw.from_native(pl.LazyFrame(data))


def test_merge_sums_every_tally_and_an_empty_tally_merges_to_nothing() -> None:
    rows = {"role": ["s", "b", "s"], "api_id": ["a", "a", "a"], **{name: [1, 2, 3] for name in SUMS}}
    merged = merge(_lazy(rows), by=["role", "api_id"]).collect().to_native().sort("role")
    assert merged.rows() == [("b", "a", 2, 2, 2, 2, 2, 2), ("s", "a", 4, 4, 4, 4, 4, 4)]
    empty = pl.LazyFrame(schema={"role": pl.String, **dict.fromkeys(SUMS, pl.Int64)})
    assert merge(nw.from_native(empty), by=["role"]).collect().to_native().height == 0


def test_earliest_is_the_minimum_per_group() -> None:
    rows = _lazy({"consumer": ["c", "c", "c"], "api_id": ["a", "b", "a"], "ts_ms": [9, 1, 4]})
    assert sorted(earliest(rows, by=["consumer", "api_id"]).collect().to_native().rows()) == [
        ("c", "a", 4),
        ("c", "b", 1),
    ]


def test_latest_named_agrees_with_the_ledgers_latest_names_and_merges_its_own_results() -> None:
    calls = pl.DataFrame(
        {
            "api_id": ["a", "a", "a", "b", "b", "c"],
            "ts_ms": [1, 7, 7, 3, 3, 2],
            "request_id": ["r1", "r2", "r9", "x", "y", "z"],
            "api_name": ["Old", "Mid", "New", "B1", None, None],
        }
    )
    ours = latest_named(nw.from_native(calls.lazy()), by=["api_id"]).collect().to_native().sort("api_id")
    assert ours.rows() == [("a", 7, "r9", "New"), ("b", 3, "x", "B1")]
    theirs = formulas.latest_names(calls.lazy()).collect().sort("api_id")
    assert ours["api_name"].to_list() == theirs.filter(pl.col("api_name").is_not_null())["api_name"].to_list()
    # Day by day, then the days' results together: the same as all at once.
    days = [latest_named(nw.from_native(part.lazy()), by=["api_id"]) for part in (calls[:2], calls[2:])]
    again = latest_named(nw.concat(days), by=["api_id"]).collect().to_native().sort("api_id")
    assert_frame_equal(again, ours)
