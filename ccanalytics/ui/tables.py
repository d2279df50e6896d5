"""The API breakdown (sortable) and the event log.

Sorting happens in Python: the header cells are buttons, so the chosen order
survives every refresh (a sort done in the browser would be lost each time the
table's HTML is replaced).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.markup import esc

if TYPE_CHECKING:
    from datetime import tzinfo

__all__ = [
    "BREAKDOWN_COLUMNS",
    "SEVERITY_ICONS",
    "BreakdownTable",
    "Column",
    "EventLog",
    "breakdown_body",
    "events_html",
    "sort_rows",
]


@dataclass(frozen=True)
class Column:
    """A breakdown column: the row key, its header, how to show it, and its first sort direction."""

    key: str
    header: str
    show: Callable[[object], str]
    numeric: bool = True


def _api(value: object) -> str:
    return fmt.UNKNOWN if value is None else str(value)


_API = Column("api_name", "API", _api, numeric=False)
_COUNTS = (
    Column("calls", "Calls", fmt.count),
    Column("success", "Success", fmt.count),
    Column("errors", "Errors", fmt.count),
)
BREAKDOWN_COLUMNS: dict[str, tuple[Column, ...]] = {
    "buyer": (
        _API,
        *_COUNTS,
        Column("usdc", "USDC spent", fmt.usdc),
        Column("avg_latency_ms", "Avg latency", fmt.latency),
    ),
    "seller": (
        _API,
        *_COUNTS,
        Column("usdc", "USDC earned", fmt.usdc),
        Column("success_rate", "Success rate", fmt.rate),
    ),
}
_ARIA_SORT = {True: "descending", False: "ascending"}


def _sort_value(key: str, row: Mapping[str, Any]) -> str | Decimal | None:
    """A comparable value of ``row[key]``, or ``None`` when it is unknown."""
    value = row.get(key)
    if key == "api_name":
        name = value if value is not None else row.get("api_id")
        return None if name is None else str(name).casefold()
    if value is None or isinstance(value, bool):
        return None
    try:
        # Decimal, not float: USDC strings compare exactly, to the micro-USDC.
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def sort_rows(rows: Sequence[Mapping[str, Any]], key: str, descending: bool) -> list[Mapping[str, Any]]:
    """Rows ordered by ``key``; unknown values last either way, ties kept in the snapshot's order.

    Examples
    --------
    >>> rows = [{"api_id": "a", "avg_latency_ms": None}, {"api_id": "b", "avg_latency_ms": 80.0},
    ...         {"api_id": "c", "avg_latency_ms": 200.0}]
    >>> [r["api_id"] for r in sort_rows(rows, "avg_latency_ms", descending=True)]
    ['c', 'b', 'a']
    >>> [r["api_id"] for r in sort_rows(rows, "avg_latency_ms", descending=False)]
    ['b', 'c', 'a']
    """
    values = [(_sort_value(key, row), row) for row in rows]
    known = [(value, row) for value, row in values if value is not None]
    unknown = [row for value, row in values if value is None]
    # sorted() is stable with reverse=True too, so equal values keep the snapshot's order.
    return [*(row for _, row in sorted(known, key=lambda pair: pair[0], reverse=descending)), *unknown]


def _api_cell(row: Mapping[str, Any]) -> str:
    api_id = row.get("api_id")
    name = row.get("api_name") if row.get("api_name") is not None else api_id
    html = f'<span class="cc-api-name">{esc(_api(name))}</span>'
    if api_id is not None and str(api_id) != str(name):
        html += f'<span class="cc-api-id">{esc(api_id)}</span>'
    return html


def breakdown_body(
    rows: Sequence[Mapping[str, Any]], role: str, sort_key: str | None = None, descending: bool = True
) -> str:
    """The breakdown's rows as an ARIA table of ``role="row"`` divs; every text is escaped.

    Each number cell carries its column's name (``data-label``: a phone shows
    the rows as cards); a header row for assistive technology says which
    column is sorted (``aria-sort``); the visible header is the sort buttons.

    Examples
    --------
    >>> html = breakdown_body([{"api_id": "x", "api_name": "<b>X</b>", "calls": 1200, "success": 1199,
    ...                         "errors": 1, "usdc": "1.200000", "success_rate": 0.99917}], "seller", "calls")
    >>> "&lt;b&gt;X&lt;/b&gt;" in html, "1,200" in html, "1.20 USDC" in html, "99.9 %" in html
    (True, True, True, True)
    >>> 'aria-sort="descending">Calls<' in html, 'data-label="USDC earned"' in html
    (True, True)
    """
    columns = BREAKDOWN_COLUMNS["seller" if role == "seller" else "buyer"]
    if not rows:
        return '<div class="cc-table-empty">No calls yet.</div>'
    heads = "".join(
        f'<div role="columnheader" aria-sort="{_ARIA_SORT[descending] if c.key == sort_key else "none"}">'
        f"{esc(c.header)}</div>"
        for c in columns
    )
    lines = []
    for row in rows:
        cells = [f'<div role="cell" class="cc-cell cc-cell-api">{_api_cell(row)}</div>']
        cells += [
            f'<div role="cell" class="cc-cell cc-num" data-label="{esc(c.header)}">{esc(c.show(row.get(c.key)))}</div>'
            for c in columns[1:]
        ]
        lines.append(f'<div role="row" class="cc-row">{"".join(cells)}</div>')
    return (
        '<div role="table" class="cc-table" aria-label="API breakdown">'
        f'<div role="rowgroup" class="cc-sr-only"><div role="row">{heads}</div></div>'
        f'<div role="rowgroup" class="cc-rows">{"".join(lines)}</div></div>'
    )


class BreakdownTable:
    """The API breakdown panel: header buttons that sort, and the rows as HTML.

    Clicking a header sorts by it (numbers largest first, names A to Z);
    clicking it again reverses. The default is the snapshot's own order:
    calls descending, then ``api_id``.
    """

    def __init__(self) -> None:
        self.title = widgets.HTML()
        self.title.add_class("cc-panel-title")
        self.header = widgets.GridBox()
        self.header.add_class("cc-thead")
        self.body = widgets.HTML()
        self.body.add_class("cc-tbody")
        self.widget = widgets.VBox([self.title, self.header, self.body])
        self.widget.add_class("cc-panel")
        self.widget.add_class("cc-breakdown")
        self.sort_key = "calls"
        self.descending = True
        self.role = "buyer"
        self._rows: list[Mapping[str, Any]] = []
        self.sort_buttons: dict[str, widgets.Button] = {}
        self._set_columns("buyer")
        self._render()

    def _set_columns(self, role: str) -> None:
        buttons = {}
        for column in BREAKDOWN_COLUMNS[role]:
            button = widgets.Button(tooltip=f"Sort by {column.header}")
            button.add_class("cc-th")
            button.add_class("cc-sort")
            if column.numeric:
                button.add_class("cc-num")
            button.on_click(lambda _button, key=column.key: self.sort_by(key))
            buttons[column.key] = button
        old = self.sort_buttons.values()
        self.sort_buttons = buttons
        self.header.children = tuple(buttons.values())
        for button in old:
            button.close()

    def sort_by(self, key: str) -> None:
        """Sort by column ``key``; the same column again reverses the order."""
        if key == self.sort_key:
            self.descending = not self.descending
        else:
            column = next(c for c in BREAKDOWN_COLUMNS[self.role] if c.key == key)
            self.sort_key, self.descending = key, column.numeric
        self._render()

    def update(self, rows: Sequence[Mapping[str, Any]], role: str) -> None:
        """Show ``role``'s breakdown rows, keeping the chosen sort."""
        role = "seller" if role == "seller" else "buyer"
        if role != self.role:
            self.role = role
            self._set_columns(role)
            if all(c.key != self.sort_key for c in BREAKDOWN_COLUMNS[role]):
                self.sort_key, self.descending = "calls", True
        self._rows = [row for row in rows if isinstance(row, Mapping)]
        self._render()

    @property
    def rows(self) -> list[Mapping[str, Any]]:
        """The rows in the order shown."""
        return sort_rows(self._rows, self.sort_key, self.descending)

    def _render(self) -> None:
        for column in BREAKDOWN_COLUMNS[self.role]:
            button = self.sort_buttons[column.key]
            active = column.key == self.sort_key
            button.description = f"{column.header} {'▼' if self.descending else '▲'}" if active else column.header
            if active:
                button.add_class("cc-sort-active")
            else:
                button.remove_class("cc-sort-active")
        count = len(self._rows)
        self.title.value = (
            '<div class="cc-panel-head"><h2 class="cc-panel-name">API breakdown</h2>'
            f'<span class="cc-panel-hint">{count:,} {"API" if count == 1 else "APIs"} · all time · '
            "click a column to sort</span></div>"
        )
        self.body.value = breakdown_body(self.rows, self.role, self.sort_key, self.descending)


