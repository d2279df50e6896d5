"""Incremental snapshots equal from-scratch ones, whatever happens to the store in between."""

from __future__ import annotations

import os
import sqlite3
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccanalytics as cc
from ccanalytics.contract import create_store
from tests.support.reference import assert_snapshots_equal

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
)


def _insert(con, rows, ids, verb="INSERT"):
    for row in rows:
        ids.append(f"r{len(ids)}")
        con.execute(
            f"{verb} INTO calls (request_id, ts_ms, role, api_id, api_name, status_code, latency_ms, price_micro,"
            " revenue_micro) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ids[-1], *(row[c] for c in COLUMNS), row["price_micro"] * 95 // 100),
        )


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=st.lists(operation, min_size=1, max_size=25), last=st.integers(-15 * DAY, 25 * DAY))
def test_incremental_snapshots_equal_from_scratch_ones(operations, last):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        create_store(path)
        con = sqlite3.connect(path)
        ids: list[str] = []
        store = cc.open_store(path)
        # Always a last snapshot after every change: no example passes without comparing one.
        for op, *args in [*operations, ("snapshot", last)]:
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
                # relative: totals kept per batch add the same floats in another order.
                assert actual.keys() == expected.keys()
                assert_snapshots_equal(actual, expected)
        store.close()
        con.close()


def test_the_gas_runway_kept_between_refreshes_moves_as_snapshots_leave_the_week():
    # The small tables' facts (the gas burnt among them) are kept between refreshes: they must
    # change exactly when `now` - 7 d reaches a balance snapshot, as a fresh store's do.
    week = 7 * DAY
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        create_store(path)
        con = sqlite3.connect(path)
        for ts, eth in ((BASE - 9 * DAY, "900"), (BASE - 3 * DAY, "700"), (BASE - 2 * DAY, "650"), (BASE, "640")):
            con.execute("INSERT INTO balance_snapshots (ts_ms, usdc_micro, eth_wei) VALUES (?, 5000000, ?)", (ts, eth))
        con.commit()
        store = cc.open_store(path)
        edge = BASE - 3 * DAY + week  # the snapshot of 700 wei leaves the week
        for now in (BASE + 1, edge - 1, edge, edge + 1, BASE + 6 * DAY, edge + 2 * DAY, BASE + 1):
            with cc.open_store(path) as fresh:
                expected = fresh.snapshot(now=now).to_dict()["runway"]
            assert store.snapshot(now=now).to_dict()["runway"] == expected, now
        store.close()
        con.close()
