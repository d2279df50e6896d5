"""The dashboard page built from literal snapshots: what is on it, with which classes and text."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import ipywidgets as widgets
import pytest

import ccanalytics.ui
from ccanalytics.ui import Dashboard
from tests.support import ui_snapshots as snaps

BUYER_CARDS = [
    "cc-kpi-usdc_balance",
    "cc-kpi-gas_balance",
    "cc-kpi-calls_24h",
    "cc-kpi-avg_latency_ms_24h",
    "cc-kpi-spent_24h_usdc",
    "cc-kpi-total_calls",
]
SELLER_CARDS = ["cc-kpi-calls_24h", "cc-kpi-success_rate_24h", "cc-kpi-revenue_24h_usdc", "cc-kpi-calls_7d"]
BANNERS = ["cc-banner-auto-pause", "cc-banner-backup", "cc-banner-data"]


# -- helpers: read the page the way a person would ---------------------------------------------------------


def walk(widget):
    """Every widget on the page under ``widget`` (what the browser renders)."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


def on_page(dashboard: Dashboard, css_class: str) -> list[widgets.DOMWidget]:
    return [w for w in walk(dashboard.widget) if css_class in getattr(w, "_dom_classes", ())]


def only(dashboard: Dashboard, css_class: str) -> widgets.DOMWidget:
    found = on_page(dashboard, css_class)
    assert len(found) == 1, f"{len(found)} elements with class {css_class}"
    return found[0]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "svg")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "svg")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def text(html: str) -> str:
    """The visible text of some HTML, pieces joined by " | " (markup and icons dropped)."""
    parser = _Text()
    parser.feed(html)
    return " | ".join(parser.parts)


def page_text(dashboard: Dashboard) -> str:
    parts = []
    for w in walk(dashboard.widget):
        if isinstance(w, widgets.HTML) and "cc-style" not in w._dom_classes:
            parts.append(text(w.value))
        elif isinstance(w, widgets.Button | widgets.ToggleButtons):
            parts.append(str(getattr(w, "description", "")) + " ".join(getattr(w, "_options_labels", ())))
    return " | ".join(p for p in parts if p)


def html_values(dashboard: Dashboard) -> list[str]:
    values = [w.value for w in walk(dashboard.widget) if isinstance(w, widgets.HTML)]
    return [*values, dashboard.chart.tooltip.value]


def cards(dashboard: Dashboard) -> dict[str, str]:
    """Card key → its visible text."""
    return {
        next(c for c in w._dom_classes if c.startswith("cc-kpi-") and c != "cc-kpi-warn"): text(w.value)
        for w in on_page(dashboard, "cc-kpi")
    }


def hover(dashboard: Dashboard, index: int) -> str:
    """The chart's tooltip after the pointer rests on bar ``index`` (the message bqplot sends)."""
    dashboard.chart.bars._handle_custom_msg({"event": "hover", "data": {"index": index, "x": "?", "y": 1}}, [])
    return text(dashboard.chart.tooltip.value)


# -- the cards ---------------------------------------------------------------------------------------------


def test_a_buyer_node_shows_the_six_buyer_cards_in_order_with_their_values():
    dashboard = Dashboard(snaps.BUYER)
    kpis = on_page(dashboard, "cc-kpi")
    assert [w._dom_classes[1] for w in kpis] == BUYER_CARDS
    assert cards(dashboard) == {
        "cc-kpi-usdc_balance": "USDC Balance | 12.50 | USDC | as of Nov 25, 12:59 | ≈ 10 days at the 7-day pace",
        "cc-kpi-gas_balance": "Gas Balance | 0.0042 | ETH | as of Nov 25, 12:59 | ≈ 42 days at the 7-day pace",
        "cc-kpi-calls_24h": "Calls (24h) | 1,234 | ▲ 4.6 % vs previous 24 h | 97.3 % success",
        "cc-kpi-avg_latency_ms_24h": "Avg Latency | 212 | ms | ▲ 6.9 % vs previous 24 h | p95 640 ms · last 24 h",
        "cc-kpi-spent_24h_usdc": "USDC Spent (24h) | 1.23 | USDC | ▲ 4.6 % vs previous 24 h | last 24 h",
        "cc-kpi-total_calls": "Total Calls Ever | 48,210 | 43.12 USDC spent",
    }


