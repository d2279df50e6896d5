"""A history's edges moved refresh by refresh equal the edges started afresh, and every view the from-scratch one."""

from __future__ import annotations

import polars as pl
import pytest

from ccanalytics.metrics.consumers import FirstSeen
from ccanalytics.metrics.edges import Edges, label
from ccanalytics.metrics.history import SPAN_MS, History, _rows
from ccanalytics.metrics.views import RANGES
from ccanalytics.settings import Settings
from tests.unit.metrics.test_history import APIS, CALLS, DAY, HORIZON, HOUR, NAMES, SPIKE, B, assert_same, from_scratch
from tests.unit.metrics.test_history import recent as recent_rows

R = 30 * DAY
HOW = {"built": B, "span": SPAN_MS, "timezone": "UTC", "range_": RANGES["30d"]}
# Calls added as the refreshes go: in both bands (late), in the middle (late), after the build, and in the future.
ADDED = [
    (B - R + 2 * HOUR, "seller", "a", 200, 11.0, 500, "c7"),
    (B - 2 * R + 3 * HOUR, "buyer", "x", 502, None, 200, None),
    (B - 10 * DAY, "seller", "b", 200, 0.0, 700, "c1"),
    (B + 90 * 60_000, "seller", "a", 502, 33.0, 900, "c8"),
    (B + 5 * HOUR, "seller", "b", 200, 12.0, 100, "c3"),  # after `now` until the last refreshes
]


def build(calls: list[tuple]) -> History:
    return History.of(
        recent_rows(calls), FirstSeen.empty(), horizon=HORIZON, settled_calls=0, now=B, timezone="UTC",
        range_name="30d", spike_window=SPIKE,
    )  # fmt: skip


def started(history: History, rows: pl.DataFrame, now: int, api: str | None) -> Edges:
    edges, extra = Edges.start(
        api, now, history.known, history.band, history.future, history.tallies, history.sketch, R
    )  # fmt: skip
    move = edges.plan(_rows(rows, history.known), rows.height, now, **HOW, extra=extra)
    assert move is not None
    return move.done(*pl.collect_all(move.queries()))


def same_frame(got: pl.DataFrame, want: pl.DataFrame, by: list[str]) -> None:
    assert got.sort(by).to_dicts() == pytest.approx(want.sort(by).to_dicts())


@pytest.mark.parametrize("api", [None, "a"])
def test_refreshes_moved_forward_equal_the_edges_started_afresh_and_the_views_from_scratch(api: str | None) -> None:
    calls = [*CALLS, (B + HOUR, "seller", "a", 200, 9.0, 100, "c9")]  # one call already there, after the build
    history = build(calls)
    for step, now in enumerate(range(B + 20 * 60_000, B + SPAN_MS, 40 * 60_000)):
        calls = calls + ADDED[step : step + 1]
        rows = recent_rows(calls)
        view = history.view(rows, now, api, NAMES, APIS, Settings(), FirstSeen.empty())
        assert_same(view, from_scratch(rows, now, api))
        moved, fresh = history.edges[api], started(history, rows, now, api)
        assert (moved.now, moved.height) == (now, rows.height)
        same_frame(moved.tallies, fresh.tallies, ["period", "role", "api_id"])
        same_frame(moved.sketch, fresh.sketch, ["grp", "key"])
        assert moved.pending["ts_ms"].to_list() == fresh.pending["ts_ms"].to_list()
    assert moved.pending.is_empty()  # the future call counted once its time came


def test_a_view_at_an_earlier_now_starts_again_from_the_build() -> None:
    history, rows = build(CALLS), recent_rows([*CALLS, *ADDED])
    history.view(rows, B + 5 * HOUR, None, NAMES, APIS, Settings(), FirstSeen.empty())
    view = history.view(rows, B + HOUR, None, NAMES, APIS, Settings(), FirstSeen.empty())
    assert_same(view, from_scratch(rows, B + HOUR))
    assert history.edges[None].now == B + HOUR


def test_a_huge_latency_leaving_the_window_asks_for_a_fresh_start() -> None:
    history = build([*CALLS, (B - R + 2 * HOUR, "seller", "a", 200, 1e12, 500, "c7")])
    rows = recent_rows([*CALLS, (B - R + 2 * HOUR, "seller", "a", 200, 1e12, 500, "c7")])
    edges = started(history, rows, B + HOUR, None)
    assert edges.plan(_rows(rows, rows.height), rows.height, B + 3 * HOUR, **HOW) is None
    view = history.view(rows, B + 3 * HOUR, None, NAMES, APIS, Settings(), FirstSeen.empty())
    assert_same(view, from_scratch(rows, B + 3 * HOUR))


def test_label_names_the_period_of_each_call() -> None:
    calls = pl.LazyFrame({"ts_ms": [-1, 0, 9, 10, 19, 20]})
    assert label(calls, 20, 10).collect().select("ts_ms", "period", "sign").rows() == [
        (0, "previous", 1),
        (9, "previous", 1),
        (10, "window", 1),
        (19, "window", 1),
    ]
