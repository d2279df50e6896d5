"""The fleet page (``ccanalytics serve --lake DIR``): a fleet JSON in, an ipywidgets page out.

Built from the dashboard's own components — KPI cards (``card_html``), the
call-rate chart, the breakdown table, the stylesheet — with a table of the
nodes.  Test hooks: ``cc-fleet``, ``cc-fleet-kpis`` (cards ``cc-kpi-<key>``),
``cc-fleet-nodes`` (one ``cc-fleet-node`` row per node), ``cc-call-rate``,
``cc-breakdown``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.cards import Card, card_html
from ccanalytics.ui.chart import CallRateChart
from ccanalytics.ui.markup import esc
from ccanalytics.ui.style import style_widget
from ccanalytics.ui.tables import BreakdownTable

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["FleetPage", "fleet_cards", "nodes_html"]


def _role(fleet: Mapping[str, Any]) -> str:
    return "seller" if fleet.get("mode") == "seller" else "buyer"


def fleet_cards(result: Mapping[str, Any]) -> list[Card]:
    """The fleet's KPI cards: nodes, calls, success, latency and money of the last 24 h, all-time calls.

    Examples
    --------
    >>> fleet = {"mode": "buyer", "nodes": 2, "buyer": {"calls_24h": 10, "success_rate_24h": 0.9,
    ...     "avg_latency_ms_24h": 120.0, "p95_latency_ms_24h": 300.0, "spent_24h_usdc": "0.010000",
    ...     "total_calls": 50, "total_spent_usdc": "0.050000"}, "seller": {}}
    >>> [card.value for card in fleet_cards({"fleet": fleet})]
    ['2', '10', '90.0 %', '120 ms', '0.01 USDC', '50']
    """
    fleet = result.get("fleet") or {}
    role = _role(fleet)
    figures = fleet.get(role) or {}
    served = role == "seller"
    money_24h = figures.get("revenue_24h_usdc" if served else "spent_24h_usdc")
    total_money = figures.get("total_revenue_usdc" if served else "total_spent_usdc")
    p95 = figures.get("p95_latency_ms_24h")
    return [
        Card("nodes", "Nodes", fmt.count(fleet.get("nodes")), f"fleet as {'seller' if served else 'buyer'}"),
        Card(
            "calls_24h",
            "Calls Served (24h)" if served else "Calls (24h)",
            fmt.count(figures.get("calls_24h")),
            "all nodes",
        ),
        Card("success_rate_24h", "Success Rate", fmt.rate(figures.get("success_rate_24h")), "last 24 h"),
        Card(
            "avg_latency_ms_24h",
            "Avg Latency",
            fmt.latency(figures.get("avg_latency_ms_24h")),
            f"p95 {fmt.latency(p95)}",
        ),
        Card(
            "revenue_24h_usdc" if served else "spent_24h_usdc",
            "Revenue (24h)" if served else "USDC Spent (24h)",
            fmt.usdc(money_24h),
            "all nodes",
        ),
        Card("total_calls", "Total Calls Ever", fmt.count(figures.get("total_calls")), fmt.usdc(total_money)),
    ]


def nodes_html(result: Mapping[str, Any]) -> str:
    """The table of nodes, ranked by revenue (every text escaped).

    Examples
    --------
    >>> result = {"nodes": {"<n>": {"mode": "buyer"}}, "fleet": {"rankings": {"by_revenue": [{"node": "<n>",
    ...     "revenue_24h_usdc": "0.000000", "calls_24h": 3, "errors_24h": 1, "error_rate_24h": 0.333}]}}}
    >>> "&lt;n&gt;" in nodes_html(result) and "<n>" not in nodes_html(result)
    True
    """
    nodes = result.get("nodes") or {}
    ranking = ((result.get("fleet") or {}).get("rankings") or {}).get("by_revenue") or []
    head = "".join(
        f'<th class="{c}">{esc(h)}</th>'
        for h, c in (
            ("Node", ""),
            ("Mode", ""),
            ("Calls, both roles (24h)", "cc-num"),
            ("Errors, both roles (24h)", "cc-num"),
            ("Error rate", "cc-num"),
            ("Revenue (24h)", "cc-num"),
            ("USDC balance", "cc-num"),
        )
    )
    rows = []
    for entry in ranking:
        node = nodes.get(entry.get("node")) or {}
        balance = (node.get("balances") or {}).get("usdc")
        cells = [
            esc(entry.get("node")),
            esc(node.get("mode")),
            esc(fmt.count(entry.get("calls_24h"))),
            esc(fmt.count(entry.get("errors_24h"))),
            esc(fmt.rate(entry.get("error_rate_24h"))),
            esc(fmt.usdc(entry.get("revenue_24h_usdc"))),
            esc(fmt.usdc(balance)),
        ]
        tds = "".join(f'<td class="{"cc-num" if i > 1 else ""}">{c}</td>' for i, c in enumerate(cells))
        rows.append(f'<tr class="cc-fleet-node">{tds}</tr>')
    return (
        '<div class="cc-panel-head"><span class="cc-panel-name">Nodes</span>'
        '<span class="cc-panel-hint">ranked by revenue of the last 24 h</span></div>'
        f'<table class="cc-fleet-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


_STYLE = """<style>
.cc-dashboard .cc-fleet-table { width: 100%; border-collapse: collapse; font-size: 13.5px; }
.cc-dashboard .cc-fleet-table th { text-align: left; font-weight: 600; color: var(--cc-muted); padding: 6px 8px; }
.cc-dashboard .cc-fleet-table td { padding: 6px 8px; border-top: 1px solid var(--cc-border, #e5e7eb); }
.cc-dashboard .cc-fleet-table .cc-num { text-align: right; font-variant-numeric: tabular-nums; }
</style>"""


class FleetPage:
    """The fleet page, built from a fleet result (``ccanalytics.fleet.fleet_snapshot``)."""

    def __init__(self, result: Mapping[str, Any]) -> None:
        fleet = result.get("fleet") or {}
        role = _role(fleet)
        zone_name = str(fleet.get("timezone") or "UTC")
        self.title = widgets.HTML(
            '<h1 class="cc-title">Fleet</h1>'
            f'<div class="cc-subtitle">{esc(fmt.count(fleet.get("nodes")))} nodes, as of '
            f"{esc(fmt.short_time(fleet.get('now'), fmt.store_zone(zone_name)))} ({esc(zone_name)}) · "
            f"engine {esc(result.get('engine'))}</div>"
        )
        self.header = widgets.HBox([self.title])
        self.header.add_class("cc-header")
        self.kpis = widgets.HBox()
        self.kpis.add_class("cc-kpis")
        self.kpis.add_class("cc-fleet-kpis")
        cards = []
        for card in fleet_cards(result):
            w = widgets.HTML(card_html(card))
            w.add_class("cc-kpi")
            w.add_class(f"cc-kpi-{card.key}")
            cards.append(w)
        self.kpis.children = tuple(cards)
        self.chart = CallRateChart()
        self.chart.update((fleet.get(role) or {}).get("call_rate") or [], fmt.store_zone(zone_name), zone_name)
        self.nodes = widgets.HTML(nodes_html(result))
        self.nodes.add_class("cc-panel")
        self.nodes.add_class("cc-fleet-nodes")
        self.breakdown = BreakdownTable()
        self.breakdown.update((fleet.get(role) or {}).get("breakdown") or [], role)
        self.widget = widgets.VBox(
            [
                style_widget(),
                widgets.HTML(_STYLE),
                self.header,
                self.kpis,
                self.chart.widget,
                self.nodes,
                self.breakdown.widget,
            ]
        )
        self.widget.add_class("cc-dashboard")
        self.widget.add_class("cc-fleet")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
