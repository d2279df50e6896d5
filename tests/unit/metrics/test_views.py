"""views.md's figures: ranges and buckets, periods and nearest-rank percentiles, the ``view`` object."""

from __future__ import annotations

import itertools

import polars as pl
import pytest

from ccanalytics.metrics import formulas, sketch
from ccanalytics.metrics.consumers import FirstSeen
from ccanalytics.metrics.views import (
    RANGES,
    all_time_breakdown,
    bucket_starts,
    figures_dict,
    period_figures,
    ranged_view,
    usdc_texts,
)
from ccanalytics.units import DAY_MS, HOUR_MS, iso_utc

NOW = 1_795_608_000_000 + 30 * 60_000 + 7_000  # 2026-11-25T12:30:07Z
APIS = pl.LazyFrame(schema={"api_id": pl.String, "name": pl.String})
NAMES = formulas.empty_names()


def calls(rows: list[tuple]) -> pl.LazyFrame:
    """(ts, role, api, status, latency, price, consumer) rows; a seller earns 95 %."""
    columns = ("ts_ms", "role", "api_id", "status_code", "latency_ms", "price_micro", "consumer")
    frame = pl.LazyFrame(
        dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True)) if rows else {c: [] for c in columns},
        schema={"ts_ms": pl.Int64, "role": pl.String, "api_id": pl.String, "status_code": pl.Int64,
                "latency_ms": pl.Float64, "price_micro": pl.Int64, "consumer": pl.String},
    )  # fmt: skip
    seller = pl.col("role") == "seller"
    return frame.with_columns(revenue_micro=pl.when(seller).then(pl.col("price_micro") * 95 // 100).otherwise(0))


def test_the_ranges_of_views_md() -> None:
    table = [(r.name, r.length_ms, r.buckets, r.bucket) for r in RANGES.values()]
    assert table == [
        ("1h", HOUR_MS, 60, "1m"),
        ("24h", DAY_MS, 24, "1h"),
        ("7d", 7 * DAY_MS, 168, "1h"),
        ("30d", 30 * DAY_MS, 30, "1d"),
        ("90d", 90 * DAY_MS, 90, "1d"),
    ]


@pytest.mark.parametrize(
    ("micro", "text"),
    [(0, "0.000000"), (1, "0.000001"), (1_000_000, "1.000000"), (12_345_678_901, "12345.678901")],
)
def test_usdc_texts(micro: int, text: str) -> None:
    assert pl.select(t=usdc_texts(pl.lit(micro, pl.Int64))).item() == text


def test_minute_and_hour_buckets_end_at_now_floored_and_step_exactly() -> None:
    minutes = bucket_starts(NOW, "UTC", RANGES["1h"])
    assert len(minutes) == 60
    assert iso_utc(minutes[-1]) == "2026-11-25T12:30:00Z"
    assert {b - a for a, b in itertools.pairwise(minutes)} == {60_000}
    hours = bucket_starts(NOW, "Asia/Kolkata", RANGES["24h"])  # +05:30: local hours start at :30 UTC
    assert iso_utc(hours[-1]) == "2026-11-25T12:30:00Z"
    assert iso_utc(hours[0]) == "2026-11-24T13:30:00Z"


def test_day_buckets_start_at_local_midnight_and_a_dst_day_lasts_25_hours() -> None:
    now = 1_793_016_000_000  # 2026-10-26T12:00:00Z; Berlin left summer time on the 25th
    starts = bucket_starts(now, "Europe/Berlin", RANGES["30d"])
    assert len(starts) == 30
    assert iso_utc(starts[-1]) == "2026-10-25T23:00:00Z"  # the 26th's midnight in Berlin (CET)
    assert iso_utc(starts[-2]) == "2026-10-24T22:00:00Z"  # the 25th's (CEST)
    assert [(b - a) // HOUR_MS for a, b in zip(starts[-3:], starts[-2:], strict=False)] == [24, 25]


def test_periods_are_half_open_and_percentiles_nearest_rank() -> None:
    frame = calls(
        [(t, "buyer", "a", 200 if t != 3 else 500, float(t), 10, None) for t in range(1, 21)]  # latencies 1..20
        + [(20, "buyer", "a", 200, 999.0, 10, None)]  # at the window's end: outside
    )
    got = period_figures(frame, {"window": (10, 20), "previous": (0, 10)}).sort("period").collect()
    rows = {r["period"]: r for r in got.to_dicts()}
    assert (rows["previous"]["calls"], rows["previous"]["success"]) == (9, 8)  # 1..9; 3 failed
    assert rows["window"]["calls"] == 10  # 10..19
    # nearest rank over 10..19: p50 = 5th value, p95 = p99 = 10th
    assert (rows["window"]["p50_latency_ms"], rows["window"]["p95_latency_ms"]) == (14.0, 19.0)
    assert period_figures(calls([]), {"window": (10, 20)}).collect().height == 0


def test_figures_dict_money_is_the_roles_and_ratios_are_null_without_calls() -> None:
    row = {"calls": 4, "success": 3, "latency_sum": 10.0, "latency_n": 2, "price_micro": 4_000,
           "revenue_micro": 3_800, "p50_latency_ms": 1.0, "p95_latency_ms": 2.0, "p99_latency_ms": 2.0}  # fmt: skip
    keys = ("calls", "success_rate", "avg_latency_ms", "usdc")
    assert figures_dict(row, "buyer", keys) == {
        "calls": 4,
        "success_rate": 0.75,
        "avg_latency_ms": 5.0,
        "usdc": "0.004000",
    }
    assert figures_dict(row, "seller", ("usdc",)) == {"usdc": "0.003800"}
    assert figures_dict(None, "buyer", keys) == {
        "calls": 0,
        "success_rate": None,
        "avg_latency_ms": None,
        "usdc": "0.000000",
    }


def test_a_24h_view_literal() -> None:
    frame = calls(
        [
            (NOW - 30 * HOUR_MS, "buyer", "a", 200, 100.0, 1000, None),  # previous period
            (NOW - 2 * HOUR_MS, "buyer", "a", 200, 200.0, 1000, None),
            (NOW - 2 * HOUR_MS, "buyer", "b", 502, 400.0, 500, None),
            (NOW - 60_000, "buyer", "b", 200, None, 500, None),
            (NOW - HOUR_MS, "seller", "s", 200, 50.0, 2000, "k1"),
            (NOW - 40 * DAY_MS, "seller", "s", 200, 50.0, 2000, "k2"),  # long ago: k2 is not new
            (NOW - 10 * 60_000, "seller", "s", 200, 60.0, 2000, "k2"),
            (NOW, "buyer", "a", 200, 1.0, 1000, None),  # at now: not in the window
        ]
    )
    view = ranged_view(frame, seen=FirstSeen.empty(), horizon=NOW - 90 * DAY_MS, names=NAMES, apis=APIS, now=NOW,
                       timezone="UTC", range_name="24h")  # fmt: skip
    assert (view["range"], view["api"], view["bucket"]) == ("24h", None, "1h")
    assert (view["start"], view["end"]) == ("2026-11-24T12:30:07Z", "2026-11-25T12:30:07Z")
    buyer = view["buyer"]
    assert (buyer["calls"], buyer["usdc"], buyer["success_rate"], buyer["avg_latency_ms"]) == (
        3,
        "0.002000",
        2 / 3,
        300.0,
    )
    assert buyer["previous"]["calls"] == 1 and buyer["previous"]["usdc"] == "0.001000"
    assert len(buyer["series"]) == 24
    assert buyer["series"][-1] == {"start": "2026-11-25T12:00:00Z", "success": 1, "error": 0}
    assert buyer["series"][-3] == {"start": "2026-11-25T10:00:00Z", "success": 1, "error": 1}
    assert [(r["api_id"], r["calls"], r["errors"]) for r in buyer["breakdown"]] == [("b", 2, 1), ("a", 1, 0)]
    seller = view["seller"]
    assert (seller["calls"], seller["usdc"], seller["consumers"], seller["new_consumers"]) == (2, "0.003800", 2, 1)
    assert seller["top_consumers"] == [{"consumer": "k1", "calls": 1, "usdc": "0.001900"},
                                       {"consumer": "k2", "calls": 1, "usdc": "0.001900"}]  # fmt: skip


def test_one_api_and_an_api_without_calls() -> None:
    frame = calls(
        [(NOW - HOUR_MS, "buyer", "a", 200, 10.0, 1000, None), (NOW - HOUR_MS, "buyer", "b", 200, 10.0, 7, None)]
    )
    kwargs = {"seen": FirstSeen.empty(), "horizon": 0, "names": NAMES, "apis": APIS, "now": NOW, "timezone": "UTC"}
    only_b = ranged_view(frame, range_name="1h", api="b", **kwargs)
    assert (only_b["api"], only_b["buyer"]["calls"], only_b["buyer"]["usdc"]) == ("b", 1, "0.000007")
    nobody = ranged_view(frame, range_name="1h", api="zzz", **kwargs)
    assert (nobody["buyer"]["calls"], nobody["buyer"]["success_rate"], nobody["buyer"]["p95_latency_ms"]) == (
        0,
        None,
        None,
    )
    assert nobody["buyer"]["breakdown"] == [] and len(nobody["buyer"]["series"]) == 60


def test_the_all_time_breakdown_of_a_seller_counts_revenue_sorted_by_calls() -> None:
    frame = calls([(1, "seller", "x", 200, 10.0, 100, "k"), (2, "seller", "y", 500, 30.0, 200, "k"),
                   (3, "seller", "y", 200, None, 200, "k"), (4, "buyer", "x", 200, 1.0, 9, None)])  # fmt: skip
    rows = all_time_breakdown(formulas.tally(frame), sketch.sketch(frame), NAMES, APIS, "seller").collect()
    assert rows.select("api_id", "calls", "success", "errors", "usdc", "avg_latency_ms").rows() == [
        ("y", 2, 1, 1, 380, 30.0),
        ("x", 1, 1, 0, 95, 10.0),
    ]
    assert rows["p95_latency_ms"].to_list() == pytest.approx([30.0, 10.0], rel=0.005)
    empty = all_time_breakdown(formulas.tally(calls([])), sketch.sketch(calls([])), NAMES, APIS, "seller")
    assert empty.collect().height == 0
