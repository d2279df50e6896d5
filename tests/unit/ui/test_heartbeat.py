"""One clock for the refresh loop and the heartbeat: beats are stamped by the clock the loop reads."""

from __future__ import annotations

import asyncio
import time

from ccanalytics.ui import Dashboard, Refresher
from tests.support import ui_snapshots as snaps


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def never_called() -> dict:
    return snaps.BUYER


def test_a_scripted_clock_stamps_the_beats_and_stops_the_loop_when_the_page_goes_quiet():
    async def main():
        clock = Clock(1_000.0)
        dashboard = Dashboard(snaps.BUYER)
        refresher = Refresher(
            dashboard, never_called, interval_s=0.02, heartbeat_timeout_s=30, first_beat_grace_s=60, clock=clock
        )
        refresher.start(refresh_now=False)
        dashboard.heartbeat.beat()
        assert dashboard.heartbeat.last_beat == 1_000.0
        clock.now = 1_029.9
        await asyncio.sleep(0.1)
        assert refresher.running  # 29.9 scripted seconds without a beat: not yet gone
        clock.now = 1_030.0
        await wait_until(lambda: not refresher.running)
        assert refresher.stop_reason == "page gone"

    asyncio.run(main())


def test_a_scripted_clock_stops_the_loop_when_no_page_ever_beats():
    async def main():
        clock = Clock(50.0)
        dashboard = Dashboard(snaps.BUYER)
        refresher = Refresher(dashboard, never_called, interval_s=0.02, first_beat_grace_s=60, clock=clock)
        refresher.start(refresh_now=False)
        await asyncio.sleep(0.1)
        assert refresher.running
        clock.now = 110.0
        await wait_until(lambda: not refresher.running)
        assert refresher.stop_reason == "no page"

    asyncio.run(main())


def test_without_a_clock_the_heartbeat_stamps_monotonic_seconds():
    dashboard = Dashboard(snaps.BUYER)
    Refresher(dashboard, never_called)
    before = time.monotonic()
    dashboard.heartbeat.beat()
    assert before <= dashboard.heartbeat.last_beat <= time.monotonic()
