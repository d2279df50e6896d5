"""The wallet line: the node's balances and their low-balance warnings, for the seller view.

The seller cards (metrics.md) hold no balance, yet a node that sells still
pays gas and may still buy: its operator must see a low balance there too. A
low USDC balance warns whether or not auto-pause is on (the auto-pause banner
only says that serving stopped).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.markup import esc
from ccanalytics.ui.parts import section

if TYPE_CHECKING:
    from datetime import tzinfo

__all__ = ["WalletLine", "balance_source", "low_balances", "wallet_html"]


def balance_source(balances: Mapping[str, Any], zone: tzinfo) -> tuple[str, str, str]:
    """Where the balances come from (the cards' and the wallet line's small text), its tone, and the note.

    Examples
    --------
    >>> from datetime import UTC
    >>> balance_source({"source": "chain", "note": " slow node "}, UTC)
    ('live', 'live', 'slow node')
    >>> balance_source({"source": "snapshot", "as_of": "2026-11-25T09:05:00Z"}, UTC)[:2], balance_source({}, UTC)
    (('as of Nov 25, 09:05', ''), ('not available', '', ''))
    """
    source = balances.get("source")
    if source == "chain":
        text, tone = "live", "live"
    elif source == "snapshot":
        text, tone = f"as of {fmt.short_time(balances.get('as_of'), zone)}", ""
    else:
        text, tone = "not available", ""
    note = balances.get("note")
    return text, tone, note.strip() if isinstance(note, str) else ""


def low_balances(snapshot: Mapping[str, Any]) -> dict[str, str]:
    """The balances below their threshold: ``{"usdc" | "eth": threshold text}``, from the snapshot's alerts.

    Examples
    --------
    >>> low_balances({"alerts": [{"rule": "low_usdc", "firing": True, "threshold": "1.000000"},
    ...                          {"rule": "low_gas", "firing": False, "threshold": "0.0005"}]})
    {'usdc': '1.00 USDC'}
    >>> low_balances({"banners": {"low_gas": True}})
    {'eth': ''}
    """
    low: dict[str, str] = {}
    alerts = snapshot.get("alerts")
    for alert in alerts if isinstance(alerts, list) else []:
        if not isinstance(alert, Mapping) or alert.get("firing") is not True:
            continue
        if alert.get("rule") == "low_usdc":
            low["usdc"] = fmt.usdc(alert.get("threshold"))
        elif alert.get("rule") == "low_gas":
            low["eth"] = fmt.eth(alert.get("threshold"))
    if section(snapshot, "banners").get("low_gas") is True:
        low.setdefault("eth", "")
    return low


def wallet_html(snapshot: Mapping[str, Any]) -> str:
    """The wallet line: both balances, where they come from, and a warning per low balance.

    Examples
    --------
    >>> html = wallet_html({"balances": {"usdc": "0.400000", "eth": "0.000100000000000000", "source": "chain"},
    ...                     "alerts": [{"rule": "low_usdc", "firing": True, "threshold": "1.000000"}]})
    >>> "0.40 USDC" in html, "0.0001 ETH" in html, "Low USDC — below 1.00 USDC" in html, "Low gas" in html
    (True, True, True, False)
    """
    balances = section(snapshot, "balances")
    zone = fmt.store_zone(snapshot.get("timezone"))
    where = balance_source(balances, zone)[0]
    low = low_balances(snapshot)
    warnings = []
    for money, warning in (("usdc", "Low USDC"), ("eth", "Low gas")):
        if money in low:
            threshold = low[money]
            warnings.append(f"{warning} — below {threshold}" if threshold and threshold != fmt.UNKNOWN else warning)
    chips = "".join(f'<span class="cc-wallet-warn">⚠ {esc(text)}</span>' for text in warnings)
    return (
        f'<div class="cc-wallet-body{" cc-wallet-low" if warnings else ""}">'
        '<span class="cc-wallet-label">Wallet</span>'
        f'<span class="cc-wallet-value">{esc(fmt.usdc(balances.get("usdc")))}</span>'
        f'<span class="cc-wallet-value">{esc(fmt.eth(balances.get("eth")))}</span>'
        f'<span class="cc-wallet-source">{esc(where)}</span>{chips}</div>'
    )


class WalletLine:
    """The wallet line's widget (class ``cc-wallet``), updated in place."""

    def __init__(self) -> None:
        self.widget = widgets.HTML()
        self.widget.add_class("cc-wallet")

    def update(self, snapshot: Mapping[str, Any]) -> None:
        """Show ``snapshot``'s balances and warnings."""
        self.widget.value = wallet_html(snapshot)
