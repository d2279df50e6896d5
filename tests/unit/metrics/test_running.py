"""The running windows equal the windows summed from scratch, whatever arrives late and wherever now moves."""

from __future__ import annotations

import math
import os
import sqlite3

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccanalytics as cc
from ccanalytics.contract import create_store
from ccanalytics.metrics import formulas
from ccanalytics.metrics import views as ranged
from ccanalytics.metrics.running import Running
from tests.support.reference import assert_snapshots_equal

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR
WEEK = 7 * DAY

call = st.fixed_dictionaries(
    {
        "ts_ms": st.integers(NOW - 16 * DAY, NOW + 3 * DAY),
        "role": st.sampled_from(["buyer", "seller"]),
        "api_id": st.sampled_from(["a", "b"]),
        "status_code": st.sampled_from([200, 502]),
        "latency_ms": st.one_of(st.none(), st.floats(0, 5000), st.sampled_from([0.0, 100.0, 100.0])),
        "price_micro": st.integers(0, 10_000),
        "revenue_micro": st.integers(0, 10_000),
    }
)
# A step: calls arrive (any time: late ones too), then the state moves `shift` ms (back or forth).
step = st.tuples(
    st.lists(call, max_size=12),
    st.one_of(st.integers(-2 * HOUR, 2 * HOUR), st.integers(-3 * DAY, 3 * DAY), st.sampled_from([0, 1, -1, HOUR])),
)
SCHEMA = {
    "ts_ms": pl.Int64,
    "role": pl.String,
    "api_id": pl.String,
    "status_code": pl.Int64,
    "latency_ms": pl.Float64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
}


def _frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA)


def _from_scratch(calls: pl.DataFrame, now: int, timezone: str) -> tuple[pl.DataFrame, ...]:
    """What snapshot.role_views queries without running state."""
    existing = formulas.existing(calls.lazy(), now)
    periods = {
        "24h": (now - DAY, now),
        "previous_24h": (now - 2 * DAY, now - DAY),
        "previous_7d": (now - 2 * WEEK, now - WEEK),
    }
    return tuple(
        pl.collect_all(
            [
                formulas.windows(existing, now),
                formulas.call_rate(existing, now, timezone),
                ranged.period_figures(existing, periods),
            ]
        )
    )


def _rows(frame: pl.DataFrame, keys: list[str]) -> list[dict]:
    return frame.sort(keys).to_dicts()


def _close(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _own_money(rows: list[dict]) -> list[dict]:
    """The rows without the other role's money: a role's figures show its own (a buyer's spend, a seller's revenue)."""
    other = {"buyer": "revenue_micro", "seller": "price_micro"}
    return [{k: v for k, v in row.items() if not k.startswith(other[row["role"]])} for row in rows]


def _assert_same(running: list[dict], scratch: list[dict], what: str) -> None:
    assert len(running) == len(scratch), what
    for mine, theirs in zip(running, scratch, strict=True):
        for key, value in theirs.items():
            assert _close(mine[key], value), f"{what}.{key}: {mine[key]!r} != {value!r}"


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.lists(call, max_size=40),
    steps=st.lists(step, min_size=1, max_size=8),
    timezone=st.sampled_from(["UTC", "Asia/Kathmandu", "Europe/Berlin", "Australia/Lord_Howe"]),
)
def test_running_windows_equal_windows_summed_from_scratch(start, steps, timezone):
    calls = _frame(start)
    running, now = Running.of(calls), NOW
    for arriving, shift in [([], 0), *steps]:
        new = _frame(arriving)
        running, calls = running.add(new), pl.concat([calls, new])
        now += shift
        running = _check(running, calls, now, timezone)


def _insert(con: sqlite3.Connection, request_id: str, ts_ms: int, latency: float, status: int = 200) -> None:
    con.execute(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, latency_ms, price_micro, revenue_micro)"
        " VALUES (?, ?, 'seller', 'a', ?, ?, 1000, 950)",
        (request_id, ts_ms, status, latency),
    )
    con.commit()


def test_a_late_call_and_now_moving_back_are_counted_exactly(tmp_path):
    path = os.path.join(tmp_path, "store.db")
    create_store(path)
    con = sqlite3.connect(path)
    for i in range(50):
        _insert(con, f"r{i}", NOW - i * 3 * HOUR, float(10 + i))
    store = cc.open_store(path, cache=False)
    moments = [
        (None, NOW),
        (("late-1", NOW - 2 * HOUR, 999.0), NOW + 10 * 60_000),  # a call an hour and a half late
        (("late-2", NOW - 23 * HOUR - 59 * 60_000, 1.5), NOW + 5 * 60_000),  # late, near the 24 h edge, now back
        (("future", NOW + 2 * HOUR, 7.0), NOW + 3 * HOUR),  # a call ahead of now, then now passes it
        (None, NOW - DAY),  # a day back: the previous periods come back in
        (("late-3", NOW - 8 * DAY, 3.0), NOW + 6 * DAY),  # late into the previous 7 d, then almost a week on
    ]
    try:
        for late, now in moments:
            if late is not None:
                _insert(con, *late, status=502)
            with cc.open_store(path, cache=False) as fresh:
                expected = fresh.snapshot(now=now).to_dict()
            actual = store.snapshot(now=now).to_dict()
            assert_snapshots_equal(actual, expected)
    finally:
        store.close()
        con.close()


