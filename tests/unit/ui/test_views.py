"""The page's views: the chart's rows of a view, the downloads' links, the controls, and a view on the page."""

from __future__ import annotations

import base64
import copy
import io
import re

import polars as pl

from ccanalytics.ui.choice import ViewChoice
from ccanalytics.ui.page import Dashboard
from ccanalytics.ui.views import ViewControls, export_links, series_rows, show_scope
from tests.support import ui_snapshots as snaps

XSS = snaps.XSS


def links(html: str) -> dict[str, bytes]:
    """The downloads of ``export_links``: file name -> bytes."""
    found = re.findall(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', html)
    return {name: base64.b64decode(data) for name, data in found}


def test_series_rows_are_the_view_buckets_with_their_start_as_hour() -> None:
    view = {"buyer": {"series": [{"start": "2026-11-25T11:00:00Z", "success": 2, "error": 1}, "junk"]}}
    assert series_rows(view, "buyer") == [{"start": "2026-11-25T11:00:00Z", "success": 2, "error": 1,
                                           "hour": "2026-11-25T11:00:00Z"}]  # fmt: skip
    assert series_rows({}, "seller") == []
    assert series_rows({"seller": "not a section"}, "seller") == []


def test_the_downloads_hold_the_rows_on_screen_as_csv_and_parquet() -> None:
    breakdown = [{"api_id": "a,1", "api_name": XSS, "calls": 3, "success": 2, "errors": 1, "usdc": "0.003000",
                  "avg_latency_ms": 12.5, "p95_latency_ms": None, "success_rate": 2 / 3}]  # fmt: skip
    events = [{"ts": "2026-11-25T11:00:00Z", "type": "startup", "severity": "info", "message": "hi"}]
    files = links(export_links(breakdown, events, "ccanalytics-seller-7d"))
    assert sorted(files) == [
        "ccanalytics-seller-7d-breakdown.csv",
        "ccanalytics-seller-7d-breakdown.parquet",
        "ccanalytics-seller-7d-events.csv",
        "ccanalytics-seller-7d-events.parquet",
    ]
    csv = pl.read_csv(io.BytesIO(files["ccanalytics-seller-7d-breakdown.csv"]))
    parquet = pl.read_parquet(io.BytesIO(files["ccanalytics-seller-7d-breakdown.parquet"]))
    assert csv.columns == parquet.columns == list(breakdown[0])
    assert parquet.row(0) == ("a,1", XSS, 3, 2, 1, "0.003000", 12.5, None, 2 / 3)
    assert csv["api_id"].to_list() == ["a,1"]
    assert pl.read_parquet(io.BytesIO(files["ccanalytics-seller-7d-events.parquet"]))["message"].to_list() == ["hi"]


def test_a_hostile_stem_is_escaped_in_the_markup() -> None:
    html = export_links([], [], f'x"{XSS}')
    assert "<img" not in html
    assert 'download="x&quot;&lt;img src=x onerror=alert(1)&gt;-breakdown.csv"' in html


def test_the_controls_show_the_choice_and_note_only_the_visitors_changes() -> None:
    controls = ViewControls(ViewChoice(range="7d", api="gone-api"))
    assert controls.range.value == "7d"
    assert controls.api.value == "gone-api"  # a chosen API stays offered even if absent
    controls.offer(["a", "b"])
    assert [value for _, value in controls.api.options] == ["", "a", "b", "gone-api"]
    assert not controls.touched  # offering is not the visitor
    controls.choice.range = "30d"
    controls.sync()
    assert controls.range.value == "30d" and not controls.touched
    controls.range.value = "1h"
    assert controls.touched
    assert "range=7d" in controls.url.query and "api=gone-api" in controls.url.query


def test_a_ranged_view_on_the_page_shows_its_breakdown_and_downloads() -> None:
    snapshot = copy.deepcopy(snaps.SELLER)
    row = {"api_id": "bb-graphql", "api_name": "GraphQL demo", "calls": 10, "success": 9, "errors": 1,
           "usdc": "0.020000", "avg_latency_ms": 200.1, "p95_latency_ms": 410.0, "success_rate": 0.9}  # fmt: skip
    figures = {"calls": 10, "success_rate": 0.9, "avg_latency_ms": 200.1, "p50_latency_ms": 180.0,
               "p95_latency_ms": 410.0, "p99_latency_ms": 900.0, "usdc": "0.020000"}  # fmt: skip
    seller = {**figures, "previous": dict(figures), "breakdown": [row], "consumers": 1, "new_consumers": 0,
              "series": [{"start": "2026-11-25T11:00:00Z", "success": 9, "error": 1}], "top_consumers": []}  # fmt: skip
    snapshot["view"] = {"range": "7d", "api": None, "start": "2026-11-18T12:00:00Z", "end": "2026-11-25T12:00:00Z",
                        "bucket": "1h", "seller": seller, "buyer": {**seller, "breakdown": []}}  # fmt: skip
    dashboard = Dashboard(snapshot, view=ViewChoice(range="7d"))
    show_scope(dashboard, "seller", "Europe/Berlin")
    assert "1 API · " in dashboard.breakdown.title.value
    files = links(dashboard.controls.export.value)
    assert "ccanalytics-seller-7d-breakdown.csv" in files
    assert b"bb-graphql" in files["ccanalytics-seller-7d-breakdown.csv"]
    overview = Dashboard(snaps.SELLER)
    show_scope(overview, "seller", "Europe/Berlin")
    assert "all time" in overview.breakdown.title.value
    assert "ccanalytics-seller-breakdown.csv" in links(overview.controls.export.value)
