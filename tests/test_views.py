"""views.md: percentiles, the previous period and ranged views, on the package and the naive reference.

The literal cases run twice (``ccanalytics`` and ``reference.py``) with
numbers worked out by hand; hypothesis then compares the two on random
stores, incremental ranged snapshots with from-scratch ones, and the latency
sketch with exact nearest-rank percentiles.
"""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
import tempfile

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccanalytics as cc
from ccanalytics.contract import create_store
from ccanalytics.metrics import sketch
from tests.support.reference import assert_snapshots_equal, reference_snapshot
from tests.support.stores import StoreBuilder, cases

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
WEEK = 7 * DAY


def package_snapshot(path: str, now: int, range_name: str | None = None, api: str | None = None) -> dict:
    with cc.open_store(path, cache=False) as store:
        return store.snapshot(now=now, range=range_name, api=api).to_dict()


def reference(path: str, now: int, range_name: str | None = None, api: str | None = None) -> dict:
    return reference_snapshot(path, now, 50, range_name, api)


IMPLEMENTATIONS = {"ccanalytics": package_snapshot, "reference": reference}


@pytest.fixture(params=list(IMPLEMENTATIONS))
def store(tmp_path, request):
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.compute = IMPLEMENTATIONS[request.param]
    return builder


def snap(builder: StoreBuilder, now: int = NOW, range_name: str | None = None, api: str | None = None) -> dict:
    return builder.compute(builder.write(), now, range_name, api)


# -- the default snapshot's additions -------------------------------------------


def test_percentiles_are_nearest_rank_of_the_non_null_latencies(store):
    for latency in range(1, 21):  # 1 … 20, shuffled in time
        store.call(NOW - (latency * 7919) % DAY - 1, latency_ms=float(latency))
    store.call(NOW - HOUR, latency_ms=None)  # counts as a call, not as a latency
    store.call(NOW - DAY - 1, latency_ms=1e6)  # outside 24 h
    buyer = snap(store)["buyer"]
    # n = 20: p50 at position 10, p95 at 19, p99 at 20.
    assert (buyer["p50_latency_ms_24h"], buyer["p95_latency_ms_24h"], buyer["p99_latency_ms_24h"]) == (10, 19, 20)
    assert buyer["avg_latency_ms_24h"] == 10.5
    assert buyer["calls_24h"] == 21


def test_percentiles_of_one_value_ties_and_zeros(store):
    store.call(NOW - HOUR, role="seller", latency_ms=0.0)
    store.call(NOW - HOUR, role="seller", latency_ms=0.0)
    store.call(NOW - HOUR, role="seller", latency_ms=7.0)
    store.call(NOW - HOUR, latency_ms=42.0)
    snapshot = snap(store)
    seller = snapshot["seller"]
    # n = 3: p50 at position 2 (a zero), p95 and p99 at 3.
    assert (seller["p50_latency_ms_24h"], seller["p95_latency_ms_24h"], seller["p99_latency_ms_24h"]) == (0, 7, 7)
    assert seller["avg_latency_ms_24h"] == pytest.approx(7 / 3, rel=1e-12)
    buyer = snapshot["buyer"]
    assert (buyer["p50_latency_ms_24h"], buyer["p95_latency_ms_24h"], buyer["p99_latency_ms_24h"]) == (42, 42, 42)
    # All-time breakdown: both roles have every figure; p95 may come from a sketch (1 %), 0 exactly.
    row = seller["breakdown"][0]
    assert row == {
        "api_id": "api-a",
        "api_name": "api-a",
        "calls": 3,
        "success": 3,
        "errors": 0,
        "usdc": "0.002850",
        "avg_latency_ms": pytest.approx(7 / 3, rel=1e-12),
        "p95_latency_ms": pytest.approx(7.0, rel=0.01),
        "success_rate": 1.0,
    }


def test_previous_24h_and_7d_edges_to_the_millisecond(store):
    for ts in (NOW - DAY, NOW - DAY - 1, NOW - 2 * DAY, NOW - 2 * DAY - 1):
        store.call(ts, role="seller", price_micro=1000, latency_ms=float(ts % 1000))
    for ts in (NOW - WEEK, NOW - WEEK - 1, NOW - 2 * WEEK, NOW - 2 * WEEK - 1):
        store.call(ts, role="seller", price_micro=2000, status_code=500)
    seller = snap(store)["seller"]
    # [now - 48 h, now - 24 h): now - 24 h - 1 and now - 48 h.
    assert seller["previous_24h"] == {
        "calls": 2,
        "success_rate": 1.0,
        "avg_latency_ms": 999 / 2,
        "p95_latency_ms": 999.0,
        "usdc": "0.001900",
    }
    # [now - 14 d, now - 7 d): now - 7 d - 1 and now - 14 d.
    assert seller["previous_7d"] == {"calls": 2, "usdc": "0.003800"}
    assert seller["calls_24h"] == 1 and seller["calls_7d"] == 5


