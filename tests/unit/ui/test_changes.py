"""ccanalytics.ui.changes: the change lines and the cards of a ranged view."""

from __future__ import annotations

import pytest

from ccanalytics.ui.cards import Card
from ccanalytics.ui.changes import change_line, overview_changes, view_cards


@pytest.mark.parametrize(
    ("current", "previous", "kind", "expected"),
    [
        (110, 100, "calls", ("▲ 10 % vs p", "good")),
        (90, 100, "calls", ("▼ 10 % vs p", "bad")),
        (100, 100, "calls", ("= same as p", "neutral")),
        (3, 1, "calls", ("▲ 200 % vs p", "good")),
        (1001, 1000, "calls", ("▲ 0.1 % vs p", "good")),
        (90.0, 100.0, "latency", ("▼ 10 % vs p", "good")),
        ("0.500000", "1.000000", "usdc_spent", ("▼ 50 % vs p", "neutral")),
        ("0.500000", "1.000000", "usdc_revenue", ("▼ 50 % vs p", "bad")),
        (0.5, 0.0, "success_rate", ("▲ 50.0 pt vs p", "good")),
        (1, None, "calls", ("none in the p", "neutral")),
        (1, 0, "calls", ("none in the p", "neutral")),
        (None, 5, "calls", ("— vs p", "neutral")),
        (float("nan"), 5, "calls", ("— vs p", "neutral")),
        ("garbage", 5, "calls", ("— vs p", "neutral")),
        (True, 5, "calls", ("— vs p", "neutral")),  # a bool is no figure
        (5, False, "calls", ("none in the p", "neutral")),
    ],
)
def test_change_line(current: object, previous: object, kind: str, expected: tuple[str, str]) -> None:
    assert change_line(current, previous, kind, "p") == expected


def test_an_overview_without_previous_figures_keeps_its_cards() -> None:
    cards = [Card("calls_24h", "Calls (24h)", "3", "")]
    assert overview_changes("buyer", cards, {"buyer": {"calls_24h": 3}}) == cards
    assert overview_changes("seller", cards, {}) == cards


def test_the_weekly_card_compares_with_the_previous_week() -> None:
    snap = {"seller": {"calls_7d": 20, "previous_24h": {"calls": 1}, "previous_7d": {"calls": 10}}}
    [card] = overview_changes("seller", [Card("calls_7d", "Calls (7d)", "20", "")], snap)
    assert (card.change, card.change_tone) == ("▲ 100 % vs previous 7 d", "good")


def test_view_cards_of_a_buyer_and_of_an_empty_view() -> None:
    view = {"range": "30d", "buyer": {"calls": 5, "usdc": "1.000000", "previous": {"usdc": "2.000000"}}}
    cards = view_cards("buyer", view)
    assert [c.label for c in cards] == ["Calls (30d)", "Success Rate", "Avg Latency", "USDC Spent (30d)"]
    assert (cards[3].change, cards[3].change_tone, cards[3].sub) == ("▼ 50 % vs previous 30 d", "neutral", "last 30 d")
    empty = view_cards("seller", {"range": "1h"})
    assert [c.value for c in empty] == ["—", "—", "—", "—", "—"]
    assert {c.change for c in empty[:4]} == {"none in the previous 1 h"}
