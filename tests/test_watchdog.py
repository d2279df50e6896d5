"""The page's own watchdog: a frozen kernel or a stopped server turns the pill red, and the page comes back.

The staleness check of the refresh loop runs in the kernel and dies with it;
these tests freeze the kernel (``SIGSTOP``) and stop the server, and read the
pill in Chromium. The bound is the issue's: two refresh intervals plus 5 s.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ccanalytics.ui.heartbeat import DISCONNECTED_TEXT
from tests.support.browser_fixtures import Server, Tabs, free_port, wait_for
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REFRESH_S = 2
BOUND_S = 2 * REFRESH_S + 5
NOW_MS = int(time.time() * 1000)
HOUR_MS = 3_600_000


def write_store(path: Path) -> Path:
    store = StoreBuilder(str(path))
    for i in range(5):
        store.call(NOW_MS - (i + 1) * HOUR_MS, api_id="api-a", api_name="Search", price_micro=5000)
    store.balance(NOW_MS - HOUR_MS, usdc_micro=25_000_000, eth_wei="10000000000000000")
    return Path(store.write())


def open_page(tabs: Tabs, server: Server) -> Page:
    page = tabs.open()
    page.sockets = []  # type: ignore[attr-defined]
    page.on("websocket", lambda ws: page.sockets.append(ws.url))
    page.console = []  # type: ignore[attr-defined]
    page.on("console", lambda message: page.console.append((message.type, message.text)))
    page.goto(server.url, timeout=60_000)
    page.wait_for_selector(".cc-kpi", timeout=60_000)
    assert wait_for(lambda: pill(page).startswith("Updated"), 20), pill(page)
    return page


def pill(page: Page) -> str:
    """The freshness pill's text ("" while the page reloads)."""
    from playwright.sync_api import Error

    try:
        found = page.query_selector(".cc-updated")
        return " ".join((found.text_content() or "").split()) if found else ""
    except Error:  # the page navigated (reloaded) meanwhile
        return ""


def kernel_id(page: Page) -> str:
    sockets = page.sockets  # type: ignore[attr-defined]
    ids = [m.group(1) for url in sockets for m in [re.search(r"/api/kernels/([0-9a-f-]{36})/", url)] if m]
    assert ids, sockets
    return ids[0]


def kernel_pid(page: Page, server: Server) -> int:
    return server.kernel_pids()[kernel_id(page)]


def red_within(page: Page, timeout_s: float) -> float | None:
    """Seconds until the pill says it is disconnected, in red; ``None`` when it did not within ``timeout_s``."""
    started = time.monotonic()
    red = lambda: pill(page) == DISCONNECTED_TEXT and page.locator(".cc-updated .cc-pill-error").count()  # noqa: E731
    red = wait_for(red, timeout_s, 0.2)
    return time.monotonic() - started if red else None


@pytest.fixture
def server(tmp_path: Path):
    running = Server(free_port(), write_store(tmp_path / "cc.db"), {"CCANALYTICS_REFRESH_S": str(REFRESH_S)}).start()
    try:
        yield running
    finally:
        running.stop()


def test_a_frozen_kernel_turns_the_pill_red_and_it_recovers_when_the_kernel_runs_again(tabs: Tabs, server: Server):
    page = open_page(tabs, server)
    pid = kernel_pid(page, server)
    os.kill(pid, signal.SIGSTOP)
    try:
        took = red_within(page, BOUND_S + 10)
        assert took is not None, pill(page)
        assert took <= BOUND_S, f"the pill turned red {took:.1f} s after the kernel froze"
        assert page.locator(".cc-updated [role=alert]").count() == 1
    finally:
        os.kill(pid, signal.SIGCONT)
    # The same kernel speaks again: the pill is the kernel's again, without a reload.
    assert wait_for(lambda: pill(page).startswith("Updated"), 20), pill(page)
    assert kernel_pid(page, server) == pid


def test_a_stopped_server_turns_the_pill_red_and_a_restarted_one_gets_a_fresh_page(tabs: Tabs, server: Server):
    page = open_page(tabs, server)
    started = time.monotonic()
    server.stop()
    took = red_within(page, BOUND_S + 10)
    assert took is not None, pill(page)
    took = time.monotonic() - started
    assert took <= BOUND_S, f"the pill turned red {took:.1f} s after the server was stopped"
    assert "Refresh now" in page.locator(".cc-refresh").inner_text()

    # The operator starts the server again: the page reloads itself onto a fresh kernel.
    again = Server(server.port, server.db, server.env).start()
    try:
        assert wait_for(lambda: pill(page).startswith("Updated"), 90, 0.5), pill(page)
    finally:
        again.stop()


def test_a_clean_start_and_a_tab_navigating_away_shuts_its_kernel_at_once_without_a_403(tabs: Tabs, server: Server):
    page = open_page(tabs, server)
    kernel = kernel_id(page)
    page.goto("about:blank")
    # At once, not when the culler finds it (120 s here): 20 s leaves room for a busy machine.
    assert wait_for(lambda: not server.kernel_exists(kernel), 20), "the kernel outlived its tab"
    # Tornado logs "403 POST /voila/api/shutdown/<id> ... '_xsrf' argument missing" without the fix.
    assert not re.search(r"\b403 POST|_xsrf", server.log()), server.log()
    # A clean start: no ping-timeout or deprecation warning in the log, no warning in the console.
    assert not re.search(r"websocket_ping_timeout|Deprecat", server.log()), server.log()
    warnings = [text for kind, text in page.console if kind in ("warning", "error")]  # type: ignore[attr-defined]
    assert warnings == []
