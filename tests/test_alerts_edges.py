"""alerts.md's rules, spike flags and runway on hand-computed edges, on the package and the reference.

Every case runs on ``ccanalytics`` and on the naive ``reference.py``, like
``test_snapshot_edges.py``; the numbers are worked out by hand from alerts.md.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.reference import reference_snapshot
from tests.support.stores import StoreBuilder
from tests.test_snapshot_edges import package_snapshot

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
SECOND = 1000
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
WEEK = 604_800_000
W = 300_000  # the default error_spike_window_ms

IMPLEMENTATIONS = {"ccanalytics": package_snapshot, "reference": reference_snapshot}


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


@pytest.fixture(params=list(IMPLEMENTATIONS))
def store(tmp_path, request):
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.compute = IMPLEMENTATIONS[request.param]
    return builder


def snap(builder: StoreBuilder, now: int = NOW) -> dict:
    return builder.compute(builder.write(), now, 50)


def rule(snapshot: dict, name: str) -> dict:
    return next(a for a in snapshot["alerts"] if a["rule"] == name)


def spikes(snapshot: dict, role: str = "buyer") -> dict[str, bool]:
    """The hours whose bucket is marked (hour → True)."""
    return {b["hour"]: b["spike"] for b in snapshot[role]["call_rate"] if b["spike"]}


def errors(store: StoreBuilder, times: list[int], api_id: str = "bb-graphql", role: str = "buyer") -> None:
    for t in times:
        store.call(t, role=role, api_id=api_id, status_code=502)


# -- the error_spike rule -------------------------------------------------------------


def test_five_errors_in_the_window_are_not_a_spike(store):
    errors(store, [NOW - 60 * SECOND * k for k in range(1, 6)])
    store.call(NOW - SECOND)  # a success is no error
    alert = rule(snap(store), "error_spike")
    assert alert == {
        "rule": "error_spike",
        "firing": False,
        "level": "panel",
        "value": 5,
        "threshold": 5,
        "message": "5 errors in the last 5 min (bb-graphql 5)",
    }


def test_six_errors_of_both_roles_fire_and_name_each_api(store):
    errors(store, [NOW - 1, NOW - 2, NOW - 3, NOW - 4], api_id="bb-graphql")
    errors(store, [NOW - 5], api_id="wx-current", role="seller")
    errors(store, [NOW - 6], api_id="a-first")  # a tie at 1 error: api_id breaks it
    snapshot = snap(store)
    alert = rule(snapshot, "error_spike")
    assert (alert["firing"], alert["value"]) == (True, 6)
    assert alert["message"] == "6 errors in the last 5 min (bb-graphql 4, a-first 1, wx-current 1)"
    # Per role on the chart: the buyer's 5 errors are no spike, the seller's 1 neither.
    assert spikes(snapshot, "buyer") == {}
    assert spikes(snapshot, "seller") == {}


def test_an_error_exactly_at_now_minus_the_window_counts(store):
    errors(store, [NOW - W] + [NOW - MINUTE] * 5)
    errors(store, [NOW - W - 1, NOW, NOW + 1])  # just outside, and not yet
    alert = rule(snap(store), "error_spike")
    assert (alert["firing"], alert["value"]) == (True, 6)


def test_a_threshold_of_zero_fires_on_one_error(store):
    store.setting("error_spike_errors", "0").setting("error_spike_window_ms", "90000")
    errors(store, [NOW - 90 * SECOND])
    snapshot = snap(store)
    assert rule(snapshot, "error_spike") | {"level": None} == {
        "rule": "error_spike",
        "firing": True,
        "level": None,
        "value": 1,
        "threshold": 0,
        "message": "1 error in the last 90 s (bb-graphql 1)",
    }
    # The last bucket starts at now (12:00): it holds no instant yet, so no mark.
    assert spikes(snapshot) == {"2026-11-25T11:00:00Z": True}


def test_no_error_no_parenthesis(store):
    store.setting("error_spike_window_ms", "7200000")
    assert rule(snap(store), "error_spike")["message"] == "0 errors in the last 2 h"


# -- spike flags on the chart ---------------------------------------------------------


def test_a_spike_that_starts_in_one_bucket_and_ends_in_the_next(store):
    # Six errors from 10:58:00 to 10:58:50: the rule fires from just after 10:58:50
    # until 11:03:00 (when the 10:58:00 error leaves): both hours are marked.
    errors(store, [ms("2026-11-25T10:58:00Z") + 10 * SECOND * k for k in range(6)])
    assert spikes(snap(store)) == {"2026-11-25T10:00:00Z": True, "2026-11-25T11:00:00Z": True}


def test_the_next_bucket_is_marked_only_if_the_spike_lasts_into_it(store):
    # Six errors from 10:54:00 to 10:54:50: the first leaves at 10:59:00+, long before 11:00.
    errors(store, [ms("2026-11-25T10:54:00Z") + 10 * SECOND * k for k in range(6)])
    assert spikes(snap(store)) == {"2026-11-25T10:00:00Z": True}


def test_an_error_leaves_the_window_as_the_sixth_arrives(store):
    # An error at t counts for τ in (t, t + W]; five errors at t + W meet it only at
    # τ = t + W, where they themselves do not count yet (ts < τ): never six at once.
    t = ms("2026-11-25T10:30:00Z")
    errors(store, [t] + [t + W] * 5)
    snapshot = snap(store)
    assert spikes(snapshot) == {}


def test_one_millisecond_earlier_they_overlap(store):
    # ... whereas five errors at t + W − 1 all count, with t, at τ just after t + W − 1.
    t = ms("2026-11-25T10:30:00Z")
    errors(store, [t] + [t + W - 1] * 5)
    assert spikes(snap(store)) == {"2026-11-25T10:00:00Z": True}


def test_the_last_instant_before_now_counts(store):
    # The sixth error at now − 1 ms: just after it, and before now, six count.
    errors(store, [NOW - 10 * SECOND] * 5 + [NOW - 1])
    assert spikes(snap(store)) == {"2026-11-25T11:00:00Z": True}


def test_an_error_at_now_does_not_exist_yet(store):
    errors(store, [NOW - 10 * SECOND] * 5 + [NOW])
    snapshot = snap(store)
    assert spikes(snapshot) == {}
    assert rule(snapshot, "error_spike")["value"] == 5


def test_the_current_bucket_is_marked_by_what_fires_at_its_start(store):
    now = NOW + 30 * MINUTE
    errors(store, [NOW - 1] * 6)  # at 12:00:00 all six are in [11:55, 12:00)
    snapshot = snap(store, now)
    assert spikes(snapshot) == {"2026-11-25T11:00:00Z": True, "2026-11-25T12:00:00Z": True}
    assert rule(snapshot, "error_spike")["firing"] is False  # at 12:30 they are long gone


def test_a_bucket_boundary_instant_belongs_to_the_later_bucket(store):
    # Six errors at 10:59:59.999: the count is six on (10:59:59.999, 11:04:59.999],
    # so the 10:00 bucket sees it too (τ = 10:59:59.9995 < 11:00).
    errors(store, [ms("2026-11-25T10:59:59.999Z")] * 6)
    assert spikes(snap(store)) == {"2026-11-25T10:00:00Z": True, "2026-11-25T11:00:00Z": True}


def test_buckets_before_the_first_error_are_not_marked(store):
    errors(store, [ms("2026-11-25T11:00:00Z")] * 6)
    # At τ = 11:00:00 the six errors do not count yet (ts < τ); just after, they do.
    assert spikes(snap(store)) == {"2026-11-25T11:00:00Z": True}


def test_a_window_longer_than_the_chart_sees_older_errors(store):
    store.setting("error_spike_window_ms", str(3 * DAY))
    errors(store, [NOW - 50 * HOUR] * 6)  # before the first bucket (2026-11-23T13:00)
    snapshot = snap(store, NOW + 30 * MINUTE)
    assert len(spikes(snapshot)) == 48
    assert rule(snapshot, "error_spike")["value"] == 6


# -- the other rules ------------------------------------------------------------------


def test_balance_rules_and_their_figures(store):
    store.balance(NOW - HOUR, usdc_micro=999_999, eth_wei="500000000000000")
    store.setting("auto_pause_enabled", "0").setting("alert_low_usdc", "email+webhook").setting("alert_low_gas", "off")
    store.backup(NOW - DAY)
    alerts = {a["rule"]: a for a in snap(store)["alerts"]}
    assert [a for a in alerts] == ["low_usdc", "low_gas", "auto_pause", "backup_overdue", "error_spike"]
    assert alerts["low_usdc"] == {
        "rule": "low_usdc",
        "firing": True,
        "level": "email+webhook",
        "value": "0.999999",
        "threshold": "1.000000",
        "message": "Low USDC: 0.999999 USDC, below 1.000000",
    }
    # At the threshold is not below it; level off still reports the condition.
    assert (alerts["low_gas"]["firing"], alerts["low_gas"]["level"]) == (False, "off")
    assert alerts["low_gas"]["value"] == alerts["low_gas"]["threshold"] == "0.000500000000000000"
    assert alerts["auto_pause"]["firing"] is False  # auto_pause_enabled = 0
    assert alerts["backup_overdue"] | {"message": None} == {
        "rule": "backup_overdue",
        "firing": False,
        "level": "panel",
        "value": DAY,
        "threshold": 2_592_000_000,
        "message": None,
    }


def test_auto_pause_fires_with_low_usdc(store):
    store.balance(NOW - HOUR, usdc_micro=0, eth_wei="1")
    alerts = {a["rule"]: a for a in snap(store)["alerts"]}
    assert alerts["auto_pause"] == {
        "rule": "auto_pause",
        "firing": True,
        "level": "panel",
        "value": "0.000000",
        "threshold": "1.000000",
        "message": "API serving paused: USDC 0.000000 below 1.000000",
    }
    assert alerts["low_gas"]["firing"] is True


def test_invalid_alert_settings_fall_back_and_are_reported(store):
    bad = {
        "error_spike_errors": "-1",
        "error_spike_window_ms": "0",
        "alert_low_usdc": "Email",
        "alert_low_gas": "sms",
        "alert_auto_pause": "",
        "alert_error_spike": "email + webhook",
        "alert_backup_overdue": " panel",
        "alert_repeat_ms": "1.5",
    }
    for key, value in bad.items():
        store.setting(key, value)
    errors(store, [NOW - 1] * 6)
    snapshot = snap(store)
    assert [i["rule"] for i in snapshot["data_issues"] if i["table"] == "settings"] == [
        "error_spike_errors is not a non-negative integer",
        "error_spike_window_ms is not a positive integer",
        "alert_low_usdc is not off, panel, email, webhook or email+webhook",
        "alert_low_gas is not off, panel, email, webhook or email+webhook",
        "alert_auto_pause is not off, panel, email, webhook or email+webhook",
        "alert_error_spike is not off, panel, email, webhook or email+webhook",
        "alert_backup_overdue is not off, panel, email, webhook or email+webhook",
        "alert_repeat_ms is not a positive integer",
    ]
    assert {a["level"] for a in snapshot["alerts"]} == {"panel"}
    alert = rule(snapshot, "error_spike")
    assert (alert["firing"], alert["threshold"], alert["message"]) == (
        True,
        5,
        "6 errors in the last 5 min (bb-graphql 6)",
    )


def test_valid_levels_are_taken_as_written(store):
    for name, level in zip(
        ("low_usdc", "low_gas", "auto_pause", "error_spike", "backup_overdue"),
        ("off", "panel", "email", "webhook", "email+webhook"),
        strict=True,
    ):
        store.setting(f"alert_{name}", level)
    levels = {a["rule"]: a["level"] for a in snap(store)["alerts"]}
    assert levels == {
        "low_usdc": "off",
        "low_gas": "panel",
        "auto_pause": "email",
        "error_spike": "webhook",
        "backup_overdue": "email+webhook",
    }


# -- runway ---------------------------------------------------------------------------


def test_usdc_runway_at_the_spend_rate_rounded_down_when_shown(store):
    store.call(NOW - 3 * DAY, price_micro=1_000_000)  # the first buyer call: a 3-day span
    store.call(NOW - 1, price_micro=0, status_code=502)
    store.call(NOW - HOUR, role="seller", price_micro=9_000_000)  # seller calls spend nothing
    store.balance(NOW - HOUR, usdc_micro=2_000_000, eth_wei="0")
    runway = snap(store)["runway"]
    assert runway["spend_per_day_usdc"] == "0.333333"
    assert runway["usdc_days"] == pytest.approx(3.0, rel=1e-12)  # (2 − 1) USDC ÷ 1/3 USDC a day, exactly


def test_usdc_runway_uses_seven_days_when_history_is_longer(store):
    store.call(NOW - 10 * DAY, price_micro=50_000_000)  # before the window: left out
    store.call(NOW - WEEK - 1, price_micro=50_000_000)
    store.call(NOW - WEEK, price_micro=7_000_000)
    store.call(NOW - DAY, price_micro=7_000_000)
    store.balance(NOW - 1, usdc_micro=29_000_000, eth_wei="0")
    runway = snap(store)["runway"]
    assert runway["spend_per_day_usdc"] == "2.000000"
    assert runway["usdc_days"] == 14.0


def test_under_24_hours_of_history_there_is_no_rate(store):
    store.call(NOW - DAY + 1, price_micro=1_000_000)
    store.balance(NOW - 1, usdc_micro=5_000_000, eth_wei="900000000000000")
    store.balance(NOW - DAY + 2, usdc_micro=5_000_000, eth_wei="1000000000000000")
    assert snap(store)["runway"] == {
        "usdc_days": None,
        "spend_per_day_usdc": None,
        "eth_days": None,
        "gas_per_day_eth": None,
    }


def test_exactly_24_hours_is_enough(store):
    store.call(NOW - DAY, price_micro=1_500_000)
    runway = snap(store)["runway"]
    assert (runway["spend_per_day_usdc"], runway["usdc_days"]) == ("1.500000", None)  # balance unknown


def test_a_balance_at_or_below_the_threshold_is_zero_days_whatever_the_rate(store):
    store.balance(NOW - HOUR, usdc_micro=1_000_000, eth_wei="1")  # no calls: no rate at all
    runway = snap(store)["runway"]
    assert (runway["usdc_days"], runway["eth_days"]) == (0.0, 0.0)
    assert runway["spend_per_day_usdc"] is None


def test_no_spending_means_no_usdc_runway(store):
    store.call(NOW - 2 * DAY, price_micro=0)
    store.balance(NOW - HOUR, usdc_micro=5_000_000, eth_wei="0")
    runway = snap(store)["runway"]
    assert (runway["spend_per_day_usdc"], runway["usdc_days"]) == ("0.000000", None)


def test_gas_runway_leaves_top_ups_out(store):
    eth = 10**18
    store.balance(NOW - 4 * DAY, eth_wei=str(10 * eth // 1000))
    store.balance(NOW - 3 * DAY, eth_wei=str(7 * eth // 1000))  # −3
    store.balance(NOW - 2 * DAY, eth_wei=str(12 * eth // 1000))  # +5, a top-up
    store.balance(NOW - 1 * DAY, eth_wei=str(9 * eth // 1000))  # −3
    store.balance(NOW, eth_wei="1")  # does not exist yet
    runway = snap(store)["runway"]
    assert runway["gas_per_day_eth"] == "0.002000000000000000"  # 6 milli-ETH over 3 days
    assert runway["eth_days"] == pytest.approx((9 - 0.5) / 2, rel=1e-12)


def test_gas_span_starts_at_the_last_snapshot_at_or_before_a_week_ago(store):
    store.balance(NOW - 9 * DAY, eth_wei="10000")
    store.balance(NOW - WEEK, eth_wei="7000")  # exactly a week ago: the start
    store.balance(NOW - WEEK + 1, eth_wei="8000")
    store.balance(NOW - DAY, eth_wei="1000")
    runway = snap(store)["runway"]
    # Decreases from the start: 7000 → 8000 (top-up), 8000 → 1000 (−7000) over 6 days.
    assert runway["gas_per_day_eth"] == f"0.{1166:018d}"
    assert runway["eth_days"] == 0.0  # 1000 wei is below the threshold


def test_gas_with_equal_times_follows_the_row_order(store):
    store.balance(NOW - 2 * DAY, eth_wei="1000")
    store.balance(NOW - DAY, eth_wei="400")
    store.balance(NOW - DAY, eth_wei="900")  # the later row: the latest balance
    store.setting("low_gas_threshold_wei", "0")
    runway = snap(store)["runway"]
    # 1000 → 400 (−600), 400 → 900 (top-up): 600 wei a day; 900 wei last 1.5 days.
    assert runway["gas_per_day_eth"] == f"0.{600:018d}"
    assert runway["eth_days"] == 1.5


def test_huge_gas_balances_stay_exact(store):
    big = 10**77
    store.balance(NOW - 2 * DAY, eth_wei=str(3 * big))
    store.balance(NOW - HOUR, eth_wei=str(big))
    store.setting("low_gas_threshold_wei", "0")
    runway = snap(store)["runway"]
    burnt = 2 * big * DAY // (2 * DAY - HOUR)
    assert runway["gas_per_day_eth"] == f"{burnt // 10**18}.{burnt % 10**18:018d}"
    assert runway["eth_days"] == pytest.approx(big * (2 * DAY - HOUR) / (2 * big * DAY), rel=1e-12)


# -- long windows and ranged views ----------------------------------------------------

RANGED = {
    "ccanalytics": lambda path, now, range_name, api: _package_ranged(path, now, range_name, api),
    "reference": lambda path, now, range_name, api: reference_snapshot(path, now, 50, range_name, api),
}


def _package_ranged(path: str, now: int, range_name: str | None, api: str | None) -> dict:
    import ccanalytics as cc

    with cc.open_store(path) as opened:
        return opened.snapshot(now=now, range=range_name, api=api).to_dict()


@pytest.fixture(params=list(RANGED))
def ranged(tmp_path, request):
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.compute = RANGED[request.param]
    return builder


def test_a_window_of_ten_days_counts_errors_older_than_a_week(ranged):
    ranged.setting("error_spike_window_ms", str(10 * DAY)).setting("error_spike_errors", "2")
    errors(ranged, [NOW - 9 * DAY, NOW - 9 * DAY + 1, NOW - 10 * DAY, NOW - 10 * DAY - 1])
    snapshot = ranged.compute(ranged.write(), NOW, None, None)
    alert = rule(snapshot, "error_spike")
    assert (alert["firing"], alert["value"]) == (True, 3)
    # The first chart hour (2026-11-23T13:00) still sees the three within 10 days.
    assert snapshot["buyer"]["call_rate"][0]["spike"] is True


def test_ranged_view_buckets_are_marked_too(ranged):
    # A 1 h view has minute buckets: six errors at 11:40:30 mark 11:40 … 11:45 (until 11:45:30).
    errors(ranged, [ms("2026-11-25T11:40:30Z")] * 6)
    errors(ranged, [ms("2026-11-25T11:20:00Z")] * 6, api_id="other")
    view = ranged.compute(ranged.write(), NOW, "1h", "bb-graphql")["view"]
    marked = [b["start"][11:16] for b in view["buyer"]["series"] if b["spike"]]
    assert marked == ["11:40", "11:41", "11:42", "11:43", "11:44", "11:45"]
    assert not any(b["spike"] for b in view["seller"]["series"])


def test_a_buyer_call_before_the_week_makes_a_seven_day_span_even_with_nothing_spent_since(store):
    store.call(NOW - 8 * DAY, price_micro=5_000_000)
    store.balance(NOW - HOUR, usdc_micro=3_000_000, eth_wei="0")
    runway = snap(store)["runway"]
    assert (runway["spend_per_day_usdc"], runway["usdc_days"]) == ("0.000000", None)
