"""The page's views (views.md, "The page"): range picker, API filter, URL, changes, exports, dark theme.

The view on screen is a :class:`ViewChoice` (``ccanalytics.ui.choice``), read
from the page's URL query and written back to it (``ccanalytics.ui.url``), so a
link opens the same view.  The refresh computes the snapshot of the chosen view
off the loop (``ViewChoice.snapshot_args``); :func:`show_scope` then updates the
widgets in place: the cards with their change lines (``ccanalytics.ui.changes``),
the chart, the breakdown and the downloads.  The stylesheet is ``ccanalytics.ui.theme``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.changes import change_line, overview_changes, view_cards
from ccanalytics.ui.choice import OVERVIEW, RANGE_CHOICES, WINDOWS, ViewChoice
from ccanalytics.ui.exports import csv_bytes, parquet_bytes
from ccanalytics.ui.markup import esc
from ccanalytics.ui.parts import records, section
from ccanalytics.ui.theme import DARK_CSS, view_style_widget
from ccanalytics.ui.url import UrlState, apply_query, follow_url

__all__ = [
    "DARK_CSS",
    "OVERVIEW",
    "RANGE_CHOICES",
    "UrlState",
    "ViewChoice",
    "ViewControls",
    "apply_query",
    "change_line",
    "export_links",
    "follow_url",
    "overview_changes",
    "series_rows",
    "show_scope",
    "view_cards",
    "view_style_widget",
]

_ALL_APIS = ""


# -- the chart's buckets ---------------------------------------------------------------------------------


def series_rows(view: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    """A view's series in the chart's form (``hour`` = the bucket's start)."""
    return [{**row, "hour": row.get("start")} for row in records(section(view, role).get("series"))]


# -- exports -----------------------------------------------------------------------------------------------

BREAKDOWN_FIELDS = (
    "api_id",
    "api_name",
    "calls",
    "success",
    "errors",
    "usdc",
    "avg_latency_ms",
    "p95_latency_ms",
    "success_rate",
)
EVENT_FIELDS = ("ts", "type", "severity", "message")
_KINDS = {"calls": "int", "success": "int", "errors": "int", "avg_latency_ms": "float"}
_KINDS |= {"p95_latency_ms": "float", "success_rate": "float"}
_COLUMNS = {
    "breakdown": [(name, _KINDS.get(name, "text")) for name in BREAKDOWN_FIELDS],
    "events": [(name, "text") for name in EVENT_FIELDS],
}


def _data_uri(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


def export_links(breakdown: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]], stem: str) -> str:
    """Download links (CSV and Parquet) of the breakdown and the event log on screen, as data URIs.

    Examples
    --------
    >>> html = export_links([{"api_id": "a"}], [], "ccanalytics-buyer")
    >>> html.count("download="), 'download="ccanalytics-buyer-breakdown.csv"' in html
    (4, True)
    """
    links = []
    for kind, rows, label in (("breakdown", breakdown, "Breakdown"), ("events", events, "Event log")):
        columns = _COLUMNS[kind]
        for ext, mime, payload in (
            ("csv", "text/csv", csv_bytes(columns, rows)),
            ("parquet", "application/vnd.apache.parquet", parquet_bytes(columns, rows)),
        ):
            name = f"{stem}-{kind}.{ext}"
            links.append(
                f'<a class="cc-export-link cc-export-{kind}-{ext}" download="{esc(name)}" '
                f'href="{_data_uri(mime, payload)}">{esc(label)} {ext.upper() if ext == "csv" else "Parquet"}</a>'
            )
    return f'<div class="cc-export-body"><span class="cc-export-label">Download</span>{"".join(links)}</div>'


# -- the controls --------------------------------------------------------------------------------------------


