"""The change lines under the cards (views.md, "Changes"), and the cards of a ranged view.

A card's change compares its figure with the previous period's: counts, money
and latency in percent, a success rate in percentage points, each with a tone
(``good``, ``bad``, ``neutral``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ccanalytics.ui import format as fmt
from ccanalytics.ui.cards import Card
from ccanalytics.ui.choice import PERIODS, WINDOWS
from ccanalytics.ui.parts import section

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["change_line", "overview_changes", "view_cards"]

_GOOD_WHEN = {"calls": 1, "success_rate": 1, "usdc_revenue": 1, "consumers": 1, "latency": -1, "usdc_spent": 0}


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
    now, before = fmt.as_number(current), fmt.as_number(previous)
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
    figures = section(snapshot, role)
    before, week = section(figures, "previous_24h"), section(figures, "previous_7d")
    day = "previous 24 h"
    if not before:  # a snapshot without views.md's figures (an older one): the cards as they are
        return list(cards)
    out = []
    for card in cards:
        if card.key == "calls_24h":
            card = _with_change(card, figures.get("calls_24h"), before.get("calls"), "calls", day)
        elif card.key == "success_rate_24h":
            card = _with_change(card, figures.get("success_rate_24h"), before.get("success_rate"), "success_rate", day)
        elif card.key == "avg_latency_ms_24h":
            card = _with_change(card, figures.get("avg_latency_ms_24h"), before.get("avg_latency_ms"), "latency", day)
            card = replace(card, sub=_p95_sub(figures.get("p95_latency_ms_24h"), "last 24 h"))
        elif card.key == "spent_24h_usdc":
            card = _with_change(card, figures.get("spent_24h_usdc"), before.get("usdc"), "usdc_spent", day)
        elif card.key == "revenue_24h_usdc":
            card = _with_change(card, figures.get("revenue_24h_usdc"), before.get("usdc"), "usdc_revenue", day)
        elif card.key == "calls_7d" and week:
            card = _with_change(card, figures.get("calls_7d"), week.get("calls"), "calls", "previous 7 d")
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
    figures = section(view, role)
    before = section(figures, "previous")
    period, window = PERIODS.get(name, "previous period"), WINDOWS.get(name, "")
    seller = role == "seller"
    cards = [
        _with_change(
            Card("calls", f"{'Calls Served' if seller else 'Calls'} ({name})", fmt.count(figures.get("calls")), window),
            figures.get("calls"),
            before.get("calls"),
            "calls",
            period,
        ),
        _with_change(
            Card("success_rate", "Success Rate", fmt.rate(figures.get("success_rate")), window),
            figures.get("success_rate"),
            before.get("success_rate"),
            "success_rate",
            period,
        ),
        _with_change(
            Card(
                "avg_latency_ms",
                "Avg Latency",
                fmt.latency(figures.get("avg_latency_ms")),
                _p95_sub(figures.get("p95_latency_ms"), window),
            ),
            figures.get("avg_latency_ms"),
            before.get("avg_latency_ms"),
            "latency",
            period,
        ),
        _with_change(
            Card("usdc", f"{'Revenue' if seller else 'USDC Spent'} ({name})", fmt.usdc(figures.get("usdc")), window),
            figures.get("usdc"),
            before.get("usdc"),
            "usdc_revenue" if seller else "usdc_spent",
            period,
        ),
    ]
    if seller:
        new = figures.get("new_consumers")
        cards.append(Card("consumers", "Consumers", fmt.count(figures.get("consumers")), f"{fmt.count(new)} new"))
    return cards
