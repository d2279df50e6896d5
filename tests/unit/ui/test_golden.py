"""The pure renderers' HTML, byte for byte, against golden files in tests/golden/.

A change to what a renderer writes shows up here as a diff to review.  When
the change is meant, regenerate the files and commit them with the change::

    CCANALYTICS_GOLDEN=write python3 -m pytest tests/unit/ui/test_golden.py

The files hold the HTML with a line break between adjacent tags (``><``), so
that a diff shows which element changed; the comparison is on that form.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ccanalytics.ui import format as fmt
from ccanalytics.ui.alerts import chips_html
from ccanalytics.ui.banners import auto_pause_html, backup_html, data_issues_html
from ccanalytics.ui.cards import buyer_cards, card_html, seller_cards
from ccanalytics.ui.chart import chart_summary, hour_bars
from ccanalytics.ui.fleet import nodes_html
from ccanalytics.ui.reconciliation import reconciliation_line
from ccanalytics.ui.tables import breakdown_body, events_html
from ccanalytics.ui.wallet import wallet_html
from tests.support import ui_snapshots as snaps

if TYPE_CHECKING:
    from collections.abc import Callable

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
WRITE = os.environ.get("CCANALYTICS_GOLDEN") == "write"


def _alarming() -> dict[str, Any]:
    snapshot = copy.deepcopy(snaps.ALARMS)
    snapshot["alerts"] = [
        {"rule": "low_usdc", "firing": True, "level": "email", "value": "0.004000", "threshold": "1.000000",
         "message": "Low USDC: 0.004000, below 1.000000"},
        {"rule": "error_spike", "firing": True, "level": "panel", "value": 7, "threshold": 5,
         "message": "7 errors in the last 5 min (<img src=x> 6, wx 1)"},
        {"rule": "low_gas", "firing": True, "level": "off", "value": None, "threshold": None, "message": "off"},
        {"rule": "backup_overdue", "firing": False, "level": "panel", "value": None, "threshold": None,
         "message": ""},
    ]  # fmt: skip
    return snapshot


_FLEET = {
    "nodes": {"alpha": {"mode": "seller", "balances": {"usdc": "12.500000"}}, "<b>beta</b>": {"mode": "buyer"}},
    "fleet": {
        "rankings": {
            "by_revenue": [
                {"node": "alpha", "revenue_24h_usdc": "3.210000", "calls_24h": 1_234, "errors_24h": 12,
                 "error_rate_24h": 0.0097},
                {"node": "<b>beta</b>", "revenue_24h_usdc": "0.000000", "calls_24h": 0, "errors_24h": 0,
                 "error_rate_24h": None},
            ]
        }
    },
}  # fmt: skip

_RECONCILED = {"ts": "2026-11-25T11:00:00Z", "matched": 1204, "missing": 2, "unrecorded": 1,
               "unrecorded_usdc": "5.000000"}  # fmt: skip


SELLER_ROWS = snaps.SELLER["seller"]["breakdown"]


def _cards(snapshot: dict[str, Any], role: str) -> str:
    cards = buyer_cards(snapshot) if role == "buyer" else seller_cards(snapshot)
    return "".join(card_html(card) for card in cards)


def _zone(snapshot: dict[str, Any]) -> Any:
    return fmt.store_zone(snapshot["timezone"])


RENDERERS: dict[str, Callable[[], str]] = {
    "cards_buyer": lambda: _cards(snaps.BUYER, "buyer"),
    "cards_seller": lambda: _cards(snaps.SELLER, "seller"),
    "cards_empty": lambda: _cards(snaps.EMPTY, "buyer"),
    "cards_alarms": lambda: _cards(_alarming(), "buyer"),
    "cards_nasty": lambda: _cards(snaps.NASTY, "seller"),
    "chips_alarms": lambda: chips_html(_alarming()),
    "banner_auto_pause": lambda: auto_pause_html(snaps.BUYER["panel_url"]),
    "banner_auto_pause_nasty": lambda: auto_pause_html(snaps.NASTY["panel_url"]),
    "banner_backup": lambda: backup_html(snaps.ALARMS["last_backup"], snaps.NOW, snaps.ALARMS["panel_url"]),
    "banner_backup_never": lambda: backup_html(None, snaps.NOW, None),
    "banner_data_issues": lambda: data_issues_html(snaps.ALARMS["data_issues"]),
    "banner_data_issues_nasty": lambda: data_issues_html(snaps.NASTY["data_issues"]),
    "breakdown_buyer": lambda: breakdown_body(snaps.BUYER["buyer"]["breakdown"], "buyer", "calls"),
    "breakdown_seller_by_name": lambda: breakdown_body(
        snaps.SELLER["seller"]["breakdown"], "seller", "api_name", False
    ),
    "breakdown_nasty": lambda: breakdown_body(snaps.NASTY["seller"]["breakdown"], "seller", "calls"),
    "breakdown_empty": lambda: breakdown_body([], "buyer"),
    "events_buyer": lambda: events_html(snaps.BUYER["events"], _zone(snaps.BUYER), snaps.BUYER["timezone"]),
    "events_nasty": lambda: events_html(snaps.NASTY["events"], fmt.store_zone("UTC"), snaps.NASTY["timezone"]),
    "events_empty": lambda: events_html([], fmt.store_zone("UTC"), "UTC"),
    "reconciliation_off": lambda: reconciliation_line(_RECONCILED, "Europe/Berlin"),
    "wallet_buyer": lambda: wallet_html(snaps.BUYER),
    "wallet_alarms": lambda: wallet_html(_alarming()),
    "wallet_nasty": lambda: wallet_html(snaps.NASTY),
    "fleet_nodes": lambda: nodes_html(_FLEET),
    "chart_summary_buyer": lambda: chart_summary(hour_bars(snaps.BUYER["buyer"]["call_rate"], _zone(snaps.BUYER))),
}


def _lines(html: str) -> str:
    return html.replace("><", ">\n<") + "\n"


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_a_renderer_writes_its_golden_html(name: str) -> None:
    path = GOLDEN / f"{name}.html"
    html = _lines(RENDERERS[name]())
    if WRITE:
        path.write_text(html, encoding="utf-8")
    assert path.exists(), f"{path.name} is missing: CCANALYTICS_GOLDEN=write python3 -m pytest {__file__}"
    assert html == path.read_text(encoding="utf-8"), f"{name}: the HTML differs from tests/golden/{path.name}"


def test_every_golden_file_has_its_renderer() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.html")) == sorted(RENDERERS)


@pytest.mark.parametrize("name", [n for n in sorted(RENDERERS) if "nasty" in n])
def test_no_golden_file_of_hostile_text_holds_live_markup(name: str) -> None:
    html = (GOLDEN / f"{name}.html").read_text(encoding="utf-8")
    assert "<img" not in html and "<script" not in html and "<b>" not in html
