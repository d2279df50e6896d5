"""metrics/formulas.py against metrics.md: tiny literal frames in, literal frames out, and each on no rows."""

from __future__ import annotations

import math
from random import Random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ccanalytics.contract import TABLES
from ccanalytics.metrics import formulas as f

HOUR = 3_600_000
DAY = 24 * HOUR
NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z, on the hour
CALLS = TABLES["calls"].schema
EVENTS = TABLES["events"].schema


def calls(*rows: dict) -> pl.LazyFrame:
    """Calls with the contract's columns; unnamed ones take a plain buyer call's values."""
    base = {"request_id": "r", "ts_ms": NOW - 1, "role": "buyer", "api_id": "a", "api_name": None}
    base |= {"status_code": 200, "latency_ms": 100.0, "price_micro": 1_000, "revenue_micro": 0, "demo": 0}
    base |= {"consumer": None}
    full = [base | {"request_id": f"r{i}"} | row for i, row in enumerate(rows)]
    return pl.LazyFrame(full, schema=CALLS)


NO_CALLS = pl.LazyFrame(schema=CALLS)


def test_success_is_a_2xx_status() -> None:
    frame = pl.DataFrame({"status_code": [199, 200, 250, 299, 300, 402, 502]})
    assert frame.select(f.succeeded())["status_code"].to_list() == [False, True, True, True, False, False, False]


def test_a_window_is_half_open() -> None:
    rows = calls({"ts_ms": 10}, {"ts_ms": 11}, {"ts_ms": 19}, {"ts_ms": 20})
    assert f.window(rows, 11, 20).collect()["ts_ms"].to_list() == [11, 19]
    assert f.existing(rows, 20).collect()["ts_ms"].to_list() == [10, 11, 19]  # the row at now is in the future


def test_windows_count_each_role_in_its_24h_and_7d() -> None:
    rows = calls(
        {"ts_ms": NOW - DAY, "latency_ms": 10.0},  # the 24 h window's first instant
        {"ts_ms": NOW - 1, "status_code": 502, "latency_ms": None, "price_micro": 5},
        {"ts_ms": NOW, "price_micro": 999_999},  # now itself: not yet
        {"ts_ms": NOW - DAY - 1, "price_micro": 7},  # 7 d only
        {"ts_ms": NOW - 7 * DAY, "price_micro": 11},  # 7 d's first instant
        {"ts_ms": NOW - 7 * DAY - 1, "price_micro": 13},  # before both
        {"ts_ms": NOW - 5, "role": "seller", "revenue_micro": 950, "latency_ms": 30.0},
    )
    got = f.windows(rows, NOW).sort("role").collect()
    expected = pl.DataFrame(
        {
            "role": ["buyer", "seller"],
            "calls_24h": [2, 1],
            "success_24h": [1, 1],
            "latency_sum_24h": [10.0, 30.0],
            "latency_n_24h": [1, 1],
            "price_micro_24h": [1_005, 1_000],
            "revenue_micro_24h": [0, 950],
            "calls_7d": [4, 1],
            "price_micro_7d": [1_023, 1_000],
            "revenue_micro_7d": [0, 950],
        },
        schema_overrides={c: pl.Int128 for c in ("price_micro_24h", "revenue_micro_24h")}
        | {c: pl.Int128 for c in ("price_micro_7d", "revenue_micro_7d")},
    )
    assert_frame_equal(got, expected, check_column_order=False)


def test_windows_of_no_calls_is_no_row() -> None:
    assert f.windows(NO_CALLS, NOW).collect().height == 0


def test_a_tally_of_no_calls_is_no_row_and_merges_to_the_other() -> None:
    assert f.tally(NO_CALLS).collect().height == 0
    one = f.tally(calls({}))
    assert_frame_equal(f.merge_tallies(one, f.empty_tally()).collect(), one.collect(), check_column_order=False)


def test_tallies_merge_to_the_tally_of_the_union() -> None:
    a, b = calls({"api_id": "x"}, {"api_id": "y"}), calls({"api_id": "x", "status_code": 500, "latency_ms": None})
    union = pl.concat([a, b])
    merged = f.merge_tallies(f.tally(a), f.tally(b)).sort("api_id").collect()
    assert_frame_equal(merged, f.tally(union).sort("api_id").collect(), check_column_order=False)


def test_sums_of_the_largest_amounts_never_wrap() -> None:
    big = 2**63 - 1
    total = f.tally(calls({"price_micro": big}, {"price_micro": big})).collect()["price_micro"].item()
    assert total == 2 * big


