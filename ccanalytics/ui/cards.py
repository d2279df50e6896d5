"""The KPI cards: which cards a role shows, their text, and the row of card widgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.alerts import runway_text
from ccanalytics.ui.markup import esc
from ccanalytics.ui.parts import section
from ccanalytics.ui.wallet import balance_source, low_balances

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["BUYER_KEYS", "SELLER_KEYS", "Card", "KpiRow", "buyer_cards", "card_html", "seller_cards"]

BUYER_KEYS = ("usdc_balance", "gas_balance", "calls_24h", "avg_latency_ms_24h", "spent_24h_usdc", "total_calls")
SELLER_KEYS = ("calls_24h", "success_rate_24h", "revenue_24h_usdc", "calls_7d")

_LAST_24H = "last 24 h"
_UNITS = ("USDC", "ETH", "ms", "%")


@dataclass(frozen=True)
class Card:
    """One KPI card's text: a label, a big value and a small line under it.

    ``tone`` colours the small line: ``"live"`` (a live chain read), ``"warn"``
    (something needs attention; the whole card is marked) or ``""``. ``note``
    is an optional last line in fine print (why live balances are unavailable).
    """

    key: str
    label: str
    value: str
    sub: str
    tone: str = ""
    note: str = ""
    runway: str = ""  # how long the balance lasts (alerts.md, Runway): under the USDC and Gas cards
    change: str = ""  # the change against the previous period (views.md), under the value
    change_tone: str = ""  # good, bad or neutral


def buyer_cards(snapshot: Mapping[str, Any]) -> list[Card]:
    """The six buyer cards of metrics.md, in order.

    Examples
    --------
    >>> snap = {"balances": {"usdc": "12.500000", "eth": None, "source": "chain"},
    ...         "buyer": {"calls_24h": 120, "success_rate_24h": 0.95}}
    >>> [(c.key, c.value, c.sub) for c in buyer_cards(snap)][:3]
    [('usdc_balance', '12.50 USDC', 'live'), ('gas_balance', '—', 'live'), ('calls_24h', '120', '95.0 % success')]
    """
    zone = fmt.store_zone(snapshot.get("timezone"))
    balances = section(snapshot, "balances")
    buyer = section(snapshot, "buyer")
    source, source_tone, note = balance_source(balances, zone)
    low = low_balances(snapshot)

    def balance_card(money: str, key: str, label: str, value: str, warning: str) -> Card:
        sub, tone = (f"{warning} · {source}", "warn") if money in low else (source, source_tone)
        return Card(key, label, value, sub, tone, note, runway_text(snapshot, money))

    rate = buyer.get("success_rate_24h")
    return [
        balance_card("usdc", "usdc_balance", "USDC Balance", fmt.usdc(balances.get("usdc")), "Low USDC"),
        balance_card("eth", "gas_balance", "Gas Balance", fmt.eth(balances.get("eth")), "Low gas"),
        Card(
            "calls_24h",
            "Calls (24h)",
            fmt.count(buyer.get("calls_24h")),
            f"{fmt.rate(rate)} success" if rate is not None else "no calls in 24 h",
        ),
        Card("avg_latency_ms_24h", "Avg Latency", fmt.latency(buyer.get("avg_latency_ms_24h")), _LAST_24H),
        Card("spent_24h_usdc", "USDC Spent (24h)", fmt.usdc(buyer.get("spent_24h_usdc")), _LAST_24H),
        Card(
            "total_calls",
            "Total Calls Ever",
            fmt.count(buyer.get("total_calls")),
            f"{fmt.usdc(buyer.get('total_spent_usdc'))} spent",
        ),
    ]


def seller_cards(snapshot: Mapping[str, Any]) -> list[Card]:
    """The four seller cards of metrics.md, in order.

    Examples
    --------
    >>> snap = {"seller": {"calls_24h": 0, "success_rate_24h": None, "calls_7d": 12,
    ...                    "revenue_7d_usdc": "0.114000"}}
    >>> [(c.value, c.sub) for c in seller_cards(snap)]
    [('0', 'last 24 h'), ('—', 'last 24 h'), ('—', 'last 24 h'), ('12', '0.11 USDC revenue')]
    """
    seller = section(snapshot, "seller")
    return [
        Card("calls_24h", "Calls Served (24h)", fmt.count(seller.get("calls_24h")), _LAST_24H),
        Card("success_rate_24h", "Success Rate", fmt.rate(seller.get("success_rate_24h")), _LAST_24H),
        Card("revenue_24h_usdc", "Revenue (24h)", fmt.usdc(seller.get("revenue_24h_usdc")), _LAST_24H),
        Card(
            "calls_7d",
            "Calls Served (7d)",
            fmt.count(seller.get("calls_7d")),
            f"{fmt.usdc(seller.get('revenue_7d_usdc'))} revenue",
        ),
    ]


def card_html(card: Card) -> str:
    """The inside of a card widget; every text is escaped.

    Examples
    --------
    >>> card_html(Card("calls_24h", "Calls (24h)", "120", "<b>95.0 %</b> success"))  # doctest: +NORMALIZE_WHITESPACE
    '<div class="cc-card"><div class="cc-card-label">Calls (24h)</div><div class="cc-card-value">120</div><div
    class="cc-card-sub">&lt;b&gt;95.0 %&lt;/b&gt; success</div></div>'
    """
    tone = f" cc-tone-{esc(card.tone)}" if card.tone else ""
    number, _, unit = card.value.rpartition(" ")
    # The unit in smaller type: "0.000012 ETH" then fits a card a sixth of a laptop screen wide.
    unit_html = f' <span class="cc-unit">{esc(unit)}</span>'
    value = f"{esc(number)}{unit_html}" if number and unit in _UNITS else esc(card.value)
    return (
        f'<div class="cc-card"><div class="cc-card-label">{esc(card.label)}</div>'
        f'<div class="cc-card-value">{value}</div>'
        + (
            f'<div class="cc-card-change cc-change-{esc(card.change_tone or "neutral")}">{esc(card.change)}</div>'
            if card.change
            else ""
        )
        + f'<div class="cc-card-sub{tone}">{esc(card.sub)}</div>'
        + (f'<div class="cc-card-runway">{esc(card.runway)}</div>' if card.runway else "")
        + (f'<div class="cc-card-note">{esc(card.note)}</div>' if card.note else "")
        + "</div>"
    )


class KpiRow:
    """The row of KPI cards: one ``HTML`` widget per card and role, updated in place.

    Buyer and seller both have a ``calls_24h`` card, so each role keeps its own
    widgets and switching roles swaps the row's children.
    """

    def __init__(self) -> None:
        self.widget = widgets.HBox()
        self.widget.add_class("cc-kpis")
        self._widgets: dict[str, dict[str, widgets.HTML]] = {
            "buyer": {key: self._card_widget(key) for key in BUYER_KEYS},
            "seller": {key: self._card_widget(key) for key in SELLER_KEYS},
        }

    @staticmethod
    def _card_widget(key: str) -> widgets.HTML:
        card = widgets.HTML()
        card.add_class("cc-kpi")
        card.add_class(f"cc-kpi-{key}")
        return card

    @property
    def cards(self) -> tuple[widgets.HTML, ...]:
        """The card widgets on screen, in order."""
        return tuple(self.widget.children)

    def show(self, role: str, snapshot: Mapping[str, Any]) -> None:
        """Show ``role``'s cards with the values of ``snapshot``."""
        self.show_cards(role, seller_cards(snapshot) if role == "seller" else buyer_cards(snapshot))

    def show_cards(self, scope: str, cards: list[Card]) -> None:
        """Show these cards; ``scope`` (a role, or a role's ranged view) keeps each its own widgets."""
        role_widgets = self._widgets.setdefault(scope, {})
        for card in cards:
            target = role_widgets.get(card.key)
            if target is None:
                target = role_widgets[card.key] = self._card_widget(card.key)
            target.value = card_html(card)
            if card.tone == "warn":
                target.add_class("cc-kpi-warn")
            else:
                target.remove_class("cc-kpi-warn")
        shown = tuple(role_widgets[card.key] for card in cards)
        if self.widget.children != shown:
            self.widget.children = shown