class ViewControls:
    """The range picker (``cc-range``), the API filter (``cc-api-filter``) and the downloads (``cc-export``)."""

    def __init__(self, choice: ViewChoice) -> None:
        self.choice = choice
        self.syncing = False
        self.resend = 0  # refreshes that send the controls' state again (see ``apply_query``)
        self.range = widgets.ToggleButtons(
            options=list(RANGE_CHOICES),
            value=choice.range,
            tooltips=["Today's overview", "Last hour", "Last 24 hours", "Last 7 days", "Last 30 days", "Last 90 days"],
        )
        self.range.add_class("cc-range")
        # A visible label: a select without one has no accessible name (axe: select-name).
        self.api = widgets.Dropdown(
            options=[("All APIs", _ALL_APIS)],
            value=_ALL_APIS,
            description="API",
            style={"description_width": "initial"},
        )
        self.api.add_class("cc-api-filter")
        self._offer_api(choice.api)
        self.export = widgets.HTML()
        self.export.add_class("cc-export")
        self.url = UrlState(query=choice.query())
        self.touched = False  # whether the visitor has picked a range or an API
        self.range.observe(self._touch, names="value")
        self.api.observe(self._touch, names="value")
        self.url.add_class("cc-url")
        self.widget = widgets.HBox([self.range, self.api, self.export, self.url])
        self.widget.add_class("cc-view-bar")

    def _touch(self, _change: object) -> None:
        if not self.syncing:
            self.touched = True

    def _offer_api(self, api: str | None, ids: Sequence[str] = ()) -> None:
        wanted = [(str(i), str(i)) for i in ids]
        if api and api not in ids:
            wanted.append((api, api))
        options = [("All APIs", _ALL_APIS), *wanted]
        if list(self.api.options) != options:
            self.api.options = options
        self.api.value = api or _ALL_APIS

    def offer(self, ids: Sequence[str]) -> None:
        """Offer these api_ids in the filter (keeping the chosen one)."""
        self.syncing = True
        try:
            self._offer_api(self.choice.api, ids)
        finally:
            self.syncing = False

    def sync(self) -> None:
        """Show the choice in the controls (the URL follows when the view is shown: ``show_scope``)."""
        self.syncing = True
        try:
            if self.range.value != self.choice.range:
                self.range.value = self.choice.range
            self._offer_api(self.choice.api, [value for _, value in self.api.options if value])
        finally:
            self.syncing = False


_HINTS = {
    "1h": "calls per minute, last hour",
    "24h": "calls per hour, last 24 h",
    "7d": "calls per hour, last 7 days",
    "30d": "calls per local day, last 30 days",
    "90d": "calls per local day, last 90 days",
}


def show_scope(dashboard: Any, role: str, zone_name: str) -> None:
    """Fill the cards, chart, breakdown and downloads of ``dashboard`` for ``role`` in its chosen view.

    A ranged view shows once the snapshot holds it (the refresh that computes
    it runs off the loop); until then the overview stays on screen.
    """
    snapshot = dashboard.snapshot
    zone = fmt.store_zone(zone_name)
    figures = section(snapshot, role)
    overall = records(figures.get("breakdown"))
    dashboard.controls.offer([str(r.get("api_id")) for r in overall if r.get("api_id") is not None])
    view = snapshot.get("view")
    choice: ViewChoice = dashboard.view
    if choice.range != OVERVIEW and isinstance(view, Mapping) and isinstance(view.get(role), Mapping):
        name = str(view.get("range"))
        dashboard.kpis.show_cards(f"{role}-view", view_cards(role, view))
        hint = _HINTS.get(name, "calls")
        if view.get("api"):
            hint = f"{hint}, {view.get('api')}"
        dashboard.chart.update(series_rows(view, role), zone, zone_name, bucket=str(view.get("bucket")), hint=hint)
        rows = records(view[role].get("breakdown"))
        stem = f"ccanalytics-{role}-{name}"
    else:
        from ccanalytics.ui.cards import buyer_cards, seller_cards

        cards = seller_cards(snapshot) if role == "seller" else buyer_cards(snapshot)
        dashboard.kpis.show_cards(role, overview_changes(role, cards, snapshot))
        dashboard.chart.update(list(figures.get("call_rate") or ()), zone, zone_name)
        rows = overall
        stem = f"ccanalytics-{role}"
    dashboard.breakdown.update(rows, role)
    scope = (
        "all time" if stem == f"ccanalytics-{role}" else WINDOWS.get(str(section(snapshot, "view").get("range")), "")
    )
    count = len(rows)
    title = (
        '<div class="cc-panel-head"><h2 class="cc-panel-name">API breakdown</h2>'
        f'<span class="cc-panel-hint">{count:,} {"API" if count == 1 else "APIs"} · {esc(scope)} · '
        "click a column to sort</span></div>"
    )
    if dashboard.breakdown.title.value != title:
        dashboard.breakdown.title.value = title
    events = records(snapshot.get("events"))
    dashboard.controls.export.value = export_links(rows, events, stem)
    controls = dashboard.controls
    controls.url.query = choice.query()
    if controls.resend > 0:
        controls.resend -= 1
        for widget in (controls.range, controls.api, controls.url, dashboard.mode_switch):
            widget.send_state()
