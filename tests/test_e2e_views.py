"""views.md's page in Chromium: the range picker, the view in the URL, the downloads, the dark theme.

A real ``ccanalytics serve`` on a literal store: calls of both roles over the
last 40 days at fixed times before the moment the store is written, so every
all-time figure is known in advance; screenshots go to ``.artifacts/``.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import time
from pathlib import Path

import pytest

import ccanalytics as cc
from tests.support.browser_fixtures import REPO, running_server, wait_for
from tests.support.stores import StoreBuilder
from tests.test_layout import contrast

HOUR_MS = 3_600_000
DAY_MS = 86_400_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> str:
    now = int(time.time() * 1000)
    store = StoreBuilder(str(tmp_path_factory.mktemp("views") / "views.db"))
    store.api("bb-graphql", name="GraphQL <demo>").api("bb-ticker", name="Ticker")
    store.event(now - 41 * DAY_MS).backup(now - DAY_MS)
    for day in range(40):
        for k in range(6):
            t = now - day * DAY_MS - (k * 3 + 1) * HOUR_MS
            api = ("bb-graphql", "bb-ticker")[k % 2]
            store.call(t, role="seller", api_id=api, price_micro=2000, latency_ms=100.0 + 10 * k + day,
                       status_code=502 if (day + k) % 9 == 0 else 200, consumer=f"c{(day * 7 + k) % 11}")  # fmt: skip
            store.call(t + 60_000, role="buyer", api_id="wx-current", price_micro=300, latency_ms=80.0 + k)
    return store.write()


@pytest.fixture(scope="module")
def server(store_path):
    with running_server(store_path, CCANALYTICS_REFRESH_S="2") as served:
        yield served


def query(page) -> str:
    """The page's URL query as the page has it now (``page.url`` is only updated on playwright's events)."""
    return page.evaluate("() => window.location.search")


def card_texts(page) -> list[str]:
    return [t.replace("\n", " | ") for t in page.locator(".cc-kpis .cc-card").all_inner_texts()]


def test_picking_a_range_rescopes_cards_chart_and_table_and_updates_the_url(server, tabs, store_path):
    page = tabs.open()
    page.goto(server.url, timeout=60_000)
    page.wait_for_selector(".cc-kpi-calls_24h", timeout=60_000)
    assert page.locator(".cc-range").count() == 1 and page.locator(".cc-api-filter").count() == 1
    assert page.locator(".cc-call-rate rect.bar").count() == 2 * 48
    # The overview's cards say how they changed since the previous 24 h; p95 under Avg Latency (buyer).
    assert any("vs previous 24 h" in text for text in card_texts(page))

    page.locator(".cc-range button", has_text="7d").click()
    wait_for(lambda: any(t.startswith("CALLS SERVED (7D)") for t in card_texts(page)), 30)
    assert wait_for(lambda: query(page) == "?range=7d", 30), query(page)
    assert wait_for(lambda: page.locator(".cc-call-rate rect.bar").count() == 2 * 168, 10)
    assert "calls per hour, last 7 days" in page.locator(".cc-call-rate-panel, .cc-panel").first.inner_text()
    texts = card_texts(page)
    with cc.open_store(store_path) as store:
        view = store.snapshot(range="7d").to_dict()["view"]["seller"]
    calls = next(t for t in texts if t.startswith("CALLS SERVED (7D)"))
    assert f"{view['calls']:,}" in calls and "previous 7 d" in calls
    assert any(t.startswith("CONSUMERS") and f"{view['consumers']}" in t for t in texts)
    latency = next(t for t in texts if t.startswith("AVG LATENCY"))
    assert "p95" in latency
    assert "last 7 d" in page.locator(".cc-breakdown .cc-panel-hint").inner_text()

    # One API: cards, chart and table follow, and so does the URL.
    page.locator(".cc-api-filter select").select_option("bb-ticker")
    assert wait_for(lambda: query(page) == "?range=7d&api=bb-ticker", 30), query(page)
    # bb-ticker is in the unfiltered table too: wait until the others have gone.
    table = page.locator(".cc-breakdown .cc-tbody")
    assert wait_for(lambda: "bb-graphql" not in table.inner_text(), 30), table.inner_text()
    assert table.inner_text().count("bb-ticker") == 1
    with cc.open_store(store_path) as store:
        only = store.snapshot(range="7d", api="bb-ticker").to_dict()["view"]["seller"]
    assert wait_for(lambda: any(f"{only['calls']:,} |" in t for t in card_texts(page)), 30)

    page.locator(".cc-range button", has_text="1h").click()
    wait_for(lambda: page.locator(".cc-call-rate rect.bar").count() == 2 * 60, 30)
    assert wait_for(lambda: query(page) == "?range=1h&api=bb-ticker", 30), query(page)


def test_opening_a_link_with_a_view_shows_that_view(server, tabs):
    page = tabs.open()
    page.goto(server.url + "?range=30d&role=buyer", timeout=60_000)
    wait_for(lambda: any(t.startswith("CALLS (30D)") for t in card_texts(page)), 60)
    assert page.locator(".cc-mode .mod-active").inner_text().strip() == "Buyer"
    assert page.locator(".cc-range .mod-active").inner_text().strip() == "30d"
    assert wait_for(lambda: page.locator(".cc-call-rate rect.bar").count() == 2 * 30, 20)
    assert "calls per local day" in page.locator(".cc-panel-hint").first.inner_text()
    assert "the busiest day had" in page.locator(".cc-call-rate-summary").inner_text()
    assert query(page) == "?range=30d&role=buyer"


def test_the_downloaded_csv_equals_the_snapshot_breakdown(server, tabs, store_path):
    page = tabs.open(accept_downloads=True)
    page.goto(server.url, timeout=60_000)
    page.wait_for_selector(".cc-export-breakdown-csv", timeout=60_000)
    with page.expect_download() as download:
        page.locator(".cc-export-breakdown-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    with cc.open_store(store_path) as store:
        expected = store.snapshot().to_dict()["seller"]["breakdown"]
    assert [r["api_id"] for r in rows] == [e["api_id"] for e in expected]
    for row, want in zip(rows, expected, strict=True):
        assert row["api_name"] == want["api_name"] and row["usdc"] == want["usdc"]
        for key in ("calls", "success", "errors"):
            assert int(row[key]) == want[key]
        for key in ("avg_latency_ms", "p95_latency_ms", "success_rate"):
            assert math.isclose(float(row[key]), want[key], rel_tol=1e-12)
    assert download.value.suggested_filename == "ccanalytics-seller-breakdown.csv"
    with page.expect_download() as parquet:
        page.locator(".cc-export-events-parquet").click()
    assert Path(parquet.value.path()).read_bytes()[:4] == b"PAR1"


_X_LABELS_JS = """() => [...document.querySelectorAll('.cc-call-rate .axis .tick text')]
  .filter(t => t.textContent.trim() && !/^[\\d,]+$/.test(t.textContent.trim()))
  .map(t => { const r = t.getBoundingClientRect(); return [t.textContent.trim(), r.left, r.right]; })
  .sort((a, b) => a[1] - b[1])"""


def x_labels(page) -> list[list]:
    """The chart's bottom-axis labels shown (the y axis's are numbers), left to right, with their boxes."""
    return page.evaluate(_X_LABELS_JS)


def apart(labels: list[list]) -> bool:
    """Whether there are labels and none overprints the next (a 2 px gap at least)."""
    return len(labels) >= 2 and all(a[2] + 2 <= b[1] for a, b in itertools.pairwise(labels))


def test_a_phone_shows_the_axis_labels_of_every_range_apart_in_the_dark(server, tabs):
    page = tabs.open(has_touch=True, is_mobile=True, color_scheme="dark")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "?range=7d", timeout=60_000)
    page.wait_for_selector(".cc-call-rate rect.bar", state="attached", timeout=60_000)
    assert wait_for(lambda: page.locator(".cc-call-rate rect.bar").count() == 2 * 168, 30)
    # The kernel thins the labels once the page has reported its width.
    assert wait_for(lambda: apart(x_labels(page)), 20), x_labels(page)
    for name, bars in (("30d", 30), ("90d", 90), ("1h", 60), ("24h", 24), ("Overview", 48)):
        page.locator(".cc-range button", has_text=name).click()
        assert wait_for(lambda bars=bars: page.locator(".cc-call-rate rect.bar").count() == 2 * bars, 30), name
        assert wait_for(lambda: apart(x_labels(page)), 10), (name, x_labels(page))
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390, name
    # The axis's text reads on the dark card (4.5:1 at least).
    fill = page.evaluate("() => getComputedStyle(document.querySelector('.cc-call-rate .axis .tick text')).fill")
    panel = "document.querySelector('.cc-call-rate').closest('.cc-panel')"
    card = page.evaluate(f"() => getComputedStyle({panel}).backgroundColor")
    assert contrast(fill, card) >= 4.5, (fill, card)


def test_the_dark_theme_follows_the_browser(server, tabs):
    page = tabs.open(color_scheme="dark")
    page.goto(server.url + "?range=24h", timeout=60_000)
    page.wait_for_selector(".cc-card", timeout=60_000)
    assert wait_for(lambda: "last 24 h (" in page.locator(".cc-panel-hint").first.inner_text(), 60)
    background = page.evaluate("() => getComputedStyle(document.querySelector('.cc-card')).backgroundColor")
    text = page.evaluate("() => getComputedStyle(document.querySelector('.cc-card-value')).color")
    assert background == "rgb(17, 28, 49)" and text == "rgb(226, 232, 240)"
    time.sleep(1)
    artifacts = REPO / ".artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / "views-dark.png"), full_page=True)
    assert (artifacts / "views-dark.png").stat().st_size > 20_000
