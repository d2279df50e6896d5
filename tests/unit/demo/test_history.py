"""``demo.history``: the month's plan and the wallet walk that makes the low-balance episode."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

from ccanalytics.demo.calls import draw_calls
from ccanalytics.demo.history import draw_backups, plan, walk_history
from ccanalytics.demo.profiles import APIS
from ccanalytics.units import DAY_MS, HOUR_MS

NOW = 1_795_608_000_000
START = NOW - 4 * DAY_MS
TZ = ZoneInfo("Europe/Berlin")


def test_the_wallet_walk_warns_pauses_refuses_and_is_topped_up_in_that_order() -> None:
    rng = random.Random(7)
    calls = draw_calls(rng, START, NOW, TZ, apis=APIS)
    history = walk_history(
        rng, calls, start_ms=START, end_ms=NOW, empty_at_ms=START + 2 * DAY_MS, threshold=1_000_000, gaps=[]
    )
    kinds = [kind for _, kind, _, _ in sorted(history.events)]
    assert kinds == ["low_balance", "pause", "deposit", "resume"]
    low, deposit = sorted(history.events)[0][0], sorted(history.events)[2][0]
    refused = [c for c in history.calls if c[1] == "buyer" and c[3] == 402]
    assert refused and all(low < c[0] < deposit for c in refused)
    paused = [c for c in history.calls if c[1] == "seller" and not c[5] and low < c[0] < deposit]
    assert paused == []  # serving stopped: only demo calls kept working
    assert [ts for ts, _, _ in history.snapshots] == list(range(START, NOW, HOUR_MS))


def test_the_plan_starts_syncs_and_bursts_inside_the_history() -> None:
    bursts, events, gaps, windows = plan(random.Random(8), START, NOW, 4, TZ)
    assert {"startup", "shutdown", "catalog_sync", "error"} <= {kind for _, kind, _, _ in events}
    assert bursts[0].api_id == "bb-graphql" and NOW - 40 * HOUR_MS <= bursts[0].start_ms < NOW
    assert all(a < b for a, b in gaps)
    assert set(windows) == {a.api_id for a in APIS if a.role == "seller"}


def test_backups_are_weekly_and_stop_at_the_age_asked() -> None:
    assert draw_backups(random.Random(9), NOW, None) == []
    rows = draw_backups(random.Random(9), NOW, 40.0)
    times = [ts for ts, _, _ in rows]
    assert len(rows) == 3 and times == sorted(times)
    assert abs(NOW - times[-1] - 40 * DAY_MS) <= 30 * 60_000
    assert all(file.endswith(".tar.gz") and size > 0 for _, file, size in rows)
