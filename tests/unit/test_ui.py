"""``ccanalytics.ui``: the page's public names, and ``live_dashboard`` as the package docstring shows it."""

from __future__ import annotations

import asyncio

import ccanalytics.ui as ui
from ccanalytics.ui.page import Dashboard
from ccanalytics.ui.refresh import Refresher, live_dashboard, refresh_interval
from tests.support import ui_snapshots as snaps


def test_the_public_names_are_the_modules_ones() -> None:
    assert ui.__all__ == ["Dashboard", "Refresher", "live_dashboard", "refresh_interval"]
    assert (ui.Dashboard, ui.Refresher, ui.live_dashboard, ui.refresh_interval) == (
        Dashboard,
        Refresher,
        live_dashboard,
        refresh_interval,
    )


def test_live_dashboard_shows_the_snapshot_and_wires_a_refresher() -> None:
    async def main() -> None:
        dashboard = ui.live_dashboard(lambda: snaps.BUYER, interval_s=60)
        try:
            assert isinstance(dashboard, ui.Dashboard)
            assert isinstance(dashboard.refresher, ui.Refresher)
            assert dashboard.refresher.interval_s == 60
            assert dashboard.refresher.running
        finally:
            dashboard.refresher.stop()

    asyncio.run(main())


def test_a_snapshot_that_fails_still_gives_a_page() -> None:
    def broken() -> dict:
        raise OSError("store unreadable")

    async def main() -> None:
        dashboard = ui.live_dashboard(broken, interval_s=60)
        try:
            assert isinstance(dashboard, ui.Dashboard)
        finally:
            dashboard.refresher.stop()

    asyncio.run(main())


def test_refresh_interval_reads_the_environment_s_setting() -> None:
    assert ui.refresh_interval({}) == 30.0
    assert ui.refresh_interval({"CCANALYTICS_REFRESH_S": "5"}) == 5.0
