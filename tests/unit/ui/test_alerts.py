"""The page's alerts (alerts.md): chips in the header, spike marks on the chart, runway under the balances."""

from __future__ import annotations

import copy

from ccanalytics.ui import Dashboard
from tests.support import ui_snapshots as snaps
from tests.unit.ui.test_page import only, text


def with_alerts(**changes) -> dict:
    snapshot = copy.deepcopy(snaps.BUYER)
    rules = ("low_usdc", "low_gas", "auto_pause", "backup_overdue", "error_spike")
    snapshot["alerts"] = [
        {"rule": r, "firing": False, "level": "panel", "value": None, "threshold": None, "message": ""} for r in rules
    ]
    snapshot["runway"] = {"usdc_days": None, "spend_per_day_usdc": None, "eth_days": None, "gas_per_day_eth": None}
    for bucket in snapshot["buyer"]["call_rate"]:
        bucket["spike"] = False
    for key, value in changes.items():
        snapshot[key] = value
    return snapshot


def firing(snapshot: dict, rule: str, level: str = "panel", message: str = "") -> dict:
    for alert in snapshot["alerts"]:
        if alert["rule"] == rule:
            alert.update(firing=True, level=level, message=message)
    return snapshot


def test_one_chip_per_firing_rule_in_the_header():
    snapshot = firing(with_alerts(), "error_spike", message="7 errors in the last 5 min (<img src=x> 6, wx 1)")
    firing(snapshot, "low_usdc", level="email+webhook", message="Low USDC: 0.5 USDC, below 1.000000")
    firing(snapshot, "low_gas", level="off", message="Low ETH")  # level off: no chip
    dashboard = Dashboard(snapshot)
    chips = only(dashboard, "cc-alerts")
    assert chips in dashboard.header.children[-1].children
    assert text(chips.value) == "Low USDC | Error spike | · 7 errors in 5 min"
    assert chips.value.count('class="cc-alert-chip') == 2
    assert "<img" not in chips.value and "&lt;img src=x&gt; 6" in chips.value  # the message, escaped, on hover


def test_no_firing_rule_no_chip_and_a_refresh_clears_them():
    dashboard = Dashboard(firing(with_alerts(), "backup_overdue"))
    assert "Backup overdue" in only(dashboard, "cc-alerts").value
    dashboard.update(with_alerts())
    assert only(dashboard, "cc-alerts").value == ""
    dashboard.update(snaps.BUYER)  # a snapshot without alerts (an older store reader)
    assert only(dashboard, "cc-alerts").value == ""


def test_spike_hours_are_marked_on_the_chart_with_the_count_in_the_tooltip():
    snapshot = with_alerts()
    rate = snapshot["buyer"]["call_rate"]
    for i in (40, 41):
        rate[i]["spike"] = True
        rate[i]["error"] = 9
    dashboard = Dashboard(snapshot)
    chart = dashboard.chart
    assert chart.spikes.x.tolist() == [rate[40]["hour"], rate[41]["hour"]]
    tops = [rate[i]["success"] + rate[i]["error"] for i in (40, 41)]
    assert all(y > top for y, top in zip(chart.spikes.y.tolist(), tops, strict=True))  # above the bar
    assert max(chart.spikes.y.tolist()) <= chart._y.max  # and inside the plot
    assert "Error spike" in text(chart.title.value)
    chart._on_hover(None, {"data": {"index": 41}})
    assert "Error spike: 9 errors this hour" in text(chart.tooltip.value)
    chart._on_hover(None, {"data": {"index": 39}})
    assert "Error spike" not in text(chart.tooltip.value)
    dashboard.update(with_alerts())
    assert chart.spikes.x.tolist() == [] and "Error spike" not in text(chart.title.value)


def test_runway_under_the_usdc_and_gas_cards():
    runway = {"usdc_days": 3.24, "spend_per_day_usdc": "3.858024", "eth_days": 38.9, "gas_per_day_eth": "0.0001"}
    dashboard = Dashboard(with_alerts(runway=runway))
    usdc, gas = only(dashboard, "cc-kpi-usdc_balance"), only(dashboard, "cc-kpi-gas_balance")
    assert "≈ 3.2 days at the 7-day pace" in text(usdc.value)
    assert "≈ 38 days at the 7-day pace" in text(gas.value)
    assert "7-day pace" not in text(only(dashboard, "cc-kpi-calls_24h").value)


def test_runway_says_why_it_is_unknown():
    runway = {"usdc_days": None, "spend_per_day_usdc": None, "eth_days": 0.0, "gas_per_day_eth": "0.000001"}
    dashboard = Dashboard(with_alerts(runway=runway))
    assert "runway: not enough history" in text(only(dashboard, "cc-kpi-usdc_balance").value)
    assert "0 days left: at or below the low-gas threshold" in text(only(dashboard, "cc-kpi-gas_balance").value)
    runway = {"usdc_days": None, "spend_per_day_usdc": "0.000000", "eth_days": None, "gas_per_day_eth": None}
    dashboard.update(with_alerts(runway=runway))
    assert "no spending in 7 days" in text(only(dashboard, "cc-kpi-usdc_balance").value)
