"""The fleet page: ``ccanalytics serve --lake DIR`` read through Debian's Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccanalytics.demo import write_demo
from ccanalytics.fleet.lake import export
from ccanalytics.ui import format as fmt
from ccanalytics.units import HOUR_MS, now_ms
from tests.support.browser_fixtures import Server, Tabs, free_port
from tests.support.stores import StoreBuilder

NOW = now_ms()  # the page shows the fleet at the current time
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fleet")
    write_demo(folder / "eu-seller.db", seed=4, days=3, now_ms=NOW - HOUR_MS)
    b = StoreBuilder(str(folder / "us-buyer.db"))
    for i in range(6):
        b.call(NOW - i * HOUR_MS - 5, "buyer", "<img src=x onerror=alert(1)>", 200 if i % 3 else 502)
    b.write()
    lake = folder / "lake"
    for name in ("eu-seller", "us-buyer"):
        export(folder / f"{name}.db", lake)
    return lake


@pytest.mark.browser
@pytest.mark.slow
def test_the_fleet_page_shows_totals_nodes_the_chart_and_the_breakdown(lake: Path, tabs: Tabs) -> None:
    server = Server(free_port(), None, {}, args=("--lake", str(lake))).start()
    try:
        page = tabs.open()
        page.goto(server.url, timeout=120_000)
        page.wait_for_selector(".cc-fleet-node", timeout=120_000)
        rows = page.locator(".cc-fleet-node")
        assert rows.count() == 2
        assert rows.nth(0).locator("td").nth(0).inner_text() == "eu-seller"  # ranked by revenue
        assert page.locator(".cc-fleet-kpis .cc-kpi-nodes .cc-card-value").inner_text() == "2"
        # The figures on the page are the CLI's.
        fleet = json.loads(
            subprocess.run(
                [sys.executable, "-m", "ccanalytics", "fleet", "--lake", str(lake)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            ).stdout
        )["fleet"]
        assert fleet["mode"] == "seller"
        total = page.locator(".cc-fleet-kpis .cc-kpi-total_calls .cc-card-value").inner_text()
        assert total == fmt.count(fleet["seller"]["total_calls"])
        page.wait_for_function("document.querySelectorAll('.cc-call-rate rect.bar').length === 96", timeout=60_000)
        heights = page.eval_on_selector_all(
            ".cc-call-rate rect.bar", "bars => bars.map(b => +b.getAttribute('height'))"
        )
        assert sum(h > 0 for h in heights) >= 10  # 48 hours of success and errors, a demo's day of them drawn
        breakdown = page.locator(".cc-breakdown .cc-tbody").inner_text()
        for row in fleet["seller"]["breakdown"]:
            assert row["api_id"] in breakdown or row["api_name"] in breakdown
        assert page.locator("img[src=x]").count() == 0  # store text is shown as text
    finally:
        assert server.stop() == []


def test_serve_refuses_a_folder_that_is_not_a_lake(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "serve", "--lake", str(tmp_path), "--port", str(free_port())],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 1 and "holds no nodes" in result.stderr and result.stderr.count("\n") == 1
