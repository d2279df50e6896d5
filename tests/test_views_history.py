"""The day ranges' history (``ccanalytics.history``): refreshes that reuse it equal from-scratch snapshots.

A 30d or 90d view keeps its window's and previous period's middles summed
and only their edges as rows; these tests move ``now`` by minutes and hours
(within the span a history answers, and past it), add calls at the edges,
late calls, future calls and calls before the horizon, and compare every
view with one computed by a store opened afresh, and with the naive reference.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccanalytics as cc
from ccanalytics.contract import create_store
from ccanalytics.metrics.history import SPAN_MS
from tests.support.reference import assert_snapshots_equal, reference_snapshot
from tests.support.stores import StoreBuilder

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000
LENGTH = {"24h": DAY, "7d": 7 * DAY, "30d": 30 * DAY, "90d": 90 * DAY}  # the ranges that keep a history


def _offsets(range_name: str) -> st.SearchStrategy[int]:
    """Call times relative to the first ``now``.

    Near the edges, inside the window and the previous period, in the future,
    and before the previous period (late rows that move a first call).
    """
    r = LENGTH[range_name]
    near = st.integers(-2 * HOUR, SPAN_MS + 2 * HOUR)
    return st.one_of(
        near.map(lambda d: d - r),
        near.map(lambda d: d - 2 * r),
        near,
        st.integers(-2 * r - 30 * DAY, 2 * DAY),
    )


def _calls(range_name: str) -> st.SearchStrategy[list[dict]]:
    call = st.fixed_dictionaries(
        {
            "offset": _offsets(range_name),
            "role": st.sampled_from(["buyer", "seller", "seller"]),
            "api_id": st.sampled_from(["a", "b"]),
            "status_code": st.sampled_from([200, 200, 502]),
            "latency_ms": st.one_of(st.none(), st.floats(0, 5000), st.just(0.0)),
            "price_micro": st.integers(0, 10_000),
            "consumer": st.sampled_from([None, "c1", "c2", "c3", "c4"]),
        }
    )
    return st.lists(call, max_size=15)


def _insert(con: sqlite3.Connection, rows: list[dict], base: int, first: int) -> int:
    for n, row in enumerate(rows, start=first):
        con.execute(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, latency_ms, price_micro,"
            " revenue_micro, consumer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                f"r{n}",
                base + row["offset"],
                row["role"],
                row["api_id"],
                row["status_code"],
                row["latency_ms"],
                row["price_micro"],
                row["price_micro"] * 95 // 100,
                row["consumer"],
            ),
        )
    con.commit()
    return first + len(rows)


@st.composite
def scenarios(draw):
    range_name = draw(st.sampled_from(sorted(LENGTH)))
    zone = draw(st.sampled_from(["UTC", "Europe/Berlin", "Asia/Kathmandu"]))
    start = NOW + draw(st.integers(-HOUR, HOUR))
    steps = draw(
        st.lists(
            st.tuples(
                _calls(range_name),
                # mostly within the span a history answers, sometimes past it
                st.one_of(st.integers(0, 20 * MINUTE), st.integers(0, SPAN_MS), st.integers(0, 2 * DAY)),
                st.sampled_from([None, "a", "nothing"]),
            ),
            min_size=1,
            max_size=6,
        )
    )
    return range_name, zone, start, draw(_calls(range_name)), steps


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_refreshes_reusing_the_history_equal_from_scratch_snapshots(scenario):
    range_name, zone, now, first_rows, steps = scenario
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        create_store(path)
        con = sqlite3.connect(path)
        con.execute("INSERT INTO settings VALUES ('timezone', ?)", (zone,))
        n = _insert(con, first_rows, now, 0)
        store = cc.open_store(path, cache=False)
        try:
            store.snapshot(now=now, range=range_name)
            for rows, shift, api in steps:
                n = _insert(con, rows, now, n)
                now += shift
                actual = store.snapshot(now=now, range=range_name, api=api).to_dict()
                with cc.open_store(path, cache=False) as fresh:
                    expected = fresh.snapshot(now=now, range=range_name, api=api).to_dict()
                assert_snapshots_equal(actual, expected)
            # and the last one agrees with the naive reference of views.md too
            reference = reference_snapshot(path, now, 50, range_name, api)
            assert_snapshots_equal({"view": actual["view"]}, {"view": reference["view"]})
        finally:
            store.close()
            con.close()


def test_a_refresh_within_the_span_reuses_the_history_and_counts_edges_to_the_millisecond(tmp_path):
    now = NOW
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.call(now - 30 * DAY + 10 * MINUTE, role="seller", consumer="leaves", price_micro=1000, latency_ms=5.0)
    builder.call(now - 60 * DAY + 10 * MINUTE, role="seller", consumer="old", price_micro=1000, latency_ms=7.0)
    builder.call(now - 10 * DAY, role="seller", consumer="stays", price_micro=3000, latency_ms=9.0)
    path = builder.write()
    with cc.open_store(path, cache=False) as store:
        view = store.snapshot(now=now, range="30d").to_dict()["view"]["seller"]
        assert (view["calls"], view["consumers"], view["new_consumers"], view["previous"]["calls"]) == (2, 2, 2, 1)
        history = store._ledger.histories[0]
        later = now + 10 * MINUTE  # "leaves" is now at the window's start: still in it …
        view = store.snapshot(now=later, range="30d").to_dict()["view"]["seller"]
        assert (view["calls"], view["consumers"], view["previous"]["calls"]) == (2, 2, 1)
        view = store.snapshot(now=later + 1, range="30d").to_dict()["view"]["seller"]  # … and 1 ms later not
        assert (view["calls"], view["consumers"], view["new_consumers"]) == (1, 1, 1)
        assert view["previous"]["calls"] == 1  # "old" left the previous period as "leaves" entered it
        assert [t["consumer"] for t in view["top_consumers"]] == ["stays"]
        assert store._ledger.histories[0] is history  # both answered from the history built at `now`
        insert = (
            "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, latency_ms, price_micro,"
            " revenue_micro, consumer) VALUES (?, ?, 'seller', 'api-a', 200, 1.0, 1000, 950, 'stays')"
        )
        with sqlite3.connect(path) as con:  # a late call of "stays", before its first one: still new
            con.execute(insert, ("late", now - 12 * DAY))
        view = store.snapshot(now=later + 2, range="30d").to_dict()["view"]["seller"]
        assert (view["calls"], view["consumers"], view["new_consumers"]) == (2, 1, 1)
        assert view["top_consumers"] == [{"consumer": "stays", "calls": 2, "usdc": "0.003800"}]
        assert store._ledger.histories[0] is history  # a late call among the ledger's rows is an edge row
        with sqlite3.connect(path) as con:  # one before the ledger's horizon (two weeks back) settles: built again
            con.execute(insert, ("very-late", now - 20 * DAY))
        view = store.snapshot(now=later + 3, range="30d").to_dict()["view"]["seller"]
        assert (view["calls"], view["consumers"], view["new_consumers"]) == (3, 1, 1)
        assert view["top_consumers"] == [{"consumer": "stays", "calls": 3, "usdc": "0.004750"}]
        assert store._ledger.histories[0] is not history


def test_the_next_history_is_built_in_the_background_and_the_refresh_at_the_spans_end_takes_it(tmp_path, monkeypatch):
    """The refresh an hour before the span ends hands the build over; the one past the end does not build."""
    import threading
    import time

    from ccanalytics.metrics import history as history_module
    from ccanalytics.metrics.successor import LEAD_MS
    from ccanalytics.store.builder import THREAD_NAME

    builds: list[str] = []
    build = history_module.History.of.__func__

    def of(cls, *args, **kwargs):
        builds.append(threading.current_thread().name)
        return build(cls, *args, **kwargs)

    monkeypatch.setattr(history_module.History, "of", classmethod(of))
    builder = StoreBuilder(str(tmp_path / "store.db"))
    for n in range(40):  # calls in both bands, the middles and the last hours, each its own consumer
        builder.call(NOW - n * 37 * HOUR, role="seller", consumer=f"c{n % 7}", price_micro=1000 + n, latency_ms=n)
    path = builder.write()
    insert = (
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, latency_ms, price_micro,"
        " revenue_micro, consumer) VALUES (?, ?, 'seller', 'api-a', 502, 3.0, 700, 665, ?)"
    )
    with cc.open_store(path, cache=False) as store, sqlite3.connect(path) as con:
        store.snapshot(now=NOW, range="90d")
        assert builds == ["MainThread"]
        first = store._ledger.histories[0]
        due = NOW + SPAN_MS - LEAD_MS
        store.snapshot(now=due - 1, range="90d")
        assert store._ledger.successors == ()
        con.execute(insert, ("before-handover", due - MINUTE, "c1"))
        con.commit()
        store.snapshot(now=due, range="90d")  # hands the build over and answers from the current history
        (successor,) = store._ledger.successors
        assert store._ledger.histories[0] is first
        con.execute(insert, ("after-handover", due + MINUTE, "new-one"))  # a call the successor must count as new
        con.execute(insert, ("late", NOW - 3 * DAY, "c2"))  # and a late one in its middle
        con.commit()
        deadline = time.monotonic() + 60
        while not successor.future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert successor.future.done()
        for now in (NOW + SPAN_MS, NOW + SPAN_MS + 10 * MINUTE):  # past the first history's span
            actual = store.snapshot(now=now, range="90d").to_dict()
            assert builds == ["MainThread", f"{THREAD_NAME}_0"]  # the refreshes past the span built nothing
            assert store._ledger.histories[0].built == successor.built == due
            with cc.open_store(path, cache=False) as fresh:
                assert_snapshots_equal(actual, fresh.snapshot(now=now, range="90d").to_dict())
            builds[2:] = []  # the fresh store's own build
        assert actual["view"]["seller"]["new_consumers"] >= 1
