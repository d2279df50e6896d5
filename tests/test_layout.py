"""The page at a phone's, a tablet's and a laptop's width, read for everyone: measured in Chromium.

One server on a store built to stress the layout (nine APIs, one with a long
name, amounts in the ten thousands, a long event message, low balances);
each width gets its own tab. Element boxes are measured (a truncated value
has ``scrollWidth > clientWidth``), the chart's hour labels must not overlap,
axe-core (from npm, ``node_modules/axe-core``) must find no serious
violation, and the screenshots land in ``.artifacts/`` (``docs/`` has copies).
"""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser_fixtures import REPO, Server, Tabs, running_server, wait_for
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOW_MS = int(time.time() * 1000)
HOUR_MS = 3_600_000
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = (390, 768, 1440)
LONG_NAME = "Satellite imagery tiles with cloud masking and very long product name"
LONG_MESSAGE = (
    "Catalog synced: 212 APIs, 3 new — the marketplace answered slowly (4.2 s), so the next sync "
    "was moved to 18:00 and the cached catalog stays in use until then"
)


def write_store(path: Path) -> Path:
    """A seller with nine APIs, big amounts, a long API name and message; low USDC and gas; no backup."""
    store = StoreBuilder(str(path)).setting("timezone", "Europe/Berlin")
    names = ["Weather", "Geocoder", "FX rates", "Search", "OCR", "Translate", "Maps", "Stocks", LONG_NAME]
    for n, name in enumerate(names):
        store.api(f"api-{n}", name)
        for i in range(3 + n):
            store.call(
                NOW_MS - (i + 1) * HOUR_MS - 7 * 60_000,
                role="seller",
                api_id=f"api-{n}",
                status_code=502 if i == 1 else 200,
                price_micro=4_321_987_654,  # 4,321.99 USDC a call: five-digit totals
                latency_ms=1234.5,
            )
    for i in range(4):
        store.call(NOW_MS - (i + 2) * HOUR_MS, api_id="buyer-api", api_name="Upstream LLM", price_micro=12_345)
    store.event(NOW_MS - 3 * HOUR_MS, "catalog_sync", "info", LONG_MESSAGE)
    store.event(NOW_MS - 2 * HOUR_MS, "error", "error", "Settlement failed: facilitator timed out")
    store.event(NOW_MS - HOUR_MS, "low_balance", "warning", "USDC below 1.00")
    store.setting("auto_pause_enabled", "0")
    store.balance(NOW_MS - 20 * 60_000, usdc_micro=400_000, eth_wei="100000000000000")
    return Path(store.write())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = write_store(tmp_path_factory.mktemp("layout") / "cc.db")
    with running_server(path, CCANALYTICS_REFRESH_S="2") as running:
        yield running


def open_at(tabs: Tabs, server: Server, width: int) -> Page:
    phone = width < 600
    page = tabs.open(has_touch=phone, is_mobile=phone) if phone else tabs.open()
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(server.url, timeout=60_000)
    page.wait_for_selector(".cc-breakdown .cc-row", timeout=60_000)
    page.wait_for_selector(".cc-call-rate rect.bar", state="attached", timeout=60_000)
    # The kernel relabels the chart for the reported width: wait for the labels to settle.
    expected = 4 if width < 720 else 8
    assert wait_for(lambda: len(hour_labels(page)) in (expected, expected + 1), 15), hour_labels(page)
    return page


_TRUNCATED_JS = """(selector) => [...document.querySelectorAll(selector)]
  .filter(el => el.offsetParent !== null)
  .filter(el => el.scrollWidth > el.clientWidth + 1
            || el.getBoundingClientRect().right > window.innerWidth + 1
            || el.getBoundingClientRect().left < -1)
  .map(el => [el.className, el.textContent.trim(), el.scrollWidth, el.clientWidth])"""

_LABELS_JS = """() => [...document.querySelectorAll('.cc-call-rate .axis')]
  .flatMap(axis => [...axis.querySelectorAll('.tick text')])
  .filter(t => t.textContent.trim() && !/^[\\d,]+$/.test(t.textContent.trim()))
  .map(t => { const r = t.getBoundingClientRect(); return [t.textContent.trim(), r.left, r.right]; })
  .sort((a, b) => a[1] - b[1])"""


def hour_labels(page: Page) -> list[list]:
    return page.evaluate(_LABELS_JS)


def luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


_INNER_SCROLLERS_JS = """() => [...document.querySelectorAll('body *')].filter(el => {
    const style = getComputedStyle(el);
    return ['auto', 'scroll'].includes(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
}).map(el => el.id || el.className.toString())"""


