"""Incremental snapshots equal from-scratch ones, whatever happens to the store in between."""

from __future__ import annotations

import os
import sqlite3
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import assert_snapshots_equal

import ccanalytics as cc
from ccanalytics.contract import create_store

BASE = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR = 3_600_000
DAY = 24 * HOUR

call = st.fixed_dictionaries(
    {
        "ts_ms": st.integers(BASE - 20 * DAY, BASE + 20 * DAY),
        "role": st.sampled_from(["buyer", "seller", "seller", "reseller"]),  # a few bad rows
        "api_id": st.sampled_from(["a", "b", "c"]),
        "api_name": st.sampled_from([None, "Alpha", "Beta"]),
        "status_code": st.sampled_from([200, 201, 402, 502, 700]),
        "latency_ms": st.one_of(st.none(), st.floats(0, 5000)),
        "price_micro": st.integers(0, 10_000),
    }
)
COLUMNS = ("ts_ms", "role", "api_id", "api_name", "status_code", "latency_ms", "price_micro")
operation = st.one_of(
    st.tuples(st.just("append"), st.lists(call, min_size=1, max_size=30)),
    st.tuples(st.just("delete"), st.integers(0, 200)),
    st.tuples(st.just("replace"), st.integers(0, 200), call),
    st.tuples(st.just("update"), st.integers(0, 200), st.sampled_from([200, 503])),
    st.tuples(st.just("snapshot"), st.integers(-15 * DAY, 25 * DAY)),
    # Snapshots a few seconds apart: the minute tallies' edges, and the rows a later `now` passes.
    st.tuples(st.just("snapshot"), st.integers(-2 * 60_000, 2 * 60_000)),
)


def _insert(con, rows, ids, verb="INSERT"):
    for row in rows:
        ids.append(f"r{len(ids)}")
        con.execute(
            f"{verb} INTO calls (request_id, ts_ms, role, api_id, api_name, status_code, latency_ms, price_micro,"
            " revenue_micro) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ids[-1], *(row[c] for c in COLUMNS), row["price_micro"] * 95 // 100),
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(operation, min_size=1, max_size=25))
def test_incremental_snapshots_equal_from_scratch_ones(operations):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        create_store(path)
        con = sqlite3.connect(path)
        ids: list[str] = []
        store = cc.open_store(path)
        for op, *args in operations:
            if op == "append":
                _insert(con, args[0], ids)
            elif op == "delete" and ids:
                con.execute("DELETE FROM calls WHERE request_id = ?", (ids[args[0] % len(ids)],))
            elif op == "replace" and ids:
                # INSERT OR REPLACE: the row goes away and comes back with a new rowid.
                row = dict(args[1])
                con.execute("DELETE FROM calls WHERE request_id = ?", (ids[args[0] % len(ids)],))
                _insert(con, [row], ids, verb="INSERT OR REPLACE")
            elif op == "update" and ids:
                # An update in place is seen when it touches the last row read (see docs/design.md).
                con.execute("UPDATE calls SET status_code = ? WHERE rowid = (SELECT max(rowid) FROM calls)", (args[1],))
            con.commit()
            if op == "snapshot":
                now = BASE + args[0]
                with cc.open_store(path) as fresh:
                    expected = fresh.snapshot(now=now).to_dict()
                actual = store.snapshot(now=now).to_dict()
                # Every count, amount and text exactly; averages of float latencies to 1e-9
                # relative: sums kept per batch add the same floats in another order.
                assert actual.keys() == expected.keys()
                assert_snapshots_equal(actual, expected)
        store.close()
        con.close()


# -- the minute tallies behind the windows ------------------------------------------------------------------

MINUTE = 60_000
WEEK = 7 * DAY
near_an_edge = st.tuples(st.sampled_from([-WEEK, -DAY, 0]), st.integers(-2 * MINUTE, 2 * MINUTE)).map(sum)
raw_call = st.fixed_dictionaries(
    {
        "offset": st.one_of(near_an_edge, st.integers(-8 * DAY, DAY)),
        "role": st.sampled_from(["buyer", "seller"]),
        "status_code": st.sampled_from([200, 299, 302, 402, 502]),
        "latency_ms": st.one_of(st.none(), st.floats(0, 5000)),
        "price_micro": st.integers(0, 10_000),
    }
)


@settings(max_examples=200, deadline=None)
@given(
    calls=st.lists(raw_call, max_size=60),
    batches=st.integers(1, 4),
    now=st.integers(BASE - DAY, BASE + DAY),
    zone=st.sampled_from(["UTC", "Asia/Kathmandu", "America/St_Johns", "Europe/Berlin", "Australia/Lord_Howe"]),
)
def test_windows_and_chart_hours_from_minute_tallies_equal_those_from_raw_calls(calls, batches, now, zone):
    import polars as pl
    from polars.testing import assert_frame_equal

    from ccanalytics import metrics

    frame = pl.DataFrame(
        [{**c, "ts_ms": now + c.pop("offset"), "revenue_micro": c["price_micro"] // 2} for c in map(dict, calls)],
        schema={
            "role": pl.String,
            "status_code": pl.Int64,
            "latency_ms": pl.Float64,
            "price_micro": pl.Int64,
            "ts_ms": pl.Int64,
            "revenue_micro": pl.Int64,
        },
    )
    # As the ledger keeps them: one tally per batch of rows read, a minute possibly in several.
    size = max(1, -(-frame.height // batches))
    minutes = pl.concat(
        [metrics.minute_tally(frame.slice(i, size).lazy()) for i in range(0, max(frame.height, 1), size)]
    )
    calls_lf = metrics.existing(frame.lazy(), now)

    def same(a: pl.LazyFrame, b: pl.LazyFrame, by: list[str]) -> None:
        assert_frame_equal(a.collect().sort(by), b.collect().sort(by), check_exact=False, rel_tol=1e-9)

    same(metrics.windows(calls_lf, now), metrics.windows(calls_lf, now, minutes), ["role"])
    same(
        metrics.call_rate(calls_lf, now, zone),
        metrics.call_rate(calls_lf, now, zone, minutes=minutes),
        ["role", "hour"],
    )
