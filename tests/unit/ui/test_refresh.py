"""The refresh loop: it refreshes, survives failures, stays silent, and stops when the page is gone."""

from __future__ import annotations

import asyncio
import copy
import threading
import time

import pytest

from ccanalytics.errors import StoreError
from ccanalytics.model import READING_NOTE
from ccanalytics.ui import Dashboard, Refresher, live_dashboard, refresh, refresh_interval
from tests.support import ui_snapshots as snaps

TINY = 0.02  # seconds between refreshes in these tests


class Source:
    """A get_snapshot that counts its calls, records their threads, and fails on chosen calls."""

    def __init__(self, fail_on: set[int] = frozenset(), block: threading.Event | None = None) -> None:
        self.calls = 0
        self.threads: set[int] = set()
        self.fail_on = fail_on
        self.block = block

    def __call__(self) -> dict:
        self.calls += 1
        self.threads.add(threading.get_ident())
        if self.block is not None:
            self.block.wait(5)
        if self.calls in self.fail_on:
            raise OSError(f"store unreadable (call {self.calls}) at /secret/path")
        snapshot = copy.deepcopy(snaps.BUYER)
        snapshot["uptime_s"] = self.calls * 60
        return snapshot


def pill(dashboard: Dashboard) -> str:
    return dashboard.freshness.value


async def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def beat(dashboard: Dashboard) -> None:
    """What the page's JavaScript sends every few seconds."""
    dashboard.heartbeat._handle_custom_msg({"type": "beat"}, [])


async def keep_beating(dashboard: Dashboard, period: float = 0.01) -> None:
    while True:
        await beat(dashboard)
        await asyncio.sleep(period)


def run(coroutine) -> None:
    asyncio.run(coroutine)


# -- refreshing --------------------------------------------------------------------------------------------


def test_the_loop_refreshes_repeatedly_in_a_worker_thread_and_updates_the_page():
    async def main():
        dashboard, source = Dashboard(snaps.BUYER), Source()
        refresher = Refresher(dashboard, source, interval_s=TINY, first_beat_grace_s=10)
        refresher.start()
        await wait_until(lambda: refresher.refreshes >= 5)
        assert refresher.running
        assert "cc-pill-ok" in pill(dashboard) and "Updated" in pill(dashboard)
        refresher.stop()
        await asyncio.sleep(0.1)  # a refresh in flight still lands
        assert threading.get_ident() not in source.threads  # the polars work never blocks the kernel's loop
        assert f"Up {source.calls}m" in dashboard.uptime.value  # the latest snapshot is on the page

    run(main())


def test_refresh_now_refreshes_at_once_between_slow_ticks():
    async def main():
        dashboard, source = Dashboard(snaps.BUYER), Source()
        refresher = Refresher(dashboard, source, interval_s=60, first_beat_grace_s=10)
        refresher.start(refresh_now=False)
        await asyncio.sleep(0.1)
        assert source.calls == 0
        dashboard.refresh_button.click()
        await wait_until(lambda: refresher.refreshes == 1, timeout=2)
        assert "Up 1m" in dashboard.uptime.value
        refresher.stop()

    run(main())


def test_a_failed_refresh_shows_an_error_and_the_next_tick_tries_again():
    async def main():
        dashboard, source = Dashboard(snaps.BUYER), Source(fail_on={2, 3})
        refresher = Refresher(dashboard, source, interval_s=0.05, first_beat_grace_s=10)
        refresher.start()
        await wait_until(lambda: "cc-pill-error" in pill(dashboard))
        assert "Refresh failed" in pill(dashboard) and "OSError" in pill(dashboard)
        assert "/secret/path" not in pill(dashboard)  # an error message may hold paths or keys: only its type
        await wait_until(lambda: source.calls >= 5 and "cc-pill-ok" in pill(dashboard))
        assert refresher.running and refresher.failures == 2 and refresher.refreshes >= 3
        refresher.stop()

    run(main())


def test_a_failed_refresh_shows_its_one_line_reason_on_the_page_until_a_refresh_succeeds():
    calls = []

    def source() -> dict:
        calls.append(1)
        if len(calls) in (2, 3):
            raise StoreError("/data/cc.db is not a SQLite database")
        return copy.deepcopy(snaps.BUYER)

    async def main():
        dashboard = Dashboard(snaps.BUYER)
        refresher = Refresher(dashboard, source, interval_s=0.05, first_beat_grace_s=10)
        assert dashboard.refresh_error.value == ""
        refresher.start()
        await wait_until(lambda: "cc-pill-error" in pill(dashboard))
        line = dashboard.refresh_error.value
        assert 'role="alert"' in line and "/data/cc.db is not a SQLite database" in line
        await wait_until(lambda: "cc-pill-ok" in pill(dashboard))
        assert dashboard.refresh_error.value == ""
        refresher.stop()

    run(main())
    # Any other exception shows its type only: its message may hold paths or keys.
    dashboard = Dashboard(snaps.BUYER)
    refresher = Refresher(dashboard, Source(), interval_s=1)
    refresher._error, refresher._reason = "OSError", refresh.failure_reason(OSError("/secret/path"))
    refresher._render_freshness()
    assert "unexpected OSError" in dashboard.refresh_error.value and "/secret" not in dashboard.refresh_error.value


