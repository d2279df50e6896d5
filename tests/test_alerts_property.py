"""Alerts, spike flags and runway equal the naive reference on stores dense with errors and snapshots.

The general property test (``test_snapshot_property.py``) rarely draws more
than a handful of errors in a few minutes; these stores cluster errors around
a few instants, with small windows and thresholds, so spikes start, end and
straddle bucket edges, and scatter balance snapshots and paid calls over ten
days around the 24 h and 7 d limits of the runway.
"""

from __future__ import annotations

import os
import tempfile

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import ccanalytics as cc
from tests.support.reference import assert_snapshots_equal, reference_snapshot
from tests.support.stores import StoreBuilder

NOW = 1_795_608_000_000 + 17 * 60_000 + 123  # 12:17:00.123, so the last bucket holds instants
HOUR = 3_600_000
DAY = 86_400_000
WEEK = 7 * DAY

_WINDOWS = ("1", "2", "999", "1000", "300000", "3600000", "3600001", str(3 * DAY), "x")
_ANCHORS = (NOW, NOW - HOUR * 1 - 17 * 60_000 - 123, NOW - 5 * HOUR, NOW - 47 * HOUR, NOW - 300_000)


@st.composite
def alert_stores(draw: st.DrawFn) -> StoreBuilder:
    builder = StoreBuilder("unused")
    builder.setting("error_spike_errors", draw(st.sampled_from(("0", "1", "2", "3", "5", "-1"))))
    builder.setting("error_spike_window_ms", draw(st.sampled_from(_WINDOWS)))
    builder.setting("low_usdc_threshold_micro", draw(st.sampled_from(("0", "1000000", "5000000"))))
    builder.setting("low_gas_threshold_wei", draw(st.sampled_from(("0", "1000", "500000000000000"))))
    anchor = st.sampled_from(_ANCHORS)
    jitter = st.one_of(st.integers(-3, 3), st.integers(-400_000, 400_000), st.sampled_from((-300_000, 299_999)))
    for _ in range(draw(st.integers(0, 30))):
        ts = draw(anchor) + draw(jitter)
        role = draw(st.sampled_from(("buyer", "seller")))
        status = draw(st.sampled_from((200, 500, 502, 402)))
        builder.call(ts, role=role, api_id=draw(st.sampled_from(("a", "b", "c"))), status_code=status)
    for _ in range(draw(st.integers(0, 6))):
        ts = NOW - draw(st.sampled_from((0, 1, DAY, DAY - 1, DAY + 1, WEEK, WEEK + 1, WEEK - 1, 10 * DAY)))
        builder.call(ts, price_micro=draw(st.sampled_from((0, 1, 7, 1_000_000, 2**62))))
    for _ in range(draw(st.integers(0, 6))):
        ts = NOW - draw(st.sampled_from((0, 1, HOUR, DAY, DAY + 1, 3 * DAY, WEEK, WEEK + 1, 9 * DAY)))
        eth = draw(st.sampled_from(("0", "999", "1000", "5000", "600000000000000", "9" * 78)))
        builder.balance(ts, usdc_micro=draw(st.sampled_from((0, 1_000_000, 7_000_000))), eth_wei=eth)
    return builder


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(builder=alert_stores(), range_name=st.sampled_from((None, None, "1h", "24h")))
@example(builder=StoreBuilder("unused"), range_name=None)  # the empty store
def test_alerts_spikes_and_runway_equal_the_reference(builder, range_name):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        builder.spec.write(path)
        expected = reference_snapshot(path, NOW, 5, range_name)
        with cc.open_store(path) as store:
            actual = store.snapshot(now=NOW, events=5, range=range_name).to_dict()
    wanted = {
        "alerts": expected["alerts"],
        "runway": expected["runway"],
        "buyer": {"call_rate": expected["buyer"]["call_rate"]},
        "seller": {"call_rate": expected["seller"]["call_rate"]},
        "data_issues": expected["data_issues"],
    }
    if range_name is not None:
        wanted["view"] = {role: {"series": expected["view"][role]["series"]} for role in ("buyer", "seller")}
    assert_snapshots_equal(actual, wanted)


@settings(max_examples=400, deadline=None)
@given(
    errors=st.lists(st.integers(-5, 60), max_size=25),
    starts=st.lists(st.integers(0, 60), min_size=1, max_size=6, unique=True).map(sorted),
    now=st.integers(0, 70),
    window=st.integers(1, 25),
    limit=st.integers(0, 4),
)
@example(errors=[], starts=[0], now=0, window=1, limit=0)
def test_spike_flags_equal_a_brute_force_over_real_instants(errors, starts, now, window, limit):
    """``spike_flags`` on small integers against the reference's try-every-instant search."""
    from ccanalytics.metrics.alerts import spike_flags
    from ccanalytics.settings import Settings
    from tests.support.reference import _spike

    rule = Settings(error_spike_errors=limit, error_spike_window_ms=window)
    existing = [t for t in errors if t < now]
    ends = [*starts[1:], now]
    expected = [_spike(existing, s, min(e, now), limit, window) for s, e in zip(starts, ends, strict=True)]
    assert spike_flags(starts, now, errors, rule).to_list() == expected
