"""A store filled by the x402 recorder, on the real page in Chromium: seller mode, and the reconciliation line."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

import pytest

from ccanalytics.collect import StoreWriter
from ccanalytics.contract import RECONCILIATIONS_DDL
from tests.support.browser_fixtures import Tabs, running_server, wait_for

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_S = 30


def recorded_store(db: Path) -> None:
    """What the seller layer writes for 30 paid calls of one API, plus a reconciliation of them."""
    now = int(time.time() * 1000)
    with StoreWriter(db, settings={"wallet_address": "0x" + "11" * 20, "chain_id": "84532"}) as writer:
        writer.register_api("weather", "Weather by city", 1_000)
        for i in range(30):
            writer.record(
                {
                    "request_id": f"r{i}",
                    "ts_ms": now - 60_000 * (i + 1),
                    "role": "seller",
                    "api_id": "weather",
                    "api_name": "Weather by city",
                    "status_code": 200,
                    "latency_ms": 80.0,
                    "price_micro": 1_000,
                    "revenue_micro": 1_000,
                    "tx_hash": "0x" + f"{i:064x}",
                    "delivery": "p2p",
                    "consumer": "ab" * 32,
                }
            )
    reconcile_row(db, now - 1_000, matched=30, missing=0, unrecorded=0)


def reconcile_row(db: Path, ts: int, *, matched: int, missing: int, unrecorded: int) -> None:
    con = sqlite3.connect(db)
    with con:
        con.execute(RECONCILIATIONS_DDL)
        con.execute(
            "INSERT INTO reconciliations VALUES (?, 0, 100, ?, ?, ?, ?, ?, ?)",
            (ts, matched, missing, unrecorded, matched * 1_000, missing * 1_000, unrecorded * 777),
        )
    con.close()


def test_the_page_shows_the_recorded_seller_and_its_reconciliation(tabs: Tabs, tmp_path: Path) -> None:
    db = tmp_path / "x402.db"
    recorded_store(db)
    with running_server(db, CCANALYTICS_REFRESH_S="1", CCANALYTICS_CULL_IDLE_S="10") as server:
        page = tabs.open()
        page.goto(server.url, timeout=TIMEOUT_S * 1000)
        page.wait_for_selector(".cc-reconciliation", timeout=TIMEOUT_S * 1000)
        assert "Seller mode" in page.inner_text(".cc-mode")
        line = page.locator(".cc-reconciliation")
        assert line.inner_text().startswith("30 of 30 paid calls found on chain")
        # Under the breakdown.
        below = page.evaluate(
            """() => {
                const b = document.querySelector('.cc-breakdown').getBoundingClientRect();
                const r = document.querySelector('.cc-reconciliation').getBoundingClientRect();
                return r.top >= b.bottom - 1;
            }"""
        )
        assert below

        reconcile_row(db, int(time.time() * 1000) - 500, matched=29, missing=1, unrecorded=2)
        changed = wait_for(lambda: "29 of 30 paid calls found on chain" in line.inner_text(), TIMEOUT_S)
        assert changed, line.inner_text()
        assert "2 transfers not recorded" in line.inner_text()
        assert "cc-reconciliation-warn" in (line.get_attribute("class") or "")
