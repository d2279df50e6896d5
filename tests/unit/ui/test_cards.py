"""ui/cards.py against metrics.md's KPI cards and dashboard-ui.md: which cards, their values and lines."""

from __future__ import annotations

import copy

from ccanalytics.ui.cards import BUYER_KEYS, SELLER_KEYS, Card, buyer_cards, card_html, seller_cards
from tests.support import ui_snapshots as snaps


def test_the_buyer_has_six_cards_and_the_seller_four_in_the_specs_order() -> None:
    assert [c.key for c in buyer_cards(snaps.BUYER)] == list(BUYER_KEYS)
    assert [c.label for c in buyer_cards(snaps.BUYER)] == [
        "USDC Balance",
        "Gas Balance",
        "Calls (24h)",
        "Avg Latency",
        "USDC Spent (24h)",
        "Total Calls Ever",
    ]
    assert [c.label for c in seller_cards(snaps.SELLER)] == [
        "Calls Served (24h)",
        "Success Rate",
        "Revenue (24h)",
        "Calls Served (7d)",
    ]
    assert [c.key for c in seller_cards(snaps.SELLER)] == list(SELLER_KEYS)


def test_the_buyer_cards_values() -> None:
    values = {c.key: (c.value, c.sub) for c in buyer_cards(snaps.BUYER)}
    assert values["calls_24h"] == ("1,234", "97.3 % success")
    assert values["total_calls"] == ("48,210", "43.12 USDC spent")
    assert values["usdc_balance"] == ("12.50 USDC", "as of Nov 25, 12:59")  # the store's zone: Berlin


def test_a_low_balance_warns_on_its_card_and_a_live_one_says_live() -> None:
    alarms = {c.key: c for c in buyer_cards(snaps.ALARMS)}
    assert alarms["gas_balance"].tone == "warn" and alarms["gas_balance"].sub.startswith("Low gas")
    assert alarms["gas_balance"].note == "RPC did not answer within 5 s"
    live = {c.key: c for c in buyer_cards(snaps.SELLER)}
    assert (live["usdc_balance"].sub, live["usdc_balance"].tone) == ("live", "live")


def test_cards_of_an_empty_snapshot_say_what_is_unknown() -> None:
    values = {c.key: (c.value, c.sub) for c in buyer_cards(snaps.EMPTY)}
    assert values["usdc_balance"] == ("—", "not available")
    assert values["calls_24h"] == ("0", "no calls in 24 h")
    assert values["avg_latency_ms_24h"][0] == "—"
    nothing = copy.deepcopy(snaps.EMPTY)
    del nothing["buyer"], nothing["balances"]
    assert [c.value for c in buyer_cards(nothing)] == ["—"] * 6  # a section missing altogether
    assert [c.value for c in seller_cards({})] == ["—"] * 4


def test_card_html_escapes_every_text_and_sets_the_unit_apart() -> None:
    html = card_html(Card("k", "<b>L</b>", "0.5 USDC", "<i>s</i>", tone="warn", note="<n>", runway="<r>"))
    assert "<b>" not in html and "<i>" not in html and "<n>" not in html and "<r>" not in html
    assert '<div class="cc-card-value">0.5 <span class="cc-unit">USDC</span></div>' in html
    assert 'class="cc-card-sub cc-tone-warn"' in html
    assert card_html(Card("k", "L", "—", "s")).count("cc-unit") == 0