def test_a_seller_node_shows_the_four_seller_cards_in_order_with_their_values():
    dashboard = Dashboard(snaps.SELLER)
    assert [w._dom_classes[1] for w in on_page(dashboard, "cc-kpi")] == SELLER_CARDS
    assert cards(dashboard) == {
        "cc-kpi-calls_24h": "Calls Served (24h) | 860 | ▲ 2.1 % vs previous 24 h | last 24 h",
        "cc-kpi-success_rate_24h": "Success Rate | 99.5 | % | ▲ 0.1 pt vs previous 24 h | last 24 h",
        "cc-kpi-revenue_24h_usdc": "Revenue (24h) | 0.82 | USDC | ▲ 2.1 % vs previous 24 h | last 24 h",
        "cc-kpi-calls_7d": "Calls Served (7d) | 5,912 | ▲ 3.7 % vs previous 7 d | 5.62 USDC revenue",
    }


def test_live_balances_say_live_and_missing_ones_say_so():
    live = cards(Dashboard(snaps.SELLER | {"mode": "buyer"}))
    assert live["cc-kpi-usdc_balance"] == "USDC Balance | 250.00 | USDC | live | no spending in 7 days"
    none = cards(Dashboard(snaps.EMPTY | {"banners": {**snaps.EMPTY["banners"], "empty_state": False}}))
    assert none["cc-kpi-usdc_balance"] == "USDC Balance | — | not available"
    assert none["cc-kpi-calls_24h"] == "Calls (24h) | 0 | none in the previous 24 h | no calls in 24 h"
    assert none["cc-kpi-avg_latency_ms_24h"] == "Avg Latency | — | none in the previous 24 h | p95 — · last 24 h"


def test_low_gas_and_the_reason_balances_are_not_live_show_on_the_balance_cards():
    dashboard = Dashboard(snaps.ALARMS)
    gas = only(dashboard, "cc-kpi-gas_balance")
    assert "cc-kpi-warn" in gas._dom_classes
    assert (
        text(gas.value) == "Gas Balance | 0.000012 | ETH | Low gas · as of Nov 25, 10:30"
        " | 0 days left: at or below the low-gas threshold | RPC did not answer within 5 s"
    )
    assert "RPC did not answer within 5 s" in text(only(dashboard, "cc-kpi-usdc_balance").value)
    dashboard.update(snaps.BUYER)
    assert "cc-kpi-warn" not in gas._dom_classes
    assert "Low gas" not in text(gas.value)


def test_unknown_values_never_read_nan_none_or_null():
    snapshot = copy.deepcopy(snaps.BUYER)
    snapshot["buyer"].update(success_rate_24h=None, avg_latency_ms_24h=float("nan"), total_spent_usdc=None)
    snapshot["balances"] = {"usdc": None, "eth": None, "source": "none", "as_of": None, "note": None}
    snapshot["uptime_s"] = None
    for shown in (snapshot, snaps.EMPTY, snaps.SELLER):
        words = set(re.findall(r"[A-Za-z]+", page_text(Dashboard(shown))))
        assert not words & {"nan", "NaN", "None", "null", "undefined"}


# -- mode --------------------------------------------------------------------------------------------------


def test_the_mode_switch_is_offered_only_when_the_node_has_both_kinds_of_calls():
    single = only(Dashboard(snaps.BUYER), "cc-mode")
    assert [type(w) for w in single.children] == [widgets.HTML]
    assert text(single.children[0].value) == "Buyer mode"

    both = Dashboard(snaps.SELLER)
    switch = only(both, "cc-mode").children
    assert len(switch) == 1 and isinstance(switch[0], widgets.ToggleButtons)
    assert switch[0].value == "seller"