def test_the_chart_has_48_hours_per_role_ending_with_the_hour_so_far() -> None:
    now = NOW + 30 * 60_000  # 12:30Z
    rows = calls(
        {"ts_ms": NOW},  # the last bucket's start
        {"ts_ms": now - 1, "status_code": 500},
        {"ts_ms": now},  # now: not yet
        {"ts_ms": NOW - 47 * HOUR},  # the first bucket's start
        {"ts_ms": NOW - 47 * HOUR - 1},  # before the chart
        {"ts_ms": NOW - HOUR, "role": "seller", "status_code": 201},
    )
    got = f.call_rate(rows, now, "UTC").collect()
    hours = [NOW - (47 - i) * HOUR for i in range(48)]
    assert got["hour"].to_list() == hours * 2 and got["role"].to_list() == ["buyer"] * 48 + ["seller"] * 48
    buyer, seller = got.filter(role="buyer"), got.filter(role="seller")
    assert buyer["success"].to_list() == [1] + [0] * 46 + [1]
    assert buyer["error"].to_list() == [0] * 47 + [1]
    assert seller["success"].to_list() == [0] * 46 + [1, 0] and seller["error"].sum() == 0


def test_the_chart_of_no_calls_is_48_empty_hours_per_role() -> None:
    got = f.call_rate(NO_CALLS, NOW, "UTC").collect()
    assert got.height == 96 and got["success"].sum() == 0 and got["error"].sum() == 0


@pytest.mark.parametrize(
    ("zone", "minutes"),
    # 12:50Z is 18:20 in Kolkata (+05:30): its hour began 12:30Z; 18:35 in Kathmandu (+05:45): 12:15Z.
    [("UTC", 0), ("Europe/Berlin", 0), ("Asia/Kolkata", 30), ("Asia/Kathmandu", 15), ("Australia/Eucla", 15)],
)
def test_the_last_bucket_starts_on_the_hour_of_the_stores_timezone(zone: str, minutes: int) -> None:
    now = NOW + 50 * 60_000  # 12:50Z
    start = f.last_bucket_start(now, zone)
    assert start <= now < start + HOUR
    assert (start - NOW) // 60_000 == minutes


def test_the_buyer_breakdown_names_orders_and_averages() -> None:
    rows = calls(
        {"api_id": "b", "api_name": "Old B", "ts_ms": 1, "latency_ms": 10.0},
        {"api_id": "b", "api_name": "New B", "ts_ms": 2, "latency_ms": None, "status_code": 502},
        {"api_id": "a", "latency_ms": 20.0},
        {"api_id": "a", "latency_ms": 40.0, "price_micro": 0, "demo": 1},
        {"api_id": "c", "api_name": "Cee", "price_micro": 7},
        {"api_id": "r", "role": "seller", "api_name": "Named by a seller call"},
    )
    apis = pl.LazyFrame({"api_id": ["a", "a"], "name": ["First A", "Last A"]})
    got = f.breakdown(f.tally(rows), f.latest_names(rows), apis, "buyer").collect()
    expected = pl.DataFrame(
        {
            "api_id": ["a", "b", "c"],
            "api_name": ["Last A", "New B", "Cee"],  # registered (last row) > latest call's > the id
            "calls": [2, 2, 1],
            "success": [2, 1, 1],
            "errors": [0, 1, 0],
            "usdc": [1_000, 2_000, 7],
            "avg_latency_ms": [30.0, 10.0, 100.0],
        },
        schema_overrides={"usdc": pl.Int128},
    )
    assert_frame_equal(got, expected)


def test_the_seller_breakdown_has_success_rate_and_revenue() -> None:
    rows = calls(
        {"role": "seller", "api_id": "z", "revenue_micro": 950},
        {"role": "seller", "api_id": "z", "status_code": 500, "revenue_micro": 0},
        {"role": "seller", "api_id": "y", "revenue_micro": 1},
        {"role": "seller", "api_id": "x", "revenue_micro": 1},
        {"role": "buyer", "api_id": "w"},
    )
    got = f.breakdown(f.tally(rows), f.latest_names(rows), pl.LazyFrame(schema=TABLES["apis"].schema), "seller")
    expected = pl.DataFrame(
        {
            "api_id": ["z", "x", "y"],  # calls descending, then api_id ascending
            "api_name": ["z", "x", "y"],
            "calls": [2, 1, 1],
            "success": [1, 1, 1],
            "errors": [1, 0, 0],
            "usdc": [950, 1, 1],
            "success_rate": [0.5, 1.0, 1.0],
        },
        schema_overrides={"usdc": pl.Int128},
    )
    assert_frame_equal(got.collect(), expected)


