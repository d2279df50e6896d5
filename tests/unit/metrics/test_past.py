"""``metrics.past``: the settled part of a history, from whole days and quarters plus rows read back."""

from __future__ import annotations

import polars as pl

from ccanalytics.metrics import formulas
from ccanalytics.metrics.past import READ, Past, whole_days
from ccanalytics.metrics.quarters import RID, Quarters

DAY, MINUTE = 86_400_000, 60_000
HORIZON = 10 * DAY
ROWS = pl.DataFrame(
    {
        "ts_ms": [DAY + 7 * MINUTE - 1, DAY + 7 * MINUTE, DAY + 20 * MINUTE, 2 * DAY + 1, 3 * DAY, HORIZON - 1],
        "role": ["seller", "seller", "buyer", "seller", "seller", "seller"],
        "api_id": ["a", "b", "a", "a", "a", "a"],
        "status_code": [200, 502, 200, 200, 404, 200],
        "latency_ms": [5.0, None, 7.0, 0.0, 9.0, 1.0],
        "price_micro": [10, 0, 20, 10, 10, 10],
        "revenue_micro": [9, 0, 0, 9, 9, 9],
        "consumer": ["zz", "c", None, "zz", "c", "d"],
        "rule": [None] * 6,
        RID: [1, 2, 3, 4, 5, 6],
    }
)


def past(reads: list | None = None) -> Past:
    def reader(first: int, last: int, start: int, end: int) -> pl.DataFrame:
        if reads is not None:
            reads.append((first, last, start, end))
        inside = pl.col(RID).is_between(first, last) & pl.col("ts_ms").is_between(start, end, closed="left")
        return ROWS.filter(inside).select(READ)

    return Past(Quarters.empty(0).plus(ROWS, ROWS).merged(), reader, HORIZON)


def test_whole_days() -> None:
    assert whole_days(DAY, 3 * DAY) == (DAY, 3 * DAY)
    assert whole_days(DAY + 1, 3 * DAY - 1) is None  # no whole day inside
    assert whole_days(DAY - 1, 3 * DAY) == (DAY, 3 * DAY)


def test_rows_are_read_back_by_the_rowids_of_their_quarters_and_never_after_the_horizon() -> None:
    reads: list = []
    got = past(reads).rows([(DAY, DAY + 10 * MINUTE), (HORIZON - 5, HORIZON + DAY)])
    assert got["ts_ms"].to_list() == [DAY + 7 * MINUTE - 1, DAY + 7 * MINUTE, HORIZON - 1]
    assert reads == [(1, 2, DAY, DAY + 10 * MINUTE), (6, 6, HORIZON - 5, HORIZON)]


def test_local_days_from_quarters_and_a_quarter_split_by_a_midnight_read_back() -> None:
    starts = [DAY + 7 * MINUTE, 2 * DAY + 7 * MINUTE, 3 * DAY + 7 * MINUTE]  # midnights 7 minutes past a quarter
    got = past().day_counts(starts, HORIZON).sort("role", "api_id", "start").collect()
    edges = pl.DataFrame({"start": starts})
    want = (
        formulas.window(ROWS.lazy(), starts[0], HORIZON)
        .sort("ts_ms")
        .join_asof(edges.lazy(), left_on="ts_ms", right_on="start", strategy="backward")
        .group_by("role", "api_id", "start")
        .agg(success=formulas.succeeded().sum().cast(pl.Int64), error=(~formulas.succeeded()).sum().cast(pl.Int64))
        .sort("role", "api_id", "start")
        .collect()
    )
    assert got.rows() == want.rows()


def test_sellers_errors_and_the_texts_of_settled_consumers() -> None:
    p = past()
    sellers = p.sellers(0, HORIZON, None).group_by("key").agg(pl.col("calls").sum()).collect()
    assert sorted(sellers["calls"].to_list()) == [1, 2, 2]
    assert p.sellers(0, HORIZON, "b").collect()["calls"].to_list() == [1]
    assert p.errors(0, HORIZON).collect()["ts_ms"].to_list() == [DAY + 7 * MINUTE, 3 * DAY]
    times = p.times(sellers["key"], 0, HORIZON, None)
    assert times.height == 3
    texts = p.texts(times, None)
    assert sorted(texts["consumer"].to_list()) == ["c", "d", "zz"]