def _icon(color: str, glyph: str, label: str) -> str:
    return (
        f'<svg class="cc-sev cc-sev-{label}" viewBox="0 0 16 16" width="16" height="16" role="img" '
        f'aria-label="{label}"><title>{label}</title>{glyph.format(c=color)}</svg>'
    )


# Inline SVG: the page must work offline, so no icon font from a CDN.
SEVERITY_ICONS = {
    "info": _icon(
        "#2563eb",
        '<circle cx="8" cy="8" r="7.5" fill="{c}"/><rect x="7.1" y="6.8" width="1.8" height="5.4" rx=".9" '
        'fill="#fff"/><circle cx="8" cy="4.4" r="1.15" fill="#fff"/>',
        "info",
    ),
    "warning": _icon(
        "#f59e0b",
        '<path d="M8 .9 15.6 14.6H.4Z" fill="{c}" stroke="{c}" stroke-width="1" stroke-linejoin="round"/>'
        '<rect x="7.1" y="5.4" width="1.8" height="5" rx=".9" fill="#fff"/><circle cx="8" cy="12.2" r="1.05" '
        'fill="#fff"/>',
        "warning",
    ),
    "error": _icon(
        "#dc2626",
        '<circle cx="8" cy="8" r="7.5" fill="{c}"/><path d="M5.4 5.4l5.2 5.2M10.6 5.4l-5.2 5.2" stroke="#fff" '
        'stroke-width="1.8" stroke-linecap="round"/>',
        "error",
    ),
}
_UNKNOWN_ICON = _icon("#94a3b8", '<circle cx="8" cy="8" r="7.5" fill="{c}"/>', "unknown")