# -- ranged views ------------------------------------------------------------------


def test_a_1h_view_edges_to_the_millisecond_and_its_minutes(store):
    now = NOW + 30 * 1000 + 123  # 12:00:30.123
    store.call(now - HOUR, latency_ms=10.0)  # the window's first millisecond
    store.call(now - HOUR - 1, latency_ms=20.0)  # the previous period's last one
    store.call(now - 2 * HOUR, latency_ms=30.0, status_code=502)  # the previous period's first
    store.call(now - 2 * HOUR - 1, latency_ms=40.0)  # neither
    store.call(now - 1, latency_ms=50.0)  # the last bucket
    store.call(now, latency_ms=60.0)  # does not exist yet
    view = snap(store, now, "1h")["view"]
    assert {k: view[k] for k in ("range", "api", "start", "end", "bucket")} == {
        "range": "1h",
        "api": None,
        "start": "2026-11-25T11:00:30.123Z",
        "end": "2026-11-25T12:00:30.123Z",
        "bucket": "1m",
    }
    buyer = view["buyer"]
    assert buyer["calls"] == 2 and buyer["p50_latency_ms"] == 10.0 and buyer["p99_latency_ms"] == 50.0
    assert buyer["usdc"] == "0.002000"
    assert buyer["previous"] == {
        "calls": 2,
        "success_rate": 0.5,
        "avg_latency_ms": 25.0,
        "p50_latency_ms": 20.0,
        "p95_latency_ms": 30.0,
        "p99_latency_ms": 30.0,
        "usdc": "0.002000",
    }
    series = buyer["series"]
    assert len(series) == 60
    assert series[0]["start"] == "2026-11-25T11:01:00Z" and series[-1]["start"] == "2026-11-25T12:00:00Z"
    # The call at now - 1 h (11:00:30.123) lies before the first minute bucket: not in the series.
    assert sum(b["success"] + b["error"] for b in series) == 1
    assert series[-1] == {"start": "2026-11-25T12:00:00Z", "success": 1, "error": 0, "spike": False}
    assert view["seller"]["calls"] == 0 and view["seller"]["consumers"] == 0


def test_day_buckets_across_the_dst_changes(store):
    store.setting("timezone", "Europe/Berlin")
    # 2026-03-29: clocks go 02:00 CET -> 03:00 CEST, a 23 h day; 2026-10-25: 03:00 -> 02:00, 25 h.
    now = 1_777_896_000_000  # 2026-05-04T12:00:00Z (14:00 local)
    store.call(1_774_738_800_000 - 1)  # 2026-03-28T23:59:59.999 CET: the 28th
    store.call(1_774_738_800_000)  # 2026-03-29T00:00 CET (23:00Z the day before): the 29th
    store.call(1_774_821_600_000 - 1, status_code=500)  # 2026-03-29T23:59:59.999 CEST: still the 29th
    store.call(1_774_821_600_000)  # 2026-03-30T00:00 CEST (22:00Z): the 30th
    path = store.write()
    view = store.compute(path, now, "90d", None)["view"]
    series = {b["start"]: (b["success"], b["error"]) for b in view["buyer"]["series"]}
    assert len(view["buyer"]["series"]) == 90
    assert series["2026-03-27T23:00:00Z"] == (1, 0)  # the 28th, CET: midnight is 23:00Z
    assert series["2026-03-28T23:00:00Z"] == (1, 1)  # the 29th starts at CET midnight …
    assert series["2026-03-29T22:00:00Z"] == (1, 0)  # … and lasts 23 h: the 30th at CEST midnight
    assert view["buyer"]["series"][-1]["start"] == "2026-05-03T22:00:00Z"
    assert view["bucket"] == "1d" and view["buyer"]["calls"] == 4

    autumn = 1_793_880_000_000  # 2026-11-05T12:00:00Z
    starts = [b["start"] for b in store.compute(path, autumn, "30d", None)["view"]["buyer"]["series"]]
    assert starts[-1] == "2026-11-04T23:00:00Z"
    i = starts.index("2026-10-24T22:00:00Z")  # the 25th starts at CEST midnight and lasts 25 h
    assert starts[i + 1] == "2026-10-25T23:00:00Z"


