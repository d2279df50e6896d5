"""The reconciliation line under the breakdown: shown after a reconcile, absent before, amber when off."""

from __future__ import annotations

import copy
import re

from ccanalytics.ui import Dashboard
from tests.support import ui_snapshots as snaps

RECONCILED = {
    "ts": "2026-11-25T11:00:00Z",
    "from_block": 0,
    "to_block": 9000,
    "matched": 1204,
    "missing": 0,
    "unrecorded": 0,
    "matched_usdc": "1.204000",
    "missing_usdc": "0.000000",
    "unrecorded_usdc": "0.000000",
}


def main_texts(dashboard: Dashboard) -> list[str]:
    return [getattr(w, "value", "") for w in dashboard.main.children]


def text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_no_line_before_the_first_reconciliation() -> None:
    page = Dashboard(copy.deepcopy(snaps.SELLER))
    assert page.reconciliation not in page.main.children
    page.update({**copy.deepcopy(snaps.SELLER), "reconciliation": None})
    assert page.reconciliation not in page.main.children


def test_the_line_sits_under_the_breakdown() -> None:
    page = Dashboard({**copy.deepcopy(snaps.SELLER), "reconciliation": RECONCILED})
    children = list(page.main.children)
    assert children.index(page.reconciliation) == children.index(page.breakdown.widget) + 1
    shown = text(page.reconciliation.value)
    assert shown.startswith("1,204 of 1,204 paid calls found on chain")
    assert "reconciled Nov 25, 11:00" in shown
    assert "cc-reconciliation-ok" in page.reconciliation.value


def test_something_off_is_amber_and_says_what() -> None:
    off = {**RECONCILED, "matched": 1202, "missing": 2, "unrecorded": 3, "unrecorded_usdc": "5.250000"}
    page = Dashboard({**copy.deepcopy(snaps.SELLER), "reconciliation": off})
    shown = text(page.reconciliation.value)
    assert "1,202 of 1,204 paid calls found on chain; 3 transfers not recorded (5.25 USDC)" in shown
    assert "cc-reconciliation-warn" in page.reconciliation.value
    # The next snapshot without one (a store replaced) removes the line.
    page.update(copy.deepcopy(snaps.SELLER))
    assert page.reconciliation not in page.main.children
