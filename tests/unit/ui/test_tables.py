"""ui/tables.py: the breakdown (metrics.md's columns, sorting) and the event log, every text escaped."""

from __future__ import annotations

from ccanalytics.ui import format as fmt
from ccanalytics.ui.tables import BREAKDOWN_COLUMNS, breakdown_body, events_html, sort_rows

ROWS = [
    {"api_id": "b", "api_name": "Beta", "calls": 5, "usdc": "0.500000", "avg_latency_ms": None},
    {"api_id": "a", "api_name": None, "calls": 5, "usdc": "10.000000", "avg_latency_ms": 80.0},
    {"api_id": "c", "api_name": "alpha", "calls": 7, "usdc": "0.000001", "avg_latency_ms": 200.0},
]


def test_the_breakdown_columns_of_each_role() -> None:
    assert [c.header for c in BREAKDOWN_COLUMNS["buyer"]] == [
        "API", "Calls", "Success", "Errors", "USDC spent", "Avg latency"
    ]  # fmt: skip
    assert [c.header for c in BREAKDOWN_COLUMNS["seller"]][-2:] == ["USDC earned", "Success rate"]


def test_sorting_compares_money_exactly_names_without_case_and_puts_unknowns_last() -> None:
    assert [r["api_id"] for r in sort_rows(ROWS, "usdc", descending=True)] == ["a", "b", "c"]
    assert [r["api_id"] for r in sort_rows(ROWS, "api_name", descending=False)] == ["a", "c", "b"]  # a, alpha, Beta
    assert [r["api_id"] for r in sort_rows(ROWS, "avg_latency_ms", descending=False)] == ["a", "c", "b"]
    assert [r["api_id"] for r in sort_rows(ROWS, "calls", descending=True)] == ["c", "b", "a"]  # ties keep order
    assert sort_rows([], "calls", descending=True) == []


def test_a_row_without_a_name_shows_its_id_once_and_a_named_one_both() -> None:
    html = breakdown_body(ROWS, "buyer", "calls")
    assert '<span class="cc-api-name">a</span></div>' in html
    assert '<span class="cc-api-name">Beta</span><span class="cc-api-id">b</span>' in html
    assert html.count('role="row" class="cc-row"') == 3


def test_no_rows_say_so() -> None:
    assert breakdown_body([], "seller") == '<div class="cc-table-empty">No calls yet.</div>'
    assert "No events yet." in events_html([], fmt.store_zone("UTC"), "UTC")


def test_events_show_local_times_and_unknown_severities_safely() -> None:
    events = [{"ts": "2026-11-25T11:00:00Z", "type": "<t>", "severity": "fatal", "message": "<m>"}]
    html = events_html(events, fmt.store_zone("Europe/Berlin"), "Europe/Berlin")
    assert "Nov 25, 12:00:00" in html and "times in Europe/Berlin" in html and "1 latest" in html
    assert "cc-event-unknown" in html and "&lt;t&gt;" in html and "&lt;m&gt;" in html and "<m>" not in html