def test_the_heartbeat_answers_every_beat_and_tells_the_page_its_watchdog_timings():
    dashboard = Dashboard(snaps.BUYER)
    sent = []
    dashboard.heartbeat.send = sent.append  # type: ignore[method-assign]
    Refresher(dashboard, Source(), interval_s=2)
    assert (dashboard.heartbeat.silence_ms, dashboard.heartbeat.reload_after_ms) == (5000, 20000)
    dashboard.heartbeat._handle_custom_msg({"type": "beat"}, [])
    dashboard.heartbeat._handle_custom_msg({"type": "other"}, [])
    assert sent == [{"type": "ack"}]


def test_a_broken_snapshot_counts_as_a_failed_refresh_not_a_dead_loop():
    async def main():
        dashboard = Dashboard(snaps.BUYER)
        calls = []

        def broken():
            calls.append(1)
            return {"buyer": {"call_rate": [{"hour": 1, "success": "x"}]}, "events": "nope", "banners": 3}

        refresher = Refresher(dashboard, broken, interval_s=TINY, first_beat_grace_s=10)
        refresher.start()
        await wait_until(lambda: len(calls) >= 3)
        assert refresher.running
        refresher.stop()

    run(main())


def test_a_refresh_slower_than_two_intervals_turns_the_pill_to_a_warning():
    async def main():
        release = threading.Event()
        dashboard, source = Dashboard(snaps.BUYER), Source(block=release)
        refresher = Refresher(dashboard, source, interval_s=0.05, first_beat_grace_s=10)
        refresher.start(refresh_now=False)
        await wait_until(lambda: source.calls == 1)  # the second refresh hangs in its thread
        await wait_until(lambda: "cc-pill-warn" in pill(dashboard))
        assert "Updated" in pill(dashboard)
        release.set()
        await wait_until(lambda: "cc-pill-ok" in pill(dashboard))
        refresher.stop()

    run(main())


def test_the_loop_never_prints(capfd):
    async def main():
        dashboard, source = Dashboard(snaps.BUYER), Source(fail_on={1, 2, 3})
        refresher = Refresher(dashboard, source, interval_s=TINY, first_beat_grace_s=10)
        refresher.start()
        await wait_until(lambda: source.calls >= 4)  # three failures, then a success
        refresher.stop()

    run(main())
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# -- stopping ----------------------------------------------------------------------------------------------