def test_hour_buckets_in_a_quarter_hour_zone(store):
    store.setting("timezone", "Asia/Kathmandu")  # +05:45
    now = NOW + 20 * MINUTE  # 12:20Z = 18:05 local
    store.call(NOW + 15 * MINUTE - 1)  # 17:59:59.999 local: the bucket before the last
    store.call(NOW + 15 * MINUTE)  # 18:00 local: the last bucket
    path = store.write()
    view = store.compute(path, now, "24h", None)["view"]
    series = view["buyer"]["series"]
    last = {"start": "2026-11-25T12:15:00Z", "success": 1, "error": 0, "spike": False}
    assert len(series) == 24 and series[-1] == last
    assert series[-2] == {"start": "2026-11-25T11:15:00Z", "success": 1, "error": 0, "spike": False}
    assert series[0]["start"] == "2026-11-24T13:15:00Z"
    days = store.compute(path, now, "30d", None)["view"]["buyer"]["series"]
    assert days[-1]["start"] == "2026-11-24T18:15:00Z"  # local midnight of the 25th


def test_consumers_first_seen_exactly_at_the_window_start(store):
    start = NOW - WEEK
    store.api("a", name="A").api("b", name="B")
    store.call(start, role="seller", api_id="a", consumer="new-at-start", price_micro=1000)
    store.call(start - 1, role="seller", api_id="b", consumer="old", price_micro=1000)
    store.call(NOW - HOUR, role="seller", api_id="a", consumer="old", price_micro=1000)
    store.call(NOW - HOUR, role="seller", api_id="a", consumer="old", price_micro=0, status_code=402)
    store.call(NOW - HOUR, role="seller", api_id="a", consumer=None, price_micro=5000)
    store.call(NOW - HOUR, role="buyer", api_id="a", consumer="a-buyer-row")  # sellers only
    path = store.write()
    seller = store.compute(path, NOW, "7d", None)["view"]["seller"]
    assert seller["consumers"] == 2 and seller["new_consumers"] == 1
    assert seller["top_consumers"] == [
        {"consumer": "old", "calls": 2, "usdc": "0.000950"},  # ties on usdc: more calls first
        {"consumer": "new-at-start", "calls": 1, "usdc": "0.000950"},
    ]
    # With --api a, "old" is new too: its first call to a lies in the window.
    only_a = store.compute(path, NOW, "7d", "a")["view"]
    assert only_a["api"] == "a" and only_a["seller"]["new_consumers"] == 2
    assert [r["api_id"] for r in only_a["seller"]["breakdown"]] == ["a"]
    assert only_a["seller"]["breakdown"][0]["api_name"] == "A"


def test_top_consumers_order_and_limit(store):
    for i in range(12):
        store.call(NOW - HOUR, role="seller", consumer=f"c{i:02d}", price_micro=1000 * (i % 3))
    top = snap(store, NOW, "24h")["view"]["seller"]["top_consumers"]
    assert len(top) == 10
    assert [t["consumer"] for t in top] == ["c02", "c05", "c08", "c11", "c01", "c04", "c07", "c10", "c00", "c03"]


def test_an_api_filter_that_matches_nothing(store):
    store.call(NOW - HOUR, role="seller", consumer="x").call(NOW - HOUR)
    snapshot = snap(store, NOW, "30d", "no-such-api")
    view = snapshot["view"]
    nothing = {
        "calls": 0,
        "success_rate": None,
        "avg_latency_ms": None,
        "p50_latency_ms": None,
        "p95_latency_ms": None,
        "p99_latency_ms": None,
        "usdc": "0.000000",
    }
    for role in ("buyer", "seller"):
        section = view[role]
        assert {k: section[k] for k in nothing} == nothing
        assert section["previous"] == nothing
        assert section["breakdown"] == []
        assert len(section["series"]) == 30 and not any(b["success"] or b["error"] for b in section["series"])
    assert (view["seller"]["consumers"], view["seller"]["new_consumers"], view["seller"]["top_consumers"]) == (0, 0, [])
    assert snapshot["seller"]["calls_24h"] == 1  # the filter limits the view only


