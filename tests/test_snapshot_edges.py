"""Both implementations of metrics.md against hand-computed values on the spec's edges.

Every case runs twice: on ``ccanalytics`` and on the naive ``reference.py``
(the yardstick the property tests measure the package with), so the edges of
``metrics.md`` and of the documented decisions are pinned with literal numbers
worked out by hand, for both.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import tempfile
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import ccanalytics as cc
from ccanalytics.errors import StoreError
from tests.support.reference import assert_snapshots_equal, reference_snapshot
from tests.support.stores import StoreBuilder, cases, dst_transitions

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
SECOND = 1000
HOUR = 3_600_000
DAY = 86_400_000
WEEK = 604_800_000
THIRTY_DAYS = 2_592_000_000


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


# Keys ccanalytics adds to the snapshot beyond metrics.md ("more keys may be added").
EXTRA_KEYS = {(): ("panel_url", "last_backup", "reconciliation"), ("balances",): ("note",), ("banners",): ("low_gas",)}


def package_snapshot(path: str, now: int, events: int = 50) -> dict:
    with cc.open_store(path) as store:
        snapshot = store.snapshot(now=now, events=events).to_dict()
    for where, keys in EXTRA_KEYS.items():
        part = snapshot
        for key in where:
            part = part[key]
        for key in keys:
            del part[key]
    return snapshot


IMPLEMENTATIONS = {"ccanalytics": package_snapshot, "reference": reference_snapshot}


@pytest.fixture(params=list(IMPLEMENTATIONS))
def implementation(request):
    return IMPLEMENTATIONS[request.param]


@pytest.fixture
def store(tmp_path, implementation):
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.compute = implementation
    return builder


def snap(builder: StoreBuilder, now: int = NOW, events: int = 50) -> dict:
    return builder.compute(builder.write(), now, events)


NO_PREVIOUS_24H = {"calls": 0, "success_rate": None, "avg_latency_ms": None, "p95_latency_ms": None, "usdc": "0.000000"}


def test_an_empty_store(store):
    snapshot = snap(store)
    buyer_rate = snapshot["buyer"].pop("call_rate")
    seller_rate = snapshot["seller"].pop("call_rate")
    assert snapshot == {
        "now": "2026-11-25T12:00:00Z",
        "timezone": "UTC",
        "mode": "buyer",
        "uptime_s": None,
        "balances": {"usdc": None, "eth": None, "source": "none", "as_of": None},
        "buyer": {
            "calls_24h": 0,
            "success_rate_24h": None,
            "avg_latency_ms_24h": None,
            "p50_latency_ms_24h": None,
            "p95_latency_ms_24h": None,
            "p99_latency_ms_24h": None,
            "previous_24h": NO_PREVIOUS_24H,
            "spent_24h_usdc": "0.000000",
            "total_calls": 0,
            "total_spent_usdc": "0.000000",
            "breakdown": [],
        },
        "seller": {
            "calls_24h": 0,
            "success_rate_24h": None,
            "avg_latency_ms_24h": None,
            "p50_latency_ms_24h": None,
            "p95_latency_ms_24h": None,
            "p99_latency_ms_24h": None,
            "previous_24h": NO_PREVIOUS_24H,
            "previous_7d": {"calls": 0, "usdc": "0.000000"},
            "revenue_24h_usdc": "0.000000",
            "calls_7d": 0,
            "revenue_7d_usdc": "0.000000",
            "breakdown": [],
        },
        "events": [],
        "banners": {"auto_pause": False, "backup_overdue": True, "empty_state": True},
        "data_issues": [],
        "alerts": [
            {"rule": "low_usdc", "firing": False, "level": "panel", "value": None, "threshold": "1.000000",
             "message": "USDC balance unknown"},
            {"rule": "low_gas", "firing": False, "level": "panel", "value": None,
             "threshold": "0.000500000000000000", "message": "ETH balance unknown"},
            {"rule": "auto_pause", "firing": False, "level": "panel", "value": None, "threshold": "1.000000",
             "message": "API serving not paused"},
            {"rule": "backup_overdue", "firing": True, "level": "panel", "value": None, "threshold": 2_592_000_000,
             "message": "No backup yet"},
            {"rule": "error_spike", "firing": False, "level": "panel", "value": 0, "threshold": 5,
             "message": "0 errors in the last 5 min"},
        ],
        "runway": {"usdc_days": None, "spend_per_day_usdc": None, "eth_days": None, "gas_per_day_eth": None},
    }  # fmt: skip
    assert buyer_rate == seller_rate
    assert len(buyer_rate) == 48
    assert buyer_rate[0] == {"hour": "2026-11-23T13:00:00Z", "success": 0, "error": 0, "spike": False}
    assert buyer_rate[-1] == {"hour": "2026-11-25T12:00:00Z", "success": 0, "error": 0, "spike": False}


def test_the_24h_window_is_half_open(store):
    store.call(NOW - DAY - 1, price_micro=1)  # just outside: only in the totals
    store.call(NOW - DAY, price_micro=10)  # exactly now - 24h: in
    store.call(NOW - 1, price_micro=100)  # in
    store.call(NOW, price_micro=1000)  # does not exist yet
    store.call(NOW + 1, price_micro=10000)
    buyer = snap(store)["buyer"]
    assert (buyer["calls_24h"], buyer["spent_24h_usdc"]) == (2, "0.000110")
    assert (buyer["total_calls"], buyer["total_spent_usdc"]) == (3, "0.000111")


def test_the_7d_window_and_seller_revenue(store):
    store.call(NOW - WEEK - 1, role="seller", revenue_micro=1)
    store.call(NOW - WEEK, role="seller", revenue_micro=10)
    store.call(NOW - DAY - 1, role="seller", revenue_micro=100, status_code=502)
    store.call(NOW - DAY, role="seller", revenue_micro=1000, status_code=200)
    store.call(NOW - 1, role="seller", revenue_micro=10000, status_code=504)
    store.call(NOW - 1, role="buyer", revenue_micro=777)  # a buyer's revenue is ignored
    seller = snap(store)["seller"]
    assert seller["calls_24h"] == 2
    assert seller["success_rate_24h"] == 0.5
    assert seller["revenue_24h_usdc"] == "0.011000"
    assert (seller["calls_7d"], seller["revenue_7d_usdc"]) == (4, "0.011110")


def test_success_rate_and_mean_latency_of_the_day(store):
    for status, latency in [(200, 100.0), (299, None), (300, 300), (199, 0), (502, 50.5)]:
        store.call(NOW - HOUR, status_code=status, latency_ms=latency)
    store.call(NOW - DAY - 1, status_code=200, latency_ms=10_000.0)  # yesterday's call
    buyer = snap(store)["buyer"]
    assert buyer["calls_24h"] == 5
    assert buyer["success_rate_24h"] == 0.4
    assert buyer["avg_latency_ms_24h"] == (100 + 300 + 0 + 50.5) / 4
    assert buyer["breakdown"][0]["avg_latency_ms"] == (100 + 300 + 0 + 50.5 + 10_000) / 5


def test_demo_calls_count_as_calls(store):
    store.call(NOW - HOUR, demo=1, price_micro=0)
    store.call(NOW - HOUR, role="seller", demo=1, price_micro=0, revenue_micro=0)
    snapshot = snap(store)
    assert snapshot["buyer"]["calls_24h"] == snapshot["seller"]["calls_24h"] == 1
    assert snapshot["banners"]["empty_state"] is False


def test_future_rows_are_ignored_everywhere_even_when_bad(store):
    store.call(NOW, role="nobody", status_code=600)  # future and bad: not even an issue
    store.call(NOW + DAY, role="seller")
    store.call("yesterday")  # a time that is not an integer is always an issue
    store.event(NOW, type="startup")
    store.event(NOW + 5, severity="critical")
    store.balance(NOW, usdc_micro=5, eth_wei="1")
    store.backup(NOW)
    snapshot = snap(store)
    assert snapshot["buyer"]["total_calls"] == snapshot["seller"]["calls_7d"] == 0
    assert (snapshot["events"], snapshot["uptime_s"]) == ([], None)
    assert snapshot["balances"]["source"] == "none"
    assert snapshot["banners"] == {"auto_pause": False, "backup_overdue": True, "empty_state": True}
    assert snapshot["data_issues"] == [{"table": "calls", "rule": "ts_ms is not an integer", "rows": 1}]


def test_now_with_milliseconds(store):
    store.call(NOW + 122).call(NOW + 123)
    snapshot = snap(store, now=NOW + 123)
    assert snapshot["now"] == "2026-11-25T12:00:00.123Z"
    last = {"hour": "2026-11-25T12:00:00Z", "success": 1, "error": 0, "spike": False}
    assert snapshot["buyer"]["call_rate"][-1] == last


def test_buckets_in_kathmandu_start_at_a_quarter_past(store):
    store.setting("timezone", "Asia/Kathmandu")  # +05:45
    store.call(ms("2026-11-25T11:15:00Z"))
    store.call(ms("2026-11-25T11:14:59.999Z"), status_code=500)
    store.call(ms("2026-11-23T12:14:59.999Z"))  # before the first bucket
    snapshot = snap(store)
    rate = snapshot["buyer"]["call_rate"]
    assert snapshot["timezone"] == "Asia/Kathmandu"
    assert rate[0] == {"hour": "2026-11-23T12:15:00Z", "success": 0, "error": 0, "spike": False}
    assert rate[-2] == {"hour": "2026-11-25T10:15:00Z", "success": 0, "error": 1, "spike": False}
    assert rate[-1] == {"hour": "2026-11-25T11:15:00Z", "success": 1, "error": 0, "spike": False}
    assert sum(b["success"] + b["error"] for b in rate) == 2


def test_a_berlin_dst_night_repeats_no_bucket(store):
    # 2026-10-25 03:00 CEST becomes 02:00 CET at 01:00Z: local 02:10 happens twice.
    assert ms("2026-10-25T01:00:00Z") in dst_transitions("Europe/Berlin")
    now = ms("2026-10-25T01:30:00Z")
    store.setting("timezone", "Europe/Berlin")
    store.call(ms("2026-10-25T00:10:00Z"))  # 02:10 CEST
    store.call(ms("2026-10-25T01:10:00Z"))  # 02:10 CET
    rate = snap(store, now=now)["buyer"]["call_rate"]
    hours = [b["hour"] for b in rate]
    assert hours[-3:] == ["2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"]
    assert [b["success"] for b in rate[-3:]] == [0, 1, 1]
    assert len(set(hours)) == 48
    assert hours[0] == "2026-10-23T02:00:00Z"


def test_lord_howe_half_hour_dst_moves_the_buckets(store):
    # DST ends 2026-04-04T15:00Z: +11:00 before (buckets on the hour), +10:30 after.
    store.setting("timezone", "Australia/Lord_Howe")
    store.call(ms("2026-04-04T15:29:59.999Z")).call(ms("2026-04-04T15:30:00Z"))
    path = store.write()
    before = store.compute(path, ms("2026-04-04T14:50:00Z"))["buyer"]["call_rate"]
    after = store.compute(path, ms("2026-04-04T16:10:00Z"))["buyer"]["call_rate"]
    assert before[-1]["hour"] == "2026-04-04T14:00:00Z"
    assert [(b["hour"], b["success"]) for b in after[-2:]] == [
        ("2026-04-04T14:30:00Z", 1),
        ("2026-04-04T15:30:00Z", 1),
    ]


def test_an_invalid_time_zone_falls_back_to_utc_and_is_reported(store):
    store.setting("timezone", "Mars/Olympus_Mons")
    snapshot = snap(store, now=NOW + 30 * 60_000)
    assert snapshot["timezone"] == "UTC"
    assert snapshot["buyer"]["call_rate"][-1]["hour"] == "2026-11-25T12:00:00Z"
    assert snapshot["data_issues"] == [{"table": "settings", "rule": "timezone is not a known time zone", "rows": 1}]


def test_breakdown_order_is_calls_descending_then_api_id(store):
    for api_id, n in [("zeta", 3), ("alpha", 1), ("Beta", 1), ("gamma", 3)]:
        for _ in range(n):
            store.call(NOW - HOUR, api_id=api_id)
    store.call(NOW - HOUR, role="seller", api_id="solo", price_micro=1000, revenue_micro=950)
    store.call(NOW - HOUR, role="seller", api_id="solo", status_code=502, price_micro=0, revenue_micro=0)
    snapshot = snap(store)
    assert [(r["api_id"], r["calls"]) for r in snapshot["buyer"]["breakdown"]] == [
        ("gamma", 3),
        ("zeta", 3),
        ("Beta", 1),  # "B" sorts before "a"
        ("alpha", 1),
    ]
    assert snapshot["seller"]["breakdown"] == [
        {
            "api_id": "solo",
            "api_name": "solo",
            "calls": 2,
            "success": 1,
            "errors": 1,
            "usdc": "0.000950",
            "avg_latency_ms": 100.0,
            "p95_latency_ms": pytest.approx(100.0, rel=0.01),  # views.md: within 1 %
            "success_rate": 0.5,
        }
    ]


def test_breakdown_names(store):
    store.api("b", name="Registered B", active=0)  # registered wins, active or not
    store.call(NOW - HOUR, api_id="b", api_name="Old B")
    # "a": the latest named call of either role; on equal times the greater request_id.
    store.call(NOW - 3 * HOUR, role="seller", api_id="a", api_name="A old")
    store.call(NOW - 2 * HOUR, api_id="a", api_name="A ten", request_id="r10")
    store.call(NOW - 2 * HOUR, role="seller", api_id="a", api_name="A nine", request_id="r9")
    store.call(NOW - HOUR, api_id="a", api_name=None)  # no name: skipped
    store.call(NOW - HOUR, api_id="a", api_name=b"blob")  # not text: skipped
    store.call(NOW - HOUR, api_id="a", api_name="Bad", status_code=600)  # a bad row: skipped
    store.call(NOW + HOUR, api_id="a", api_name="Future")  # not yet: skipped
    store.call(NOW - HOUR, api_id="c")  # never named
    store.api("d", name=b"not text")  # a bad apis row does not name "d"
    store.call(NOW - HOUR, api_id="d", api_name="D from a call")
    snapshot = snap(store)
    names = {r["api_id"]: r["api_name"] for r in snapshot["buyer"]["breakdown"]}
    assert names == {"a": "A nine", "b": "Registered B", "c": "c", "d": "D from a call"}
    assert snapshot["seller"]["breakdown"][0]["api_name"] == "A nine"


def test_data_issues_count_each_row_under_its_first_broken_rule(store):
    store.call(NOW - HOUR)  # good
    store.call(NOW - HOUR, role="nobody", status_code=600)  # role comes first
    store.call(NOW - HOUR, status_code=600)
    store.call("yesterday", role="nobody")  # ts_ms before role
    store.call(NOW + HOUR, request_id=b"blob", role="nobody")  # future: not counted
    store.call(NOW - HOUR, request_id="")
    store.call(NOW - HOUR, api_id="")
    store.call(NOW - HOUR, latency_ms=-1.0)
    store.call(NOW - HOUR, latency_ms=float("inf"))
    store.call(NOW - HOUR, price_micro=-1, revenue_micro=-1)  # price first
    store.call(NOW - HOUR, revenue_micro=-5)  # any role
    store.call(NOW - HOUR, demo=2)
    store.call(NOW - HOUR, status_code=200.5)  # a real
    store.event(NOW - HOUR, severity="critical")
    store.event(NOW - HOUR, message=b"blob")
    store.event(NOW - HOUR, type="")
    store.event(NOW - HOUR, message="")  # an empty message is fine
    store.api("x", price_micro=-1)
    store.api("y", active=2)
    store.balance(NOW - HOUR, eth_wei="1.5")
    store.balance(NOW - HOUR, eth_wei="9" * 79)
    store.balance(NOW - HOUR, usdc_micro=-1, eth_wei="x")
    store.backup(NOW - HOUR, size_bytes=-1)
    store.backup(NOW - HOUR, size_bytes=None)  # fine
    store.setting("auto_pause_enabled", "yes").setting("chain_id", "0").setting("panel_url", "ftp://x")
    snapshot = snap(store)
    assert snapshot["data_issues"] == [
        {"table": "calls", "rule": "request_id is missing", "rows": 1},
        {"table": "calls", "rule": "ts_ms is not an integer", "rows": 1},
        {"table": "calls", "rule": "role is not buyer or seller", "rows": 1},
        {"table": "calls", "rule": "api_id is missing", "rows": 1},
        {"table": "calls", "rule": "status_code outside 100..599", "rows": 2},
        {"table": "calls", "rule": "latency_ms is negative or not a number", "rows": 2},
        {"table": "calls", "rule": "price_micro is negative or not an integer", "rows": 1},
        {"table": "calls", "rule": "revenue_micro is negative or not an integer", "rows": 1},
        {"table": "calls", "rule": "demo is not 0 or 1", "rows": 1},
        {"table": "events", "rule": "type is missing", "rows": 1},
        {"table": "events", "rule": "severity is not info, warning or error", "rows": 1},
        {"table": "events", "rule": "message is missing", "rows": 1},
        {"table": "apis", "rule": "price_micro is negative or not an integer", "rows": 1},
        {"table": "apis", "rule": "active is not 0 or 1", "rows": 1},
        {"table": "balance_snapshots", "rule": "usdc_micro is negative or not an integer", "rows": 1},
        {"table": "balance_snapshots", "rule": "eth_wei is not a decimal number", "rows": 2},
        {"table": "backups", "rule": "size_bytes is negative or not an integer", "rows": 1},
        {"table": "settings", "rule": "chain_id is not an integer", "rows": 1},
        {"table": "settings", "rule": "auto_pause_enabled is not 0 or 1", "rows": 1},
        {"table": "settings", "rule": "panel_url is not an http(s) URL", "rows": 1},
    ]
    assert snapshot["buyer"]["total_calls"] == 1
    assert len(snapshot["events"]) == 1
    assert snapshot["balances"]["source"] == "none"
    assert snapshot["banners"]["backup_overdue"] is False


def test_values_are_judged_by_their_storage_class(store):
    store.loose("calls", "events")  # untyped columns keep every value's class
    store.call(NOW - HOUR, request_id="ok-int-latency", latency_ms=7)
    store.call(NOW - HOUR, request_id="ok-null-latency", latency_ms=None)
    store.call(str(NOW - HOUR))  # text digits in ts_ms
    store.call(float(NOW - HOUR))  # an integral real in ts_ms
    store.call(NOW - HOUR, status_code=200.0)
    store.call(NOW - HOUR, status_code="200")
    store.call(NOW - HOUR, latency_ms="12.5")
    store.call(NOW - HOUR, role=None)
    store.call(NOW - HOUR, demo="1")
    store.event(NOW - HOUR, id=1).event(NOW - HOUR, id="e2").event(NOW - HOUR, id=None)
    store.event(NOW - HOUR, id=4, type=5)
    snapshot = snap(store)
    assert snapshot["buyer"]["total_calls"] == 2
    assert snapshot["buyer"]["avg_latency_ms_24h"] == 7.0
    assert snapshot["data_issues"] == [
        {"table": "calls", "rule": "ts_ms is not an integer", "rows": 2},
        {"table": "calls", "rule": "role is not buyer or seller", "rows": 1},
        {"table": "calls", "rule": "status_code outside 100..599", "rows": 2},
        {"table": "calls", "rule": "latency_ms is negative or not a number", "rows": 1},
        {"table": "calls", "rule": "demo is not 0 or 1", "rows": 1},
        {"table": "events", "rule": "id is not an integer", "rows": 2},
        {"table": "events", "rule": "type is missing", "rows": 1},
    ]


def test_the_standard_schema_converts_numeric_text_before_anyone_judges_it(store):
    # INTEGER affinity stores '200' as the integer 200: the row is good.
    store.call(NOW - HOUR, status_code="200")
    path = store.write()
    with closing(sqlite3.connect(path)) as con:
        (kind,) = con.execute("SELECT typeof(status_code) FROM calls").fetchone()
    assert kind == "integer"
    assert store.compute(path, NOW)["buyer"]["total_calls"] == 1


@pytest.mark.parametrize(
    ("backups", "overdue"),
    [
        ([], True),
        ([NOW - THIRTY_DAYS], False),  # exactly 30 days old
        ([NOW - THIRTY_DAYS - 1], True),
        ([NOW - THIRTY_DAYS - 1, NOW - DAY], False),
        ([NOW], True),  # not made yet
        (["last week"], True),  # bad
    ],
)
def test_backup_overdue(store, backups, overdue):
    for ts in backups:
        store.backup(ts)
    assert snap(store)["banners"]["backup_overdue"] is overdue


def test_the_latest_balance_snapshot_wins_and_ties_go_to_the_later_row(store):
    store.balance(NOW - HOUR, usdc_micro=1, eth_wei="1")
    store.balance(NOW - 2 * HOUR, usdc_micro=2, eth_wei="2")
    store.balance(NOW - HOUR + 1, usdc_micro=12_500_000, eth_wei="4200000000000000")
    store.balance(NOW - HOUR + 1, usdc_micro=9_007_199_254_740_993, eth_wei="9" * 78)
    store.balance(NOW - 1, usdc_micro=5, eth_wei="0x10")  # bad
    store.balance(NOW, usdc_micro=6, eth_wei="6")  # not yet
    assert snap(store)["balances"] == {
        "usdc": "9007199254.740993",
        "eth": "9" * 60 + "." + "9" * 18,
        "source": "snapshot",
        "as_of": "2026-11-25T11:00:00.001Z",
    }


def test_an_integer_eth_balance_is_a_decimal_number(store):
    store.loose("balance_snapshots")  # a TEXT column would turn the integer into text
    store.balance(NOW - HOUR, usdc_micro=12_500_000, eth_wei=4_200_000_000_000_000)
    assert snap(store)["balances"] == {
        "usdc": "12.500000",
        "eth": "0.004200000000000000",
        "source": "snapshot",
        "as_of": "2026-11-25T11:00:00Z",
    }


@pytest.mark.parametrize(
    ("settings_", "usdc_micro", "auto_pause"),
    [
        ({}, 999_999, True),  # default threshold 1 USDC, enabled
        ({}, 1_000_000, False),  # not below
        ({"auto_pause_enabled": "0"}, 0, False),
        ({"low_usdc_threshold_micro": "0"}, 0, False),
        ({"low_usdc_threshold_micro": "5"}, 4, True),
        ({"low_usdc_threshold_micro": "-5"}, 999_999, True),  # invalid: the default applies
        ({"auto_pause_enabled": None}, 0, True),  # NULL = absent
        ({}, None, False),  # balance unknown
    ],
)
def test_auto_pause(store, settings_, usdc_micro, auto_pause):
    for key, value in settings_.items():
        store.setting(key, value)
    if usdc_micro is not None:
        store.balance(NOW - HOUR, usdc_micro=usdc_micro, eth_wei="1")
    assert snap(store)["banners"]["auto_pause"] is auto_pause


@pytest.mark.parametrize(
    ("balance", "calls", "empty"),
    [
        (None, [], True),
        ((0, "0"), [], True),
        ((0, "000"), [], True),
        ((0, "1"), [], False),
        ((1, "0"), [], False),
        ((0, "0"), [NOW], True),  # a future call is no call
        ((0, "0"), [NOW - DAY * 30], False),  # an old call is a call
        (None, ["noon"], True),  # a bad call is no call
    ],
)
def test_empty_state(store, balance, calls, empty):
    if balance:
        store.balance(NOW - HOUR, usdc_micro=balance[0], eth_wei=balance[1])
    for ts in calls:
        store.call(ts, role="seller")
    assert snap(store)["banners"]["empty_state"] is empty


def test_mode(tmp_path, implementation):
    names = itertools.count()

    def mode(build) -> str:
        return implementation(build(StoreBuilder(str(tmp_path / f"{next(names)}.db"))).write(), NOW)["mode"]

    assert mode(lambda s: s.api("a").call(NOW - HOUR, role="seller")) == "seller"
    assert mode(lambda s: s.api("a").call(NOW - HOUR, role="buyer")) == "buyer"
    assert mode(lambda s: s.call(NOW - HOUR, role="seller")) == "buyer"
    assert mode(lambda s: s.api("a", price_micro=-1).call(NOW - HOUR, role="seller")) == "buyer"
    assert mode(lambda s: s.api("a").call(NOW, role="seller")) == "buyer"
    assert mode(lambda s: s.api("elsewhere").call(NOW - HOUR, role="seller", api_id="a")) == "seller"


def test_events_newest_first_ties_by_higher_id_and_uptime(store):
    store.event(NOW - 2 * HOUR, id=10, type="startup", message="first start")
    store.event(NOW - 1500, id=3, type="startup", message="second start")
    store.event(NOW - 1500, id=7, type="catalog_sync", message="synced")
    store.event(NOW - 1000, id=1, type="Startup", severity="warning", message="not a startup")
    store.event(NOW, id=99, type="startup", message="not yet")
    snapshot = snap(store, events=3)
    assert snapshot["uptime_s"] == 1  # 1.5 s, whole seconds
    assert snapshot["events"] == [
        {"ts": "2026-11-25T11:59:59Z", "type": "Startup", "severity": "warning", "message": "not a startup"},
        {"ts": "2026-11-25T11:59:58.500Z", "type": "catalog_sync", "severity": "info", "message": "synced"},
        {"ts": "2026-11-25T11:59:58.500Z", "type": "startup", "severity": "info", "message": "second start"},
    ]
    path = store.path
    assert store.compute(path, NOW, 0)["events"] == []
    assert len(store.compute(path, NOW, 50)["events"]) == 4


def test_an_event_before_1970(store):
    store.event(-1, type="error", severity="error", message="clock")
    assert snap(store)["events"][0]["ts"] == "1969-12-31T23:59:59.999Z"


def test_optional_columns_and_tables(store):
    store.drop_columns("calls", "price_micro", "latency_ms", "demo")
    store.drop_columns("apis", "active")
    store.drop_columns("events", "message")
    store.absent("backups", "settings")
    store.call(NOW - HOUR, role="seller", api_id="a", revenue_micro=5)
    store.call(NOW - HOUR, role="buyer", api_id="a")
    store.api("a", name="Registered")
    store.event(NOW - HOUR).event(NOW + HOUR)  # the future row counts too: the table is unreadable
    snapshot = snap(store)
    assert snapshot["mode"] == "seller"  # active defaults to 1 (and does not matter anyway)
    assert snapshot["buyer"]["breakdown"] == [
        {
            "api_id": "a",
            "api_name": "Registered",
            "calls": 1,
            "success": 1,
            "errors": 0,
            "usdc": "0.000000",
            "avg_latency_ms": None,
            "p95_latency_ms": None,
            "success_rate": 1.0,
        }
    ]
    assert snapshot["seller"]["revenue_24h_usdc"] == "0.000005"
    assert snapshot["events"] == []
    assert snapshot["data_issues"] == [{"table": "events", "rule": "lacks column message", "rows": 2}]


@pytest.mark.parametrize("odd", ["view", "without rowid", "loose without rowid"])
def test_views_and_tables_without_rowid_are_read(store, odd):
    if odd == "view":
        store.view("calls", "events", "balance_snapshots")
    else:
        store.without_rowid("calls", "apis")
        if odd.startswith("loose"):
            store.loose("calls", "apis")
    store.call(NOW - HOUR, api_id="a", role="seller").call(NOW - 1, status_code=600).api("a", name="A", active=1)
    store.event(NOW - HOUR).balance(NOW - HOUR, usdc_micro=1, eth_wei="2").balance(NOW - HOUR, usdc_micro=3)
    snapshot = snap(store)
    assert snapshot["seller"]["breakdown"][0]["api_name"] == "A"
    assert snapshot["mode"] == "seller"
    assert snapshot["uptime_s"] == 3600
    # Without a rowid, the later row of a tie is the later one in the scan.
    assert snapshot["balances"]["usdc"] == "0.000003"
    assert snapshot["data_issues"] == [{"table": "calls", "rule": "status_code outside 100..599", "rows": 1}]


def test_refused_stores(tmp_path, implementation):
    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello, I am not a database\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        implementation(str(not_sqlite), NOW)

    no_calls = StoreBuilder(str(tmp_path / "no-calls.db")).absent("calls").write()
    with pytest.raises(StoreError, match="no calls table"):
        implementation(no_calls, NOW)

    no_status = StoreBuilder(str(tmp_path / "no-status.db")).drop_columns("calls", "status_code").write()
    with pytest.raises(StoreError, match="lacks column status_code"):
        implementation(no_status, NOW)


def test_the_store_is_not_modified(store):
    path = store.call(NOW - HOUR).write()
    before = Path(path).read_bytes()
    store.compute(path, NOW)
    assert Path(path).read_bytes() == before


def test_assert_snapshots_equal_names_the_first_difference():
    expected = {"seller": {"breakdown": [{"usdc": "0.1"}, {"usdc": "0.2"}, {"usdc": "0.3"}]}}
    actual = {"seller": {"breakdown": [{"usdc": "0.1"}, {"usdc": "0.2"}, {"usdc": "0.4"}]}, "more": 1}
    with pytest.raises(AssertionError, match=r"^seller\.breakdown\[2\]\.usdc: expected '0.3', got '0.4'$"):
        assert_snapshots_equal(actual, expected)
    assert_snapshots_equal({"x": 0.1 + 0.2, "y": None}, {"x": 0.3, "y": None})
    for wrong in ({"x": 1}, {"x": 1.01}, {"x": None}, {}):
        with pytest.raises(AssertionError, match=r"^x"):
            assert_snapshots_equal(wrong, {"x": 1.0})
    with pytest.raises(AssertionError, match=r"^a: expected 2 items, got 1$"):
        assert_snapshots_equal({"a": [1]}, {"a": [1, 2]})
    with pytest.raises(AssertionError, match="expected bool"):
        assert_snapshots_equal({"b": 1}, {"b": True})


@pytest.mark.slow
@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_the_reference_reads_every_generated_store(case):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        case.spec.write(path)
        snapshot = reference_snapshot(path, case.now_ms, case.events)
    for role in ("buyer", "seller"):
        rate = snapshot[role]["call_rate"]
        assert len(rate) == 48
        starts = [ms(b["hour"].replace("Z", "+00:00")) for b in rate]
        assert all(b - a == HOUR for a, b in itertools.pairwise(starts))
        assert starts[-1] <= case.now_ms < starts[-1] + HOUR
        breakdown = snapshot[role]["breakdown"]
        assert all(r["calls"] == r["success"] + r["errors"] for r in breakdown)
    assert sum(r["calls"] for r in snapshot["buyer"]["breakdown"]) == snapshot["buyer"]["total_calls"]
    assert len(snapshot["events"]) <= case.events