class ManualClock:
    """A monotonic clock the test moves: a late-scheduled task cannot make time pass between beats."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_loop_stops_when_the_page_stops_beating_and_resumes_when_it_beats_again():
    async def main():
        dashboard, source, clock = Dashboard(snaps.BUYER), Source(), ManualClock()
        refresher = Refresher(dashboard, source, interval_s=TINY, heartbeat_timeout_s=0.15, clock=clock)
        refresher.start()
        for _ in range(40):  # 0.4 s of the page's clock, a beat every 0.01 s
            clock.now += 0.01
            await beat(dashboard)
            await asyncio.sleep(0.002)  # the loop looks between beats
            assert refresher.running  # beats keep it alive well past the heartbeat timeout
        assert source.calls > 1  # and it kept refreshing meanwhile
        clock.now += 0.2  # the page goes quiet for longer than the heartbeat timeout
        stopped_at = time.monotonic()
        await wait_until(lambda: not refresher.running, timeout=2)
        assert time.monotonic() - stopped_at < 1.0
        assert refresher.stop_reason == "page gone"
        assert "Auto-refresh stopped" in pill(dashboard)
        calls = source.calls
        clock.now += 1.0
        await asyncio.sleep(0.2)
        assert source.calls == calls  # nothing more: the kernel falls idle and can be culled

        await beat(dashboard)  # a throttled background tab comes back
        await wait_until(lambda: refresher.running and source.calls > calls, timeout=2)
        refresher.stop()

    run(main())


def test_the_loop_stops_when_no_page_ever_beats():
    async def main():
        dashboard, source = Dashboard(snaps.BUYER), Source()
        refresher = Refresher(dashboard, source, interval_s=TINY, first_beat_grace_s=0.2)
        refresher.start()
        await wait_until(lambda: not refresher.running, timeout=2)
        assert refresher.stop_reason == "no page"

    run(main())


def test_the_maximum_lifetime_stops_the_loop_even_while_the_page_beats():
    async def main():
        dashboard, source = Dashboard(snaps.BUYER), Source()
        refresher = Refresher(dashboard, source, interval_s=TINY, max_lifetime_s=0.3)
        beating = asyncio.create_task(keep_beating(dashboard))
        refresher.start()
        await wait_until(lambda: not refresher.running, timeout=2)
        assert refresher.stop_reason == "max lifetime"
        calls = source.calls
        await asyncio.sleep(0.15)
        assert not refresher.running and source.calls == calls  # beats alone do not restart it

        dashboard.refresh_button.click()  # a person does
        await wait_until(lambda: refresher.running and source.calls > calls, timeout=2)
        beating.cancel()
        refresher.stop()

    run(main())


def test_stop_ends_the_loop_for_good():
    async def main():
        dashboard, source = Dashboard(snaps.BUYER), Source()
        refresher = Refresher(dashboard, source, interval_s=TINY, first_beat_grace_s=10)
        refresher.start()
        await wait_until(lambda: source.calls >= 1)
        refresher.stop()
        await beat(dashboard)
        await asyncio.sleep(0.1)
        assert not refresher.running and refresher.stop_reason == "stopped"

    run(main())


# -- wiring ------------------------------------------------------------------------------------------------


def test_live_dashboard_shows_the_first_snapshot_at_once_and_keeps_refreshing():
    async def main():
        source = Source()
        dashboard = live_dashboard(source, interval_s=TINY)
        assert source.calls == 1 and "Up 1m" in dashboard.uptime.value
        assert "Updated" in pill(dashboard)
        await wait_until(lambda: source.calls >= 3)
        dashboard.refresher.stop()

    run(main())


def test_live_dashboard_comes_up_even_when_the_first_snapshot_fails():
    async def main():
        source = Source(fail_on={1, 2})
        dashboard = live_dashboard(source, interval_s=TINY)
        assert "Uptime —" in dashboard.uptime.value
        await wait_until(lambda: "cc-pill-error" in pill(dashboard))
        await wait_until(lambda: "Up 3m" in dashboard.uptime.value and "cc-pill-ok" in pill(dashboard))
        dashboard.refresher.stop()

    run(main())


def shown_cards(dashboard: Dashboard) -> str:
    return "".join(card.value for card in dashboard.kpis.cards)


class ChainSource(Source):
    """A node whose first chain reads have not answered yet: live balances from call ``live_from`` on."""

    def __init__(self, live_from: int) -> None:
        super().__init__()
        self.live_from = live_from

    def __call__(self) -> dict:
        snapshot = super().__call__()
        if self.calls < self.live_from:
            snapshot["balances"] = {**snapshot["balances"], "source": "snapshot", "note": READING_NOTE}
        else:
            snapshot["balances"] = {**snapshot["balances"], "source": "chain", "note": None}
        return snapshot


def test_a_page_waiting_for_its_first_chain_read_refreshes_again_soon_not_an_interval_later(monkeypatch):
    monkeypatch.setattr(refresh, "FOLLOW_UP_S", 0.05)

    async def main():
        source = ChainSource(live_from=3)
        dashboard = live_dashboard(source, interval_s=60)
        assert "reading balances" in shown_cards(dashboard)
        await wait_until(lambda: source.calls == 3, timeout=2)  # two follow-ups, not 60 s
        assert "reading balances" not in shown_cards(dashboard)
        await asyncio.sleep(0.3)
        assert source.calls == 3  # live now: back to the interval
        dashboard.refresher.stop()

    run(main())


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (None, 30.0),
        ("", 30.0),
        ("30", 30.0),
        ("1", 1.0),
        ("0.5", 0.5),
        (" 2.5 ", 2.5),
        ("0.01", 0.1),
        ("0", 30.0),
        ("-5", 30.0),
        ("nan", 30.0),
        ("inf", 30.0),
        ("thirty", 30.0),
    ],
)
def test_the_interval_comes_from_ccanalytics_refresh_s(value, seconds):
    environ = {} if value is None else {"CCANALYTICS_REFRESH_S": value}
    assert refresh_interval(environ) == seconds


def test_a_warm_kernels_page_refreshes_as_soon_as_someone_opens_it():
    """Voila renders a preheated kernel's page before a visitor comes: the first beat brings fresh figures."""

    async def main():
        source = Source()
        dashboard = Dashboard(source())
        refresher = Refresher(dashboard, source, interval_s=3600, first_beat_grace_s=10)
        refresher.start(refresh_now=False)  # as live_dashboard does: the page was built from a snapshot
        await asyncio.sleep(2.2)  # the kernel waits in the pool; its figures age
        assert source.calls == 1
        await beat(dashboard)  # a visitor's page connects
        await wait_until(lambda: source.calls == 2 and refresher.refreshes == 1)
        await beat(dashboard)
        await asyncio.sleep(0.2)
        assert source.calls == 2  # later beats do not refresh
        refresher.stop()

    run(main())


def test_a_fresh_page_is_not_refreshed_again_on_its_first_beat():
    async def main():
        source = Source()
        dashboard = Dashboard(source())
        refresher = Refresher(dashboard, source, interval_s=3600, first_beat_grace_s=10)
        refresher.start(refresh_now=False)
        await beat(dashboard)
        await asyncio.sleep(0.2)
        assert source.calls == 1
        refresher.stop()

    run(main())