def test_switching_role_shows_the_other_roles_cards_and_survives_refreshes():
    dashboard = Dashboard(snaps.SELLER)
    switch = only(dashboard, "cc-mode").children[0]
    switch.value = "buyer"  # what a click on "Buyer" does
    assert [w._dom_classes[1] for w in on_page(dashboard, "cc-kpi")] == BUYER_CARDS
    assert [b.description for b in dashboard.breakdown.sort_buttons.values()][-1] == "Avg latency"
    dashboard.update(snaps.SELLER)
    assert dashboard.role == "buyer"
    assert [w._dom_classes[1] for w in on_page(dashboard, "cc-kpi")] == BUYER_CARDS
    assert sum(dashboard.chart.bars.y[0]) == sum(b["success"] for b in snaps.SELLER["buyer"]["call_rate"])


# -- chart -------------------------------------------------------------------------------------------------


def test_the_chart_has_48_stacked_bars_successes_under_errors():
    dashboard = Dashboard(snaps.BUYER)
    figure = only(dashboard, "cc-call-rate")
    bars = dashboard.chart.bars
    assert figure.marks == [bars, dashboard.chart.spikes] and bars.type == "stacked"
    assert dashboard.chart.spikes.x.tolist() == []  # no bucket of BUYER is a spike
    assert bars.y.shape == (2, 48)  # 96 bar values
    assert bars.y[0].tolist() == [b["success"] for b in snaps.BUYER["buyer"]["call_rate"]]
    assert bars.y[1].tolist() == [b["error"] for b in snaps.BUYER["buyer"]["call_rate"]]
    assert bars.colors[:2] == ["#16a34a", "#dc2626"]
    assert len(set(bars.x.tolist())) == 48
    assert figure.animation_duration == 0


def test_hour_labels_are_in_the_stores_zone_every_six_hours():
    dashboard = Dashboard(snaps.BUYER)  # Europe/Berlin, UTC+1 in November
    labels = [label for label in dashboard.chart._x_axis.tick_labels.values() if label]
    assert labels == [
        "Mon 18:00",
        "Tue 00:00",
        "Tue 06:00",
        "Tue 12:00",
        "Tue 18:00",
        "Wed 00:00",
        "Wed 06:00",
        "Wed 12:00",
    ]
    assert "Europe/Berlin" in text(dashboard.chart.title.value)


def test_hours_stay_separate_bars_when_a_local_hour_repeats_at_the_end_of_summer_time():
    last = datetime(2026, 10, 25, 12, tzinfo=UTC)  # Berlin fell back from 03:00 to 02:00 at 01:00 UTC
    rate = [
        {"hour": (last - timedelta(hours=47 - i)).strftime("%Y-%m-%dT%H:%M:%SZ"), "success": i, "error": 0}
        for i in range(48)
    ]
    snapshot = copy.deepcopy(snaps.BUYER)
    snapshot["buyer"]["call_rate"] = rate
    bars = Dashboard(snapshot).chart.bars
    assert len(set(bars.x.tolist())) == 48
    assert bars.y[0].tolist() == list(range(48))


def test_the_tooltip_shows_the_hour_and_both_counts():
    dashboard = Dashboard(snaps.BUYER)
    bucket = snaps.BUYER["buyer"]["call_rate"][5]  # 2026-11-23T18:00Z = 19:00 in Berlin
    errors = "error" if bucket["error"] == 1 else "errors"
    assert hover(dashboard, 5) == f"Mon Nov 23, 19:00–20:00 | {bucket['success']} success | {bucket['error']} {errors}"
    assert hover(dashboard, 47).startswith("Wed Nov 25, 13:00–now")


def test_a_refresh_updates_the_chart_in_place():
    dashboard = Dashboard(snaps.BUYER)
    figure, bars = dashboard.chart.figure, dashboard.chart.bars
    later = copy.deepcopy(snaps.BUYER)
    later["buyer"]["call_rate"] = snaps.call_rate([100] * 48, [3] * 48)
    dashboard.update(later)
    assert dashboard.chart.figure is figure and dashboard.chart.bars is bars
    assert only(dashboard, "cc-call-rate") is figure
    assert bars.y.tolist() == [[100] * 48, [3] * 48]
    assert dashboard.chart._y.max >= 103