def events_html(events: Sequence[Mapping[str, Any]], zone: tzinfo, zone_name: str) -> str:
    """The event log's table, in the snapshot's order (newest first); every text is escaped.

    Examples
    --------
    >>> html = events_html([{"ts": "2026-11-25T11:00:00Z", "type": "error", "severity": "error",
    ...                      "message": "<img src=x onerror=alert(1)>"}], fmt.store_zone("UTC"), "UTC")
    >>> "Nov 25, 11:00:00" in html, "cc-sev-error" in html, "<img" in html
    (True, True, False)
    """
    count = len(events)
    shown = f"{count:,} latest" if count else "none yet"
    head = (
        '<div class="cc-panel-head"><h2 class="cc-panel-name">Event log</h2>'
        f'<span class="cc-panel-hint">{shown} · newest first · times in {esc(zone_name)}</span></div>'
    )
    if not events:
        return head + '<div class="cc-table-empty">No events yet.</div>'
    rows = []
    for event in events:
        severity = event.get("severity")
        severity = severity if isinstance(severity, str) and severity in SEVERITY_ICONS else "unknown"
        icon = SEVERITY_ICONS.get(severity, _UNKNOWN_ICON)
        rows.append(
            f'<tr class="cc-event cc-event-{severity}">'
            f'<td class="cc-event-time">{esc(fmt.event_time(event.get("ts"), zone))}</td>'
            f'<td class="cc-event-type">{esc(event.get("type") or fmt.UNKNOWN)}</td>'
            f'<td class="cc-event-sev">{icon}</td>'
            f'<td class="cc-event-msg">{esc(event.get("message") or "")}</td></tr>'
        )
    return (
        f'{head}<table class="cc-events-table"><thead><tr><th scope="col">Time</th><th scope="col">Type</th>'
        f'<th scope="col">Severity</th><th scope="col">Description</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table>"
    )


class EventLog:
    """The event log panel: one HTML widget replaced on refresh."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.widget.add_class("cc-panel")
        self.widget.add_class("cc-events")

    def update(self, events: Sequence[Mapping[str, Any]], zone: tzinfo, zone_name: str) -> None:
        """Show ``events`` (newest first, as in the snapshot)."""
        self.widget.value = events_html([e for e in events if isinstance(e, Mapping)], zone, zone_name)
