"""The header's alert chips (``cc-alerts``) and the runway lines under the balance cards (alerts.md).

Built from the snapshot dict only; every text from the store (an API id in a
spike's message) is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from ccanalytics.ui.markup import esc

__all__ = ["RULE_NAMES", "AlertChips", "chips_html", "firing_alerts", "runway_text"]

RULE_NAMES = {
    "low_usdc": "Low USDC",
    "low_gas": "Low gas",
    "auto_pause": "Serving paused",
    "backup_overdue": "Backup overdue",
    "error_spike": "Error spike",
}


def firing_alerts(snapshot: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The snapshot's firing alerts that have a chip: every level but ``off``.

    Examples
    --------
    >>> firing_alerts({"alerts": [{"rule": "low_usdc", "firing": True, "level": "off"},
    ...                           {"rule": "low_gas", "firing": True, "level": "email"},
    ...                           {"rule": "error_spike", "firing": False, "level": "panel"}]})
    [{'rule': 'low_gas', 'firing': True, 'level': 'email'}]
    """
    alerts = snapshot.get("alerts")
    if not isinstance(alerts, list | tuple):
        return []
    return [
        a for a in alerts if isinstance(a, Mapping) and a.get("firing") is True and a.get("level") not in (None, "off")
    ]


def chips_html(snapshot: Mapping[str, Any]) -> str:
    """One chip per firing rule: its name, and its message on hover (and for screen readers).

    Examples
    --------
    >>> html = chips_html({"alerts": [{"rule": "error_spike", "firing": True, "level": "panel",
    ...                                "message": "7 errors in the last 5 min (<b> 7)"}]})
    >>> 'class="cc-alert-chip cc-alert-error_spike"' in html, "&lt;b&gt; 7" in html
    (True, True)
    """
    chips = []
    for alert in firing_alerts(snapshot):
        rule = str(alert.get("rule"))
        name = RULE_NAMES.get(rule, rule)
        message = str(alert.get("message") or "")
        chips.append(
            f'<span class="cc-alert-chip cc-alert-{esc(rule)}" title="{esc(message)}" role="status">'
            f'{esc(name)}<span class="cc-alert-detail">{esc(_short(rule, message))}</span></span>'
        )
    return "".join(chips)


def _short(rule: str, message: str) -> str:
    # The spike's count fits in a chip ("7 errors in 5 min"); the rest is on hover.
    if rule == "error_spike":
        return " · " + message.split(" (")[0].replace(" the last", "")
    return ""


class AlertChips:
    """The ``cc-alerts`` widget of the header, updated in place."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.widget.add_class("cc-alerts")

    def update(self, snapshot: Mapping[str, Any]) -> None:
        self.widget.value = chips_html(snapshot)


def _days(days: float) -> str:
    if days >= 3650:
        return "over 10 years"
    shown = f"{days:.1f}" if days < 10 else f"{math.floor(days)}"
    return f"{shown} {'day' if shown in ('1', '1.0') else 'days'}"


def runway_text(snapshot: Mapping[str, Any], money: str) -> str:
    """The runway line under the USDC (``money="usdc"``) or Gas (``"eth"``) card; empty when nothing is known.

    Examples
    --------
    >>> snap = {"balances": {"usdc": "5.000000"},
    ...         "runway": {"usdc_days": 3.24, "spend_per_day_usdc": "1.234000"}}
    >>> runway_text(snap, "usdc")
    '≈ 3.2 days at the 7-day pace'
    >>> runway_text({"balances": {"eth": "0.1"}, "runway": {"eth_days": None, "gas_per_day_eth": None}}, "eth")
    'runway: not enough history'
    """
    runway = snapshot.get("runway")
    balances = snapshot.get("balances")
    if not isinstance(runway, Mapping) or not isinstance(balances, Mapping) or balances.get(money) is None:
        return ""
    days = runway.get(f"{money}_days")
    rate = runway.get("spend_per_day_usdc" if money == "usdc" else "gas_per_day_eth")
    if isinstance(days, int | float) and not isinstance(days, bool) and math.isfinite(days):
        if days <= 0:
            limit = "auto-pause" if money == "usdc" else "low-gas"
            return f"0 days left: at or below the {limit} threshold"
        return f"≈ {_days(float(days))} at the 7-day pace"
    if rate is None:
        return "runway: not enough history"
    return "no spending in 7 days" if money == "usdc" else "no gas burnt in 7 days"