# -- banners -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("snapshot", "shown"),
    [
        (snaps.BUYER, []),
        (snaps.SELLER, []),
        (snaps.EMPTY, ["cc-banner-backup"]),
        (snaps.ALARMS, BANNERS),
        (snaps.BUYER | {"banners": {**snaps.BUYER["banners"], "auto_pause": True}}, ["cc-banner-auto-pause"]),
        (snaps.BUYER | {"banners": {**snaps.BUYER["banners"], "backup_overdue": True}}, ["cc-banner-backup"]),
        (snaps.BUYER | {"data_issues": [{"table": "calls", "rule": "r", "rows": 1}]}, ["cc-banner-data"]),
        (snaps.BUYER | {"data_issues": [{"table": "calls", "rule": "r", "rows": 0}]}, []),
    ],
)
def test_banners_are_on_the_page_exactly_when_their_condition_holds(snapshot, shown):
    dashboard = Dashboard(snapshot)
    assert [name for name in BANNERS if on_page(dashboard, name)] == shown


def test_banners_leave_the_page_when_their_condition_clears():
    dashboard = Dashboard(snaps.ALARMS)
    dashboard.update(snaps.BUYER)
    assert [name for name in BANNERS if on_page(dashboard, name)] == []


def test_the_auto_pause_banner_links_to_finance_and_says_demo_mode_works():
    banner = only(Dashboard(snaps.ALARMS), "cc-banner-auto-pause")
    assert text(banner.value) == (
        "API SERVING PAUSED — Low balance. Click to manage. | Demo mode keeps working while serving is paused."
    )
    assert 'href="https://localhost:3002/panel#finance"' in banner.value


def test_the_backup_banner_says_how_long_ago_and_links_to_settings_backup():
    banner = only(Dashboard(snaps.ALARMS), "cc-banner-backup")
    assert text(banner.value) == "Backup overdue — the last backup was 42 days ago. | Back up now →"
    assert 'href="https://localhost:3002/panel#settings/backup"' in banner.value
    none_yet = only(Dashboard(snaps.EMPTY), "cc-banner-backup")
    assert text(none_yet.value).startswith("Backup overdue — no backup has been made yet.")


def test_the_data_issues_banner_counts_the_rows_left_out_and_says_why():
    banner = only(Dashboard(snaps.ALARMS), "cc-banner-data")
    assert text(banner.value) == (
        "3 rows of the store were left out of every number. | "
        "calls: 2 (status_code outside 100..599) · events: 1 (unknown severity)"
    )
    one = Dashboard(snaps.BUYER | {"data_issues": [{"table": "events", "rule": "unknown severity", "rows": 1}]})
    assert text(only(one, "cc-banner-data").value).startswith("1 row of the store was left out")


# -- empty state -------------------------------------------------------------------------------------------


def test_the_empty_state_replaces_cards_chart_and_breakdown():
    dashboard = Dashboard(snaps.EMPTY)
    empty = only(dashboard, "cc-empty")
    assert "Catalog" in text(empty.value) and "API Management" in text(empty.value)
    assert 'href="https://localhost:3002/panel#catalog"' in empty.value
    assert 'href="https://localhost:3002/panel#api-management"' in empty.value
    for gone in ("cc-kpi", "cc-call-rate", "cc-breakdown"):
        assert on_page(dashboard, gone) == []
    assert on_page(dashboard, "cc-events")

    dashboard.update(snaps.BUYER)
    assert on_page(dashboard, "cc-empty") == []
    assert len(on_page(dashboard, "cc-kpi")) == 6
    assert on_page(dashboard, "cc-call-rate") and on_page(dashboard, "cc-breakdown")


# -- breakdown ---------------------------------------------------------------------------------------------


