"""The page's views (views.md, "The page"): range picker, API filter, URL, changes, exports, dark theme.

The view on screen is a :class:`ViewChoice` (range, role, API) read from the
page's URL query (Voila hands the kernel ``QUERY_STRING``) and written back to
it with ``history.replaceState`` (:class:`UrlState`), so a link opens the same
view.  The refresh computes the snapshot of the chosen view off the loop
(``ViewChoice.snapshot_args``); the widgets are then updated in place.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import anywidget
import ipywidgets as widgets
import traitlets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.cards import Card
from ccanalytics.ui.exports import csv_bytes, parquet_bytes
from ccanalytics.ui.markup import esc

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

OVERVIEW = "overview"
RANGE_CHOICES = (("Overview", OVERVIEW), ("1h", "1h"), ("24h", "24h"), ("7d", "7d"), ("30d", "30d"), ("90d", "90d"))
_RANGES = tuple(value for _, value in RANGE_CHOICES)
_ROLES = ("buyer", "seller")
_ALL_APIS = ""
_PERIOD = {"1h": "previous 1 h", "24h": "previous 24 h", "7d": "previous 7 d", "30d": "previous 30 d"}
_PERIOD["90d"] = "previous 90 d"
_WINDOW = {"1h": "last 1 h", "24h": "last 24 h", "7d": "last 7 d", "30d": "last 30 d", "90d": "last 90 d"}


@dataclass
class ViewChoice:
    """The view on screen: ``range`` (``overview`` or a views.md range), ``role`` (None: the mode), ``api``."""

    range: str = OVERVIEW
    role: str | None = None
    api: str | None = None

    @classmethod
    def from_query(cls, query: str | None) -> ViewChoice:
        """The view a URL query asks for; unknown values are ignored.

        Examples
        --------
        >>> ViewChoice.from_query("range=30d&role=buyer&api=bb-graphql")
        ViewChoice(range='30d', role='buyer', api='bb-graphql')
        >>> ViewChoice.from_query("range=5y&role=admin&api=")
        ViewChoice(range='overview', role=None, api=None)
        """
        values = parse_qs(query or "", keep_blank_values=True)

        def first(key: str) -> str | None:
            found = values.get(key)
            return found[0] if found else None

        chosen = first("range")
        role = first("role")
        api = first("api")
        return cls(
            range=chosen if chosen in _RANGES else OVERVIEW,
            role=role if role in _ROLES else None,
            api=api if api and len(api) <= 200 else None,
        )

    def query(self) -> str:
        """The URL query of this view (empty for the default view).

        Examples
        --------
        >>> ViewChoice("7d", "seller", "bb-graphql").query()
        'range=7d&role=seller&api=bb-graphql'
        >>> ViewChoice().query()
        ''
        """
        items = [("range", self.range if self.range != OVERVIEW else None), ("role", self.role), ("api", self.api)]
        return urlencode([(k, v) for k, v in items if v], quote_via=quote)

    def snapshot_args(self) -> dict[str, Any]:
        """The keyword arguments of ``store.snapshot`` for this view.

        Examples
        --------
        >>> ViewChoice("90d", api="x").snapshot_args(), ViewChoice(api="x").snapshot_args()
        ({'range': '90d', 'api': 'x'}, {})
        """
        if self.range == OVERVIEW:
            return {}
        return {"range": self.range, "api": self.api}

    def shows(self, snapshot: Mapping[str, Any]) -> bool:
        """Whether ``snapshot`` holds this view (its ``view`` object, or the overview)."""
        view = snapshot.get("view")
        if self.range == OVERVIEW:
            return True
        return isinstance(view, Mapping) and view.get("range") == self.range and view.get("api") == self.api


# -- cards ------------------------------------------------------------------------------------------------

_GOOD_WHEN = {"calls": 1, "success_rate": 1, "usdc_revenue": 1, "consumers": 1, "latency": -1, "usdc_spent": 0}


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def change_line(current: object, previous: object, kind: str, period: str) -> tuple[str, str]:
    """The change under a card's value and its tone: ``good``, ``bad`` or ``neutral``.

    Counts, money and latency change in percent of the previous figure; a
    success rate in percentage points.  More calls, revenue or success and
    less latency are good; spend is neutral.

    Examples
    --------
    >>> change_line(112, 100, "calls", "previous 24 h")
    ('▲ 12 % vs previous 24 h', 'good')
    >>> change_line(250.0, 200.0, "latency", "previous 7 d")
    ('▲ 25 % vs previous 7 d', 'bad')
    >>> change_line(0.95, 0.97, "success_rate", "previous 24 h")
    ('▼ 2.0 pt vs previous 24 h', 'bad')
    >>> change_line("2.000000", "1.000000", "usdc_spent", "previous 24 h")
    ('▲ 100 % vs previous 24 h', 'neutral')
    >>> change_line(5, 0, "calls", "previous 24 h")
    ('none in the previous 24 h', 'neutral')
    """
    now, before = _number(current), _number(previous)
    if before is None or (before == 0 and kind != "success_rate"):
        return f"none in the {period}", "neutral"
    if now is None:
        return f"— vs {period}", "neutral"
    if kind == "success_rate":
        delta = (now - before) * 100
        size = f"{abs(delta):.1f} pt"
    else:
        delta = (now - before) / before * 100
        size = f"{abs(delta):.1f} %" if abs(delta) < 10 else f"{abs(delta):,.0f} %"
    if size.startswith(("0.0 ", "0 ")):
        return f"= same as {period}", "neutral"
    arrow = "▲" if delta > 0 else "▼"
    sense = _GOOD_WHEN[kind]
    tone = "neutral" if sense == 0 else ("good" if (delta > 0) == (sense > 0) else "bad")
    return f"{arrow} {size} vs {period}", tone


def _with_change(card: Card, current: object, previous: object, kind: str, period: str) -> Card:
    text, tone = change_line(current, previous, kind, period)
    return replace(card, change=text, change_tone=tone)


def _p95_sub(p95: object, rest: str) -> str:
    return f"p95 {fmt.latency(p95)} · {rest}"


def overview_changes(role: str, cards: Sequence[Card], snapshot: Mapping[str, Any]) -> list[Card]:
    """The overview's cards with their change against the previous 24 h (7 d) and p95 under Avg Latency.

    Examples
    --------
    >>> snap = {"buyer": {"calls_24h": 12, "p95_latency_ms_24h": 610.0, "previous_24h": {"calls": 10}}}
    >>> cards = [Card("calls_24h", "Calls (24h)", "12", ""), Card("avg_latency_ms_24h", "Avg Latency", "1 ms", "")]
    >>> [(c.change, c.sub) for c in overview_changes("buyer", cards, snap)]
    [('▲ 20 % vs previous 24 h', ''), ('none in the previous 24 h', 'p95 610 ms · last 24 h')]
    """
    section = snapshot.get(role)
    section = section if isinstance(section, Mapping) else {}
    before = section.get("previous_24h") if isinstance(section.get("previous_24h"), Mapping) else {}
    week = section.get("previous_7d") if isinstance(section.get("previous_7d"), Mapping) else {}
    day = "previous 24 h"
    if not before:  # a snapshot without views.md's figures (an older one): the cards as they are
        return list(cards)
    out = []
    for card in cards:
        if card.key == "calls_24h":
            card = _with_change(card, section.get("calls_24h"), before.get("calls"), "calls", day)
        elif card.key == "success_rate_24h":
            card = _with_change(card, section.get("success_rate_24h"), before.get("success_rate"), "success_rate", day)
        elif card.key == "avg_latency_ms_24h":
            card = _with_change(card, section.get("avg_latency_ms_24h"), before.get("avg_latency_ms"), "latency", day)
            card = replace(card, sub=_p95_sub(section.get("p95_latency_ms_24h"), "last 24 h"))
        elif card.key == "spent_24h_usdc":
            card = _with_change(card, section.get("spent_24h_usdc"), before.get("usdc"), "usdc_spent", day)
        elif card.key == "revenue_24h_usdc":
            card = _with_change(card, section.get("revenue_24h_usdc"), before.get("usdc"), "usdc_revenue", day)
        elif card.key == "calls_7d" and week:
            card = _with_change(card, section.get("calls_7d"), week.get("calls"), "calls", "previous 7 d")
        out.append(card)
    return out


def view_cards(role: str, view: Mapping[str, Any]) -> list[Card]:
    """The cards of a ranged view: calls, success rate, latency (p95 under it), money; sellers add consumers.

    Examples
    --------
    >>> view = {"range": "7d", "seller": {"calls": 840, "success_rate": 0.97, "avg_latency_ms": 212.4,
    ...     "p95_latency_ms": 610.0, "usdc": "0.840000", "consumers": 12, "new_consumers": 3,
    ...     "previous": {"calls": 800, "success_rate": 0.98, "avg_latency_ms": 205.0, "usdc": "0.800000"}}}
    >>> [(c.label, c.value, c.change) for c in view_cards("seller", view)][:2]
    [('Calls Served (7d)', '840', '▲ 5.0 % vs previous 7 d'), ('Success Rate', '97.0 %', '▼ 1.0 pt vs previous 7 d')]
    """
    name = str(view.get("range"))
    section = view.get(role)
    section = section if isinstance(section, Mapping) else {}
    before = section.get("previous") if isinstance(section.get("previous"), Mapping) else {}
    period, window = _PERIOD.get(name, "previous period"), _WINDOW.get(name, "")
    seller = role == "seller"
    cards = [
        _with_change(
            Card("calls", f"{'Calls Served' if seller else 'Calls'} ({name})", fmt.count(section.get("calls")), window),
            section.get("calls"),
            before.get("calls"),
            "calls",
            period,
        ),
        _with_change(
            Card("success_rate", "Success Rate", fmt.rate(section.get("success_rate")), window),
            section.get("success_rate"),
            before.get("success_rate"),
            "success_rate",
            period,
        ),
        _with_change(
            Card(
                "avg_latency_ms",
                "Avg Latency",
                fmt.latency(section.get("avg_latency_ms")),
                _p95_sub(section.get("p95_latency_ms"), window),
            ),
            section.get("avg_latency_ms"),
            before.get("avg_latency_ms"),
            "latency",
            period,
        ),
        _with_change(
            Card("usdc", f"{'Revenue' if seller else 'USDC Spent'} ({name})", fmt.usdc(section.get("usdc")), window),
            section.get("usdc"),
            before.get("usdc"),
            "usdc_revenue" if seller else "usdc_spent",
            period,
        ),
    ]
    if seller:
        new = section.get("new_consumers")
        cards.append(Card("consumers", "Consumers", fmt.count(section.get("consumers")), f"{fmt.count(new)} new"))
    return cards


# -- the chart's buckets ---------------------------------------------------------------------------------


def series_rows(view: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    """A view's series in the chart's form (``hour`` = the bucket's start)."""
    section = view.get(role)
    rows = section.get("series") if isinstance(section, Mapping) else None
    return [{**row, "hour": row.get("start")} for row in rows or () if isinstance(row, Mapping)]


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


# -- the URL -----------------------------------------------------------------------------------------------

_URL_ESM = r"""
function render({ model, el }) {
  el.classList.add("cc-url-state");
  const write = () => {
    const query = model.get("query");
    const url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", url);
    }
  };
  // Only changes are written: the URL the page opened with is the kernel's to read, not to erase.
  model.on("change:query", write);
  return () => model.off("change:query", write);
}
export default { render };
"""


class UrlState(anywidget.AnyWidget):
    """An invisible widget that keeps the page's URL query equal to ``query`` (``history.replaceState``).

    The page writes only changes: a preheated kernel learns the page's query
    only after the page opened, and must not erase it first.
    """

    _esm = _URL_ESM
    query = traitlets.Unicode("").tag(sync=True)


def apply_query(dashboard: Any, query: str | None) -> None:
    """Show the view a URL query asks for (on the kernel's loop), then keep the URL in step."""
    if dashboard.controls.touched:  # the visitor picked a view before the query came: theirs wins
        return
    wanted = ViewChoice.from_query(query)
    choice: ViewChoice = dashboard.view
    changed = (wanted.range, wanted.api) != (choice.range, choice.api)
    choice.range, choice.api = wanted.range, wanted.api
    if wanted.role is not None:
        choice.role = wanted.role
        dashboard._chosen_role = wanted.role
    dashboard.controls.sync()
    # A preheated kernel may apply the query before the page has connected: say it again later.
    dashboard.controls.resend = 2
    dashboard._show_role()
    request = getattr(dashboard.refresher, "request_refresh", None)
    if changed and callable(request):
        request()


def follow_url(dashboard: Any) -> None:
    """Show the view of the page's URL query (``?range=7d&role=seller&api=…``).

    Voila hands a kernel the query in ``QUERY_STRING``; a preheated kernel
    (``serve`` keeps one warm) runs before its visitor arrives, so it waits for
    the request in a thread and applies the query on the loop when it comes.
    """
    import asyncio
    import os
    import threading

    if os.environ.get("VOILA_PREHEAT", "False") == "False":
        apply_query(dashboard, os.environ.get("QUERY_STRING", ""))
        return
    loop = asyncio.get_running_loop()

    def wait() -> None:
        try:
            from voila.utils import wait_for_request

            wait_for_request()
        except Exception:  # no request info: keep the default view (and still follow the controls)
            pass
        loop.call_soon_threadsafe(apply_query, dashboard, os.environ.get("QUERY_STRING", ""))

    threading.Thread(target=wait, name="ccanalytics-url", daemon=True).start()


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
    section = snapshot.get(role) if isinstance(snapshot.get(role), Mapping) else {}
    overall = [r for r in section.get("breakdown") or () if isinstance(r, Mapping)]
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
        rows = [r for r in view[role].get("breakdown") or () if isinstance(r, Mapping)]
        stem = f"ccanalytics-{role}-{name}"
    else:
        from ccanalytics.ui.cards import buyer_cards, seller_cards

        cards = seller_cards(snapshot) if role == "seller" else buyer_cards(snapshot)
        dashboard.kpis.show_cards(role, overview_changes(role, cards, snapshot))
        dashboard.chart.update(list(section.get("call_rate") or ()), zone, zone_name)
        rows = overall
        stem = f"ccanalytics-{role}"
    dashboard.breakdown.update(rows, role)
    scope = "all time" if stem == f"ccanalytics-{role}" else _WINDOW.get(str(view.get("range")), "")  # type: ignore[union-attr]
    count = len(rows)
    title = (
        '<div class="cc-panel-head"><h2 class="cc-panel-name">API breakdown</h2>'
        f'<span class="cc-panel-hint">{count:,} {"API" if count == 1 else "APIs"} · {esc(scope)} · '
        "click a column to sort</span></div>"
    )
    if dashboard.breakdown.title.value != title:
        dashboard.breakdown.title.value = title
    events = [e for e in snapshot.get("events") or () if isinstance(e, Mapping)]
    dashboard.controls.export.value = export_links(rows, events, stem)
    controls = dashboard.controls
    controls.url.query = choice.query()
    if controls.resend > 0:
        controls.resend -= 1
        for widget in (controls.range, controls.api, controls.url, dashboard.mode_switch):
            widget.send_state()


DARK_CSS = """
.cc-dashboard .cc-view-bar { align-items: center; gap: 12px; flex-wrap: wrap; }
.cc-dashboard .cc-url { display: none; }
.cc-dashboard .cc-range { margin: 0; }
.cc-dashboard .cc-range .jupyter-widget-toggle-buttons, .cc-dashboard .cc-range.widget-toggle-buttons,
.cc-dashboard .cc-range.jupyter-widget-toggle-buttons {
  display: inline-flex; background: #e9eef5; border-radius: 9px; padding: 3px; width: auto;
}
.cc-dashboard .cc-range .jupyter-button {
  width: auto; min-width: 44px; height: 28px; margin: 0; padding: 0 12px; border-radius: 7px;
  background: transparent; box-shadow: none; color: var(--cc-muted); font-weight: 600; font-size: 13px;
}
.cc-dashboard .cc-range .jupyter-button.mod-active {
  background: #ffffff; color: var(--cc-text); box-shadow: 0 1px 2px rgba(15, 23, 42, 0.12);
}
.cc-dashboard .cc-api-filter { width: auto; margin: 0; }
.cc-dashboard .cc-api-filter select {
  height: 32px; border-radius: 8px; border: 1px solid var(--cc-border); padding: 0 8px; font-size: 13px;
  min-width: 10em; flex: none;
}
.cc-dashboard .cc-api-filter .widget-label { color: var(--cc-muted); font-size: 13px; margin-right: 6px; }
.cc-dashboard .cc-export { margin-left: auto; }
.cc-dashboard .cc-export-body {
  display: inline-flex; gap: 10px; align-items: center; flex-wrap: wrap; font-size: 12.5px;
}
.cc-dashboard .cc-export-label { color: var(--cc-muted); font-weight: 600; }
.cc-dashboard .cc-export-link { color: var(--cc-blue); font-weight: 600; text-decoration: none; }
.cc-dashboard .cc-card-change { font-size: 12.5px; margin-top: 4px; font-weight: 600; }
.cc-dashboard .cc-change-good { color: var(--cc-green); }
.cc-dashboard .cc-change-bad { color: var(--cc-red); }
.cc-dashboard .cc-change-neutral { color: var(--cc-muted); }
/* The dark theme: last, so that it wins over the light rules above. */
@media (prefers-color-scheme: dark) {
  body, .jp-Notebook, .jp-Cell, .jp-OutputArea-output, #rendered_cells { background: #0b1120 !important; }
  .cc-dashboard {
    --cc-bg: #0f172a; --cc-card: #111c31; --cc-border: #23324d; --cc-line: #1c2a42;
    --cc-text: #e2e8f0; --cc-muted: #94a3b8; --cc-faint: #64748b;
    --cc-green: #22c55e; --cc-red: #f87171; --cc-amber: #fbbf24; --cc-blue: #60a5fa;
  }
  .cc-dashboard .jupyter-widget-html-content, .cc-dashboard .widget-html-content { color: var(--cc-text); }
  .cc-dashboard .cc-mode .jupyter-widget-toggle-buttons, .cc-dashboard .cc-mode .widget-toggle-buttons,
  .cc-dashboard .cc-range.widget-toggle-buttons, .cc-dashboard .cc-range.jupyter-widget-toggle-buttons,
  .cc-dashboard .cc-range .jupyter-widget-toggle-buttons { background: #1e293b; }
  .cc-dashboard .cc-th, .cc-dashboard .cc-sort { color: var(--cc-muted); background: transparent; }
  .cc-dashboard .cc-banner { filter: saturate(0.8) brightness(0.9); }
  .cc-dashboard .cc-mode .jupyter-button.mod-active, .cc-dashboard .cc-range .jupyter-button.mod-active {
    background: #334155; color: var(--cc-text);
  }
  .cc-dashboard .jupyter-button.cc-refresh, .cc-dashboard .cc-api-filter select {
    background: #1e293b; color: var(--cc-text); border-color: var(--cc-border);
  }
  .cc-dashboard .cc-pill-ok, .cc-dashboard .cc-pill-idle, .cc-dashboard .cc-badge-unknown {
    background: #1e293b; color: var(--cc-muted);
  }
  .cc-dashboard .cc-badge-mode { background: #312e81; color: #c7d2fe; }
  .cc-dashboard .cc-badge-up { background: #052e2b; color: #6ee7b7; border-color: #065f46; }
  .cc-dashboard .cc-kpi-warn .cc-card { background: #2a2110; border-color: #92400e; }
  .cc-dashboard .cc-empty { border-color: var(--cc-border); }
  .cc-dashboard .bqplot text, .cc-dashboard .bqplot .tick text { fill: #94a3b8 !important; }
  .cc-dashboard .bqplot .tick line { stroke: #23324d !important; }
  .cc-dashboard .bqplot, .cc-dashboard .bqplot svg { background: transparent !important; }
  .cc-dashboard .bqplot .plotarea_background { fill: transparent !important; }
}
"""


def view_style_widget() -> widgets.HTML:
    """The views' stylesheet (controls, change lines, the dark theme) as an invisible widget."""
    style = widgets.HTML(f"<style>{DARK_CSS}</style>")
    style.add_class("cc-style")
    return style