@pytest.mark.parametrize("role", ["buyer", "seller"])
def test_the_breakdown_of_no_calls_is_no_row(role: str) -> None:
    apis = pl.LazyFrame({"api_id": ["a"], "name": ["Registered but never called"]})
    got = f.breakdown(f.empty_tally(), f.empty_names(), apis, role).collect()
    assert got.height == 0
    last = "avg_latency_ms" if role == "buyer" else "success_rate"
    assert got.columns == ["api_id", "api_name", "calls", "success", "errors", "usdc", last]


def test_the_latest_name_breaks_equal_times_by_the_greater_request_id() -> None:
    rows = calls(
        {"api_id": "a", "ts_ms": 5, "request_id": "r-2", "api_name": "Two"},
        {"api_id": "a", "ts_ms": 5, "request_id": "r-9", "api_name": "Nine"},
        {"api_id": "a", "ts_ms": 6, "request_id": "r-1", "api_name": None},  # later, but nameless
        {"api_id": "b", "ts_ms": 1, "api_name": None},
    )
    got = f.latest_names(rows).collect()
    assert got.select("api_id", "api_name").rows() == [("a", "Nine")]
    assert f.latest_names(NO_CALLS).collect().height == 0


def test_recent_events_are_the_latest_n_before_now_higher_id_first_on_ties() -> None:
    events = pl.LazyFrame(
        {"id": [1, 2, 3, 4, 5], "ts_ms": [10, 30, 30, 20, 40], "type": ["a"] * 5, "severity": ["info"] * 5},
    )
    assert f.recent_events(events, now=40, n=3).collect()["id"].to_list() == [3, 2, 4]
    assert f.recent_events(events, now=40, n=0).collect().height == 0
    assert f.recent_events(pl.LazyFrame(schema=EVENTS), now=40, n=50).collect().height == 0


def test_issue_counts_per_rule_and_none_without_bad_rows() -> None:
    rows = pl.LazyFrame({"rule": ["x", None, "y", "x"]})
    assert sorted(f.issue_counts(rows).collect().rows()) == [("x", 2), ("y", 1)]
    assert f.issue_counts(pl.LazyFrame({"rule": [None]}, schema={"rule": pl.String})).collect().height == 0


def test_latest_time_before_now_is_null_without_rows() -> None:
    frame = pl.LazyFrame({"ts_ms": [5, 9, 12]})
    assert f.latest_time(frame, now=12).collect().item() == 9
    assert f.latest_time(frame.clear(), now=12).collect().item() is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=2.0**-20, max_value=1e7),  # each a whole number of 2**-72
            st.just(0.0),
            st.decimals(min_value=0, max_value=100_000, places=3).map(float),
            st.none(),
        ),
        max_size=300,
    ),
    st.randoms(use_true_random=False),
)
def test_latency_sums_are_the_exact_sum_rounded_once_in_any_order(values: list[float | None], rng: Random) -> None:
    shuffled = values[:]
    rng.shuffle(shuffled)
    want = math.fsum(v for v in values if v is not None)  # the exact sum, correctly rounded
    for order in (values, shuffled):
        frame = pl.DataFrame({"g": [1] * len(order), "v": order}, schema={"g": pl.Int64, "v": pl.Float64})
        assert frame.select(s=f.exact_sum(pl.col("v"))).item() == want
        assert frame.group_by("g").agg(s=f.exact_sum(pl.col("v")))["s"].to_list() == ([want] if order else [])


def test_latency_sums_too_small_or_too_large_for_the_exact_sum_are_float_sums() -> None:
    frame = pl.DataFrame({"v": [1e-30, 2.0, 1e300]})
    for rows in (frame.head(2), frame.tail(2)):
        assert rows.select(f.exact_sum(pl.col("v"))).item() == rows["v"].sum()


def test_tallies_sum_their_latencies_the_same_to_the_last_bit_in_whatever_order_they_are_merged() -> None:
    rng = Random(3)
    n = 5000
    calls = pl.DataFrame(
        {"role": ["buyer"] * n, "api_id": ["a"] * n, "status_code": [200] * n,
         "latency_ms": [round(rng.expovariate(0.01), 2) for _ in range(n)], "price_micro": [1] * n,
         "revenue_micro": [0] * n}
    )  # fmt: skip
    parts = [f.tally(calls.slice(i * 500, 500).lazy()).collect() for i in range(10)]
    sums = set()
    for _ in range(5):
        rng.shuffle(parts)
        sums.add(f.merge_tallies(*(p.lazy() for p in parts)).collect()["latency_sum"].item())
    assert len(sums) == 1
    assert sums.pop() == pytest.approx(math.fsum(calls["latency_ms"]), rel=1e-15)