def breakdown_rows(dashboard: Dashboard) -> list[str]:
    body = only(dashboard, "cc-breakdown").children[-1].value
    return [text(row) for row in re.findall(r'<div role="row" class="cc-row">.*?</div></div>', body)]


def test_the_buyer_breakdown_has_its_columns_and_formatted_rows_in_the_snapshots_order():
    dashboard = Dashboard(snaps.BUYER)
    headers = [b.description for b in only(dashboard, "cc-breakdown").children[1].children]
    assert headers == ["API", "Calls ▼", "Success", "Errors", "USDC spent", "Avg latency"]
    assert breakdown_rows(dashboard) == [
        "SSE market ticker | bb-sse-ticker | 30,100 | 29,950 | 150 | 30.10 USDC | 88 ms",
        "GraphQL demo | bb-graphql | 12,000 | 11,400 | 600 | 12.00 USDC | 311 ms",
        "Geo lookup | geo-lookup | 6,100 | 6,100 | 0 | 1.02 USDC | —",
        "demo-echo | 10 | 9 | 1 | 0.00 USDC | 4 ms",
    ]


def test_the_seller_breakdown_shows_earnings_and_success_rates():
    dashboard = Dashboard(snaps.SELLER)
    headers = [b.description for b in dashboard.breakdown.sort_buttons.values()]
    assert headers == ["API", "Calls ▼", "Success", "Errors", "USDC earned", "Success rate"]
    assert breakdown_rows(dashboard) == [
        "Weather forecast | wx-forecast | 9,000 | 8,960 | 40 | 8.55 USDC | 99.6 %",
        "FX rates | fx-rates | 2,400 | 2,400 | 0 | 2.28 USDC | 100.0 %",
    ]


def test_clicking_a_header_sorts_and_clicking_again_reverses_unknowns_last():
    dashboard = Dashboard(snaps.BUYER)
    buttons = dashboard.breakdown.sort_buttons
    first = lambda: [row.split(" | ")[0] for row in breakdown_rows(dashboard)]  # noqa: E731
    buttons["api_name"].click()
    assert first() == ["demo-echo", "Geo lookup", "GraphQL demo", "SSE market ticker"]
    assert buttons["api_name"].description == "API ▲"
    buttons["api_name"].click()
    assert first() == ["SSE market ticker", "GraphQL demo", "Geo lookup", "demo-echo"]
    buttons["avg_latency_ms"].click()
    assert first() == ["GraphQL demo", "SSE market ticker", "demo-echo", "Geo lookup"]
    buttons["avg_latency_ms"].click()
    assert first() == ["demo-echo", "SSE market ticker", "GraphQL demo", "Geo lookup"]
    buttons["usdc"].click()
    assert first() == ["SSE market ticker", "GraphQL demo", "Geo lookup", "demo-echo"]


def test_the_chosen_sort_survives_a_refresh():
    dashboard = Dashboard(snaps.BUYER)
    dashboard.breakdown.sort_buttons["errors"].click()
    dashboard.update(copy.deepcopy(snaps.BUYER))
    assert [row.split(" | ")[0] for row in breakdown_rows(dashboard)] == [
        "GraphQL demo",
        "SSE market ticker",
        "demo-echo",
        "Geo lookup",
    ]


# -- event log, header -------------------------------------------------------------------------------------


def test_the_event_log_lists_events_newest_first_in_the_stores_zone_with_severity_icons():
    log = only(Dashboard(snaps.BUYER), "cc-events").value
    rows = [text(row) for row in re.findall(r"<tr class=\"cc-event .*?</tr>", log)]
    assert rows == [
        "Nov 25, 12:58:10 | catalog_sync | Catalog synced: 214 APIs",
        "Nov 25, 11:12:00 | error_spike | bb-graphql: 12 % errors in 10 min",
        "Nov 24, 23:40:31 | error | Settlement failed: nonce too low",
        "Nov 22, 08:43:00 | startup | Control center started",
    ]
    icons = re.findall(r'class="cc-sev cc-sev-(\w+)"', log)
    assert icons == ["info", "warning", "error", "info"]
    colors = dict(re.findall(r'class="cc-sev cc-sev-(\w+)".*?fill="(#\w+)"', log))
    assert colors == {"info": "#2563eb", "warning": "#f59e0b", "error": "#dc2626"}
    assert "http" not in log  # icons are inline: nothing to fetch, works offline


