"""The page against a dripping RPC endpoint: the balance cards leave "reading balances…" and say why.

A real ``ccanalytics serve`` on a store whose ``rpc_url`` (with a password in
it) points at the misbehaving endpoint of ``test_hostile_rpc``, read through
Debian's Chromium.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from ccanalytics.model import READING_NOTE
from tests.support.browser_fixtures import running_server, wait_for
from tests.support.stores import StoreBuilder
from tests.test_hostile_rpc import CHAIN_ID, PASSWORD, USDC, USER, WALLET, Hostile

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.browser_fixtures import Tabs

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_cards_fall_back_from_a_dripping_endpoint_without_its_password(tmp_path: Path, tabs: Tabs) -> None:
    endpoint = Hostile()
    try:
        now_ms = time.time_ns() // 1_000_000
        store = StoreBuilder(str(tmp_path / "cc.db"))
        store.call(now_ms - 3_600_000, api_id="api-a", api_name="Search", price_micro=5000)
        store.balance(now_ms - 600_000, usdc_micro=7_000_000, eth_wei="1000000000000000")
        store.setting("rpc_url", f"http://{USER}:{PASSWORD}@{endpoint.url.removeprefix('http://')}/drip")
        store.setting("wallet_address", WALLET).setting("usdc_address", USDC).setting("chain_id", str(CHAIN_ID))
        with running_server(store.write(), CCANALYTICS_REFRESH_S="3600") as server:
            page = tabs.open()
            page.goto(server.url, timeout=60_000)
            page.wait_for_selector(".cc-kpi", timeout=60_000)

            def notes() -> str:
                return " ".join(page.locator(".cc-card-note").all_inner_texts())

            # The read gives up after 5 s; the page asks again 2 s later while it still reads.
            assert wait_for(lambda: "timed out after 5 s" in notes(), 40), notes()
            assert READING_NOTE not in notes()
            html = page.content()
            assert "7.00" in html  # the store's latest balance snapshot stands in
            assert PASSWORD not in html and USER not in html
    finally:
        endpoint.close()