def _assert_failed_kept(running: Running, calls: pl.DataFrame, now: int) -> None:
    """The failed calls the state keeps are those a filter of every call finds (the chart's two days)."""
    since, columns = now - 2 * DAY, list(SCHEMA)
    failed = calls.filter(~formulas.succeeded(), pl.col("ts_ms").is_between(since, now, closed="left"))
    kept = running.failed_calls(since, now)
    assert kept["ts_ms"].is_sorted()
    assert sorted(kept.select(columns).rows(), key=repr) == sorted(failed.select(columns).rows(), key=repr)


def _check(running: Running, calls: pl.DataFrame, now: int, timezone: str = "UTC") -> Running:
    _assert_failed_kept(running, calls, now)
    running, windowed = running.moved(now, timezone)
    windows, rates, figures = windowed.frames()
    expected = _from_scratch(calls, now, timezone)
    # Roles without calls in the week: the scratch query has no row, the state zeros.
    week = expected[0].filter(pl.col("calls_7d") > 0)
    _assert_same(_rows(windows.filter(pl.col("calls_7d") > 0), ["role"]), _own_money(_rows(week, ["role"])), "windows")
    assert _rows(rates, ["role", "hour"]) == _rows(expected[1], ["role", "hour"])
    # Percentiles are shown for the 24 h, and of the previous 24 h only its p95.
    period = pl.col("period")
    pct = [
        pl.when((period == "previous_7d") | ((period == "previous_24h") & (c != "p95_latency_ms")))
        .then(None)
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms")
    ]
    scratch = expected[2].with_columns(pct)
    _assert_same(_rows(figures, ["role", "period"]), _own_money(_rows(scratch, ["role", "period"])), "figures")
    return running


def _calls(start: int, count: int, step: int, seed: int) -> pl.DataFrame:
    return _frame(
        [
            {
                "ts_ms": start + i * step,
                "role": "seller" if (i * seed) % 3 else "buyer",
                "api_id": "a",
                "status_code": 502 if (i * seed) % 7 == 0 else 200,
                "latency_ms": None if (i * seed) % 11 == 0 else float((i * seed * 7919) % 1000) / 4,
                "price_micro": (i * seed) % 5000,
                "revenue_micro": (i * seed) % 4000,
            }
            for i in range(count)
        ]
    )


def test_settling_keeps_what_the_windows_still_hold():
    """Dropping the calls before a horizon leaves every window at a later now as if they had never been cut."""
    calls = _calls(NOW - 20 * DAY, 2_000, 15 * 60_000, 3)  # 20 days, a call every 15 minutes
    running = _check(Running.of(calls), calls, NOW)
    running = running.settle(NOW - 2 * WEEK + 3 * HOUR)  # held back to NOW - 2 weeks: the windows at NOW reach it
    assert running.rows["ts_ms"].min() == NOW - 2 * WEEK
    running = _check(running, calls, NOW)  # the previous 7 d starts at the first call kept
    later = _calls(NOW, 20, 60_000, 5)
    running = _check(running.add(later), pl.concat([calls, later]), NOW + 5 * HOUR)
    running = running.settle(NOW + 5 * HOUR - 2 * WEEK)
    _check(running, pl.concat([calls, later]), NOW + 6 * HOUR, "Australia/Lord_Howe")


def test_many_small_additions_and_late_ones_stay_exact_and_in_few_pieces():
    calls = _calls(NOW - 15 * DAY, 1_500, 15 * 60_000, 7)
    running = _check(Running.of(calls), calls, NOW)
    for i in range(80):  # a refresh every 30 s with a call or two, every fifth one late by an hour
        now = NOW + (i + 1) * 30_000
        new = _calls(now - (HOUR if i % 5 == 0 else 20_000), 2, 1_000, 11 + i)
        calls = pl.concat([calls, new])
        running = _check(running.add(new), calls, now)
    assert running.rows.n_chunks() <= 34
    assert all(frame.n_chunks() <= 34 for frame in running.sums.values())


def test_money_beyond_64_bits_is_summed_exactly():
    """Amounts up to 2**63 - 1 each (data-contract.md): the running sums widen past 64 bits, never wrap."""
    big = 2**63 - 1
    calls = _calls(NOW - 10 * DAY, 500, 30 * 60_000, 5)  # small amounts: summed in 64 bits
    running = _check(Running.of(calls), calls, NOW)
    assert {
        frame["price_micro" if role == "buyer" else "revenue_micro"].dtype for role, frame in running.sums.items()
    } == {pl.Int64}
    for step, (start, count) in enumerate([(NOW + 60_000, 3), (NOW - 3 * DAY, 2), (NOW + 2 * HOUR, 80_000)]):
        huge = _calls(start, count, 1_000, 7 + step).with_columns(
            price_micro=pl.lit(big, pl.Int64), revenue_micro=pl.lit(big, pl.Int64)
        )  # into the tail, late into the summed sums, then a tail large enough to be folded
        calls = pl.concat([calls, huge])
        running = _check(running.add(huge), calls, NOW + (step + 3) * HOUR)
    assert running.sums["seller"]["revenue_micro"].dtype == pl.Int128