def test_the_header_has_the_uptime_badge_freshness_pill_and_refresh_button():
    dashboard = Dashboard(snaps.BUYER)
    assert text(only(dashboard, "cc-uptime").value) == "Up 3d 4h"
    assert text(only(dashboard, "cc-updated").value) == "As of Nov 25, 13:00"
    assert only(dashboard, "cc-refresh").description == "↻ Refresh now"
    assert text(only(Dashboard(snaps.ALARMS), "cc-uptime").value) == "Uptime —"
    header = dashboard.header.children[-1].children
    assert [w._dom_classes[0] for w in header[:4]] == ["cc-alerts", "cc-updated", "cc-refresh", "cc-uptime"]


def test_every_test_hook_of_the_spec_is_on_a_full_page():
    dashboard = Dashboard(snaps.SELLER)
    for hook in ("cc-uptime", "cc-updated", "cc-call-rate", "cc-breakdown", "cc-events", "cc-mode", "cc-refresh"):
        assert len(on_page(dashboard, hook)) == 1, hook


# -- escaping ----------------------------------------------------------------------------------------------


def test_markup_from_the_store_is_shown_as_text_everywhere():
    dashboard = Dashboard(snaps.NASTY)
    only(dashboard, "cc-mode").children[0].value = "buyer"  # the balance note is on the buyer cards
    hover(dashboard, 0)
    for value in html_values(dashboard):
        assert "<img" not in value and "<script" not in value
        assert "onerror=alert(2)>" not in value
    shown = page_text(dashboard)
    assert shown.count(snaps.XSS) >= 6  # api names and ids, event type and message, data issue, balance note
    assert "times in UTC" in shown  # the unknown zone "<script>…" falls back to UTC
    banner = only(dashboard, "cc-banner-auto-pause").value
    assert 'href="https://evil.example/&quot;&gt;&lt;img src=x onerror=alert(2)&gt;#finance"' in banner


@pytest.mark.parametrize("panel_url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", None, 42])
def test_banners_link_only_to_web_urls(panel_url):
    dashboard = Dashboard(snaps.ALARMS | {"panel_url": panel_url})
    for banner in on_page(dashboard, "cc-banner"):
        assert "href=" not in banner.value
    assert "API SERVING PAUSED" in text(only(dashboard, "cc-banner-auto-pause").value)


# -- the package -------------------------------------------------------------------------------------------


def test_a_dashboard_displays_as_its_page_widget():
    dashboard = Dashboard(snaps.BUYER)
    bundle = dashboard._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dashboard.widget.model_id
    assert "cc-dashboard" in dashboard.widget._dom_classes


def test_the_public_names_are_exactly_all():
    public = {name for name in vars(ccanalytics.ui) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(ccanalytics.ui, name)).__name__ == "module"}
    future = {"annotations"}  # `from __future__ import annotations` binds this name
    assert public - modules - future == set(ccanalytics.ui.__all__)


def test_a_narrow_window_gets_half_the_chart_labels_and_short_ones():
    dashboard = Dashboard(snaps.BUYER)
    wide = [label for label in dashboard.chart._x_axis.tick_labels.values() if label]
    dashboard.heartbeat.viewport_px = 390  # what the page's JavaScript reports on a phone
    narrow = [label for label in dashboard.chart._x_axis.tick_labels.values() if label]
    assert len(narrow) in (len(wide) // 2, len(wide) // 2 + 1)
    assert all(len(label) <= 5 for label in narrow), narrow
    dashboard.heartbeat.viewport_px = 1440
    assert [label for label in dashboard.chart._x_axis.tick_labels.values() if label] == wide
