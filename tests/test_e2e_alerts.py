"""The page's alerts in Chromium: chips in the header, spike marks on the chart, runway under the balances.

A real ``ccanalytics serve`` on a store with an error burst in the current
hour, no backup, and three days of spending and gas burn; the screenshot is
saved to ``.artifacts/alerts.png`` (docs/alerts.png is a copy of one).
"""

from __future__ import annotations

import time

import pytest

from tests.support.browser_fixtures import REPO, running_server, wait_for
from tests.support.stores import StoreBuilder

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def write_alarming_store(path) -> str:
    now = int(time.time() * 1000)
    store = StoreBuilder(str(path))
    store.setting("alert_backup_overdue", "email")
    store.event(now - 3 * DAY_MS)
    for k in range(72):  # three days of paid calls, a few errors, and then a burst
        t = now - 3 * DAY_MS + k * HOUR_MS
        for j in range(6):
            store.call(t + j * 60_000, api_id=("bb-graphql", "wx-current")[j % 2], price_micro=20_000,
                       status_code=502 if (k + j) % 17 == 0 else 200)  # fmt: skip
    for j in range(7):
        store.call(now - 90_000 + j * 5_000, api_id="bb-graphql" if j < 5 else "wx-current", status_code=502)
    for day in range(4):
        store.balance(now - (3 - day) * DAY_MS - 60_000, usdc_micro=9_000_000 - day * 1_400_000,
                      eth_wei=str(4_200_000_000_000_000 - day * 95_000_000_000_000))  # fmt: skip
    return store.write()


def test_chips_spike_marks_and_runway_in_chromium(tmp_path, tabs):
    db = write_alarming_store(tmp_path / "alarming.db")
    with running_server(db, CCANALYTICS_REFRESH_S="2") as server:
        page = tabs.open()
        page.goto(server.url, timeout=30_000)
        page.wait_for_selector(".cc-alert-chip", timeout=30_000)
        chips = page.locator(".cc-alerts .cc-alert-chip").all_inner_texts()
        assert [c.split("·")[0].strip(" !\n") for c in chips] == ["Backup overdue", "Error spike"], chips
        assert "7 errors in 5 min" in chips[1]
        assert page.locator(".cc-header .cc-alerts").count() == 1

        runway = page.locator(".cc-card-runway").all_inner_texts()
        assert len(runway) == 2 and all(r.startswith("≈ ") and r.endswith("days at the 7-day pace") for r in runway)

        # The spike marker: a scatter point over the current hour's bar.
        marks = wait_for(lambda: page.locator(".cc-call-rate .dot").count(), 10)
        assert marks >= 1
        assert "Error spike" in page.locator(".cc-legend-spike").inner_text()

        height = page.evaluate("() => Math.ceil(document.querySelector('.cc-dashboard').scrollHeight) + 80")
        page.set_viewport_size({"width": 1440, "height": max(900, height)})
        time.sleep(1)  # the chart follows the new size
        artifacts = REPO / ".artifacts"
        artifacts.mkdir(exist_ok=True)
        page.screenshot(path=str(artifacts / "alerts.png"))
        assert (artifacts / "alerts.png").stat().st_size > 20_000
