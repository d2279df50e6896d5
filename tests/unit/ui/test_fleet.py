"""ui/fleet.py against fleet.md's page: the fleet's cards and the table of nodes ranked by revenue."""

from __future__ import annotations

from ccanalytics.ui.fleet import fleet_cards, nodes_html

SELLER = {
    "mode": "seller",
    "nodes": 3,
    "seller": {"calls_24h": 1_234, "success_rate_24h": 0.995, "avg_latency_ms_24h": 95.0, "p95_latency_ms_24h": 210.0,
               "revenue_24h_usdc": "3.210000", "total_calls": 99_000, "total_revenue_usdc": "120.000000"},
}  # fmt: skip


def test_a_selling_fleets_cards() -> None:
    cards = fleet_cards({"fleet": SELLER})
    assert [(c.label, c.value) for c in cards] == [
        ("Nodes", "3"),
        ("Calls Served (24h)", "1,234"),
        ("Success Rate", "99.5 %"),
        ("Avg Latency", "95 ms"),
        ("Revenue (24h)", "3.21 USDC"),
        ("Total Calls Ever", "99,000"),
    ]
    assert cards[0].sub == "fleet as seller" and cards[3].sub == "p95 210 ms"


def test_an_empty_result_shows_unknowns_not_errors() -> None:
    assert [c.value for c in fleet_cards({})] == ["—"] * 6
    html = nodes_html({})
    assert "<tbody></tbody>" in html and "ranked by revenue of the last 24 h" in html


def test_nodes_follow_the_ranking_and_every_text_is_escaped() -> None:
    result = {
        "nodes": {"a": {"mode": "seller", "balances": {"usdc": "1.000000"}}, "<b>": {"mode": "<i>"}},
        "fleet": {"rankings": {"by_revenue": [{"node": "<b>", "revenue_24h_usdc": "9.000000", "calls_24h": 1},
                                              {"node": "a", "revenue_24h_usdc": "1.000000", "calls_24h": 2}]}},
    }  # fmt: skip
    html = nodes_html(result)
    assert html.index("&lt;b&gt;") < html.index(">a<") and "<b>" not in html and "&lt;i&gt;" in html
    assert html.count('<tr class="cc-fleet-node">') == 2