def contrast(fore: str, back: str) -> float:
    high, low = sorted((luminance(fore), luminance(back)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_is_readable_at_every_width(tabs: Tabs, server: Server, width: int) -> None:
    page = open_at(tabs, server, width)
    # No page-wide horizontal scrolling.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width

    # Every value shows in full: breakdown cells, card values and lines, the pill, the event log.
    selectors = ".cc-breakdown .cc-num, .cc-card-value, .cc-card-sub, .cc-pill, .cc-event-msg, .cc-event-time"
    assert page.evaluate(_TRUNCATED_JS, selectors) == []
    # All nine APIs are in the page (no inner scroll box hides the ninth), and the hint counts them.
    assert page.locator(".cc-breakdown .cc-row").count() == 9
    assert page.evaluate("() => document.querySelector('.cc-rows').scrollHeight") == page.evaluate(
        "() => document.querySelector('.cc-rows').clientHeight"
    )
    assert "9 APIs" in page.locator(".cc-breakdown .cc-panel-hint").inner_text()
    # The page scrolls as a document (a phone's address bar collapses, find and full-page shots see it all):
    # no box in it scrolls on its own, and the document is as tall as the dashboard.
    assert page.evaluate(_INNER_SCROLLERS_JS) == []
    assert page.evaluate(
        "() => document.scrollingElement.scrollHeight >= document.querySelector('.cc-dashboard').scrollHeight"
    )
    assert page.get_by_text(LONG_NAME).is_visible()

    # The chart's hour labels do not overprint.
    labels = hour_labels(page)
    assert labels and all(a[2] <= b[1] for a, b in itertools.pairwise(labels)), labels

    # The event log's description is on screen and wide enough to read.
    message = page.locator(".cc-event-msg", has_text="Catalog synced").bounding_box()
    assert message and message["x"] >= 0 and message["x"] + message["width"] <= width and message["width"] > 200

    # Seller mode shows the wallet and its low-balance warnings (auto-pause is off in this store).
    wallet = page.locator(".cc-wallet").inner_text()
    assert "0.40 USDC" in wallet and "Low USDC" in wallet and "Low gas" in wallet, wallet

    shot = REPO / ".artifacts" / f"dashboard-{width}.png"  # docs/ holds copies of these, looked at
    shot.parent.mkdir(exist_ok=True)
    height = page.evaluate("() => Math.ceil(document.querySelector('.cc-dashboard').scrollHeight) + 40")
    page.set_viewport_size({"width": width, "height": max(900, height)})
    time.sleep(1)  # the chart follows the new size
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000


def test_a_tap_on_a_bar_opens_its_tooltip_on_a_phone(tabs: Tabs, server: Server) -> None:
    page = open_at(tabs, server, 390)
    # The tallest bar: an hour with calls.
    page.locator(".cc-call-rate").scroll_into_view_if_needed()
    x, y = page.evaluate(
        """() => { const bars = [...document.querySelectorAll('.cc-call-rate rect.bar')];
             const r = bars.map(b => b.getBoundingClientRect()).sort((a, b) => b.height - a.height)[0];
             return [r.left + r.width / 2, r.top + r.height / 2]; }"""
    )
    page.touchscreen.tap(x, y)
    tip = page.locator(".cc-call-rate-tip")
    # The tapped hour's counts (the tallest bar has calls), not an empty or a default tooltip.
    shown = lambda: tip.is_visible() and re.search(r"\b[1-9][\d,]* success", tip.inner_text())  # noqa: E731
    assert wait_for(shown, 10), tip.all_inner_texts()


def test_it_reads_for_everyone_headings_title_roles_contrast_and_axe(tabs: Tabs, server: Server) -> None:
    page = open_at(tabs, server, 1440)
    assert page.title() == "ccanalytics — Dashboard"
    assert page.locator("h1").all_inner_texts() == ["Dashboard"]
    assert {"Call rate", "API breakdown", "Event log"} <= set(page.locator("h2").all_inner_texts())
    assert page.locator(".cc-banner [role=alert], .cc-banners [role=alert]").count() >= 1
    # The breakdown says which column is sorted; the chart has a text alternative.
    assert page.locator('.cc-breakdown [role=columnheader][aria-sort="descending"]').all_inner_texts() == ["Calls"]
    assert "busiest hour" in page.locator(".cc-call-rate-summary").inner_text()

    # Axis labels and muted text: at least 4.5:1 against what they sit on.
    axis = page.evaluate("() => getComputedStyle(document.querySelector('.cc-call-rate .axis .tick text')).fill")
    assert contrast(axis, "rgb(255, 255, 255)") >= 4.5, axis
    for selector in (".cc-panel-hint", ".cc-subtitle", ".cc-card-label", ".cc-event-time"):
        fore, back = page.evaluate(
            """(s) => { const el = document.querySelector(s); let b = el, bg;
                 do { bg = getComputedStyle(b).backgroundColor; b = b.parentElement; }
                 while (b && (bg === 'rgba(0, 0, 0, 0)' || bg === 'transparent'));
                 return [getComputedStyle(el).color, bg]; }""",
            selector,
        )
        assert contrast(fore, back) >= 4.5, (selector, fore, back)

    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, { resultTypes: ['violations'] })")
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert result["passes"] and serious == [], serious  # it ran (and passed rules), and found nothing serious