def test_api_without_range_is_a_usage_error(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    done = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "snapshot", "--db", str(path), "--api", "x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2 and "--api needs --range" in done.stderr
    with cc.open_store(path) as store, pytest.raises(ValueError, match="api needs a range"):
        store.snapshot(NOW, api="x")


# -- properties ------------------------------------------------------------------

latencies = st.lists(
    st.one_of(
        st.just(0.0),
        st.floats(0, 10, allow_nan=False),
        st.floats(0, 1e7, allow_nan=False),  # heavy tails
        st.sampled_from([1.0, 100.0, 250.5]),  # ties
        st.floats(1e-6, 1e-3),
    ),
    min_size=1,
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(values=latencies)
def test_sketch_percentiles_stay_within_1_percent_of_exact(values):
    calls = pl.LazyFrame({"role": ["buyer"] * len(values), "latency_ms": values})
    exact = sketch.exact_percentiles(calls).collect().row(0)[1:]
    by = ("role",)
    halves = [sketch.sketch(calls.slice(0, len(values) // 2), by), sketch.sketch(calls.slice(len(values) // 2), by)]
    merged = sketch.merge_sketches(*halves, by=("role",))
    approx = sketch.sketch_percentiles(merged, by=("role",)).collect().row(0)[1:]
    ordered = sorted(values)
    for nn, e, a in zip(sketch.PERCENTILES, exact, approx, strict=True):
        assert e == ordered[math.ceil(nn / 100 * len(values)) - 1]
        assert abs(a - e) <= 0.01 * e, (nn, e, a)


RANGES = ("1h", "24h", "7d", "30d", "90d")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), range_name=st.sampled_from(RANGES), use_api=st.booleans())
def test_ranged_views_equal_the_reference(case, range_name, use_api):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        case.spec.write(path)
        api = "api-a" if use_api else None
        expected = reference_snapshot(path, case.now_ms, case.events, range_name, api)
        with cc.open_store(path) as store:
            actual = store.snapshot(now=case.now_ms, events=case.events, range=range_name, api=api).to_dict()
        # The parts views.md adds to (the rest is test_snapshot_property's).
        mine = ("buyer", "seller", "view")
        assert_snapshots_equal({k: actual[k] for k in mine}, {k: expected[k] for k in mine})


call = st.fixed_dictionaries(
    {
        # A few instants often: names tied in one millisecond, within a refresh, across refreshes and the horizon.
        "ts_ms": st.one_of(st.integers(NOW - 200 * DAY, NOW + 20 * DAY), st.sampled_from([NOW - 20 * DAY, NOW - DAY])),
        "role": st.sampled_from(["buyer", "seller", "seller"]),
        "api_id": st.sampled_from(["a", "b"]),
        "api_name": st.sampled_from([None, "Alpha", "Beta", "Gamma"]),
        "status_code": st.sampled_from([200, 502]),
        "latency_ms": st.one_of(st.none(), st.floats(0, 5000)),
        "price_micro": st.integers(0, 10_000),
        "consumer": st.sampled_from([None, "c1", "c2", "c3"]),
    }
)


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(
        st.tuples(
            st.lists(call, max_size=20),
            st.integers(-5 * DAY, 15 * DAY),
            st.sampled_from((None, *RANGES)),
            st.sampled_from([None, "a"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_incremental_ranged_snapshots_equal_from_scratch_ones(steps):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        create_store(path)
        con = sqlite3.connect(path)
        store = cc.open_store(path, cache=False)
        n = 0
        try:
            for rows, shift, range_name, api in steps:
                for row in rows:
                    n += 1
                    con.execute(
                        "INSERT INTO calls (request_id, ts_ms, role, api_id, api_name, status_code, latency_ms,"
                        " price_micro, revenue_micro, consumer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            f"r{n * 7919 % 10007:05}",  # unique, not in the rows' order
                            row["ts_ms"],
                            row["role"],
                            row["api_id"],
                            row["api_name"],
                            row["status_code"],
                            row["latency_ms"],
                            row["price_micro"],
                            row["price_micro"] * 95 // 100,
                            row["consumer"],
                        ),
                    )
                con.commit()
                api = api if range_name else None
                with cc.open_store(path, cache=False) as fresh:
                    expected = fresh.snapshot(now=NOW + shift, range=range_name, api=api).to_dict()
                actual = store.snapshot(now=NOW + shift, range=range_name, api=api).to_dict()
                assert_snapshots_equal(actual, expected)
        finally:
            store.close()
            con.close()
