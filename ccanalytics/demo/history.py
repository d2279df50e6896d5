"""The demo's month: its plan (restarts, syncs, error bursts, API windows), the wallet walk, the backups.

``walk_history`` settles the buyer's calls against the wallet in time order,
which makes the low-balance episode: warning, auto-pause, 402s, deposit, resume.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ccanalytics.demo.profiles import APIS, BY_ID, MINUTE_MS, USDC, Burst, gas_wei, usdc_message
from ccanalytics.units import DAY_MS, HOUR_MS

if TYPE_CHECKING:
    import random
    from collections.abc import Sequence
    from zoneinfo import ZoneInfo

__all__ = ["NODE_ERRORS", "History", "draw_backups", "plan", "walk_history"]


@dataclass
class History:
    """What the wallet walk produces: the calls kept, the events, the balance snapshots."""

    calls: list[list]
    events: list[tuple[int, str, str, str]]
    snapshots: list[tuple[int, int, str]]


def walk_history(
    rng: random.Random,
    calls: list[list],
    *,
    start_ms: int,
    end_ms: int,
    empty_at_ms: int,
    threshold: int,
    gaps: Sequence[tuple[int, int]],
) -> History:
    """Settle the buyer's calls against the wallet, in time order.

    The opening balance is chosen so that the wallet cannot pay from
    ``empty_at_ms`` on.  On the way down it falls below ``threshold``: a
    low-balance warning and auto-pause follow (paid seller calls stop); once
    empty, buyer calls get 402, and a few hours after the first 402 the
    operator deposits enough for the rest of the history plus a margin, which
    resumes serving.
    """
    paid = [(c[0], c[8]) for c in calls if c[1] == "buyer" and c[8]]
    paid_ts = [ts for ts, _ in paid]
    spent_before = list(itertools.accumulate((price for _, price in paid), initial=0))
    usdc = spent_before[bisect_left(paid_ts, empty_at_ms)]
    eth = 5_000_000_000_000_000 + rng.randrange(2_000_000_000_000_000)
    events: list[tuple[int, str, str, str]] = []
    snapshots: list[tuple[int, int, str]] = []
    kept: list[list] = []
    next_snapshot = -(-start_ms // HOUR_MS) * HOUR_MS
    deposit_at: int | None = None
    low = paused = False

    def until(ts: int) -> None:
        """Take the hourly snapshots and the deposit that come before ``ts``."""
        nonlocal next_snapshot, deposit_at, usdc, low, paused
        while next_snapshot <= ts or (deposit_at is not None and deposit_at <= ts):
            if deposit_at is not None and deposit_at <= next_snapshot:
                rest = spent_before[-1] - spent_before[bisect_left(paid_ts, deposit_at)]
                margin = 6 * USDC + rng.randrange(8 * USDC)
                amount = -(-(rest + margin) // (5 * USDC)) * 5 * USDC  # people deposit round sums
                usdc += amount
                events.append((deposit_at, "deposit", "info", f"Deposit received: {usdc_message(amount)}"))
                if paused:
                    events.append(
                        (deposit_at + 2_000, "resume", "info", f"API serving resumed, balance {usdc_message(usdc)}")
                    )
                low = paused = False
                deposit_at = None
            else:
                if not any(a <= next_snapshot < b for a, b in gaps):
                    snapshots.append((next_snapshot, usdc, str(eth)))
                next_snapshot += HOUR_MS

    for call in calls:
        ts, role, price = call[0], call[1], call[8]
        until(ts)
        if role == "seller":
            if paused and not call[5]:
                continue  # serving is paused; demo calls keep working
        elif price:
            if usdc < price:
                call[3], call[4], call[8] = 402, round(rng.lognormvariate(math.log(25.0), 0.4), 1), 0
                if deposit_at is None:
                    deposit_at = ts + HOUR_MS + rng.randrange(3 * HOUR_MS)
            else:
                usdc -= price
                eth -= gas_wei(rng)
                if usdc < threshold and not low:
                    low = paused = True
                    text = f"USDC balance {usdc_message(usdc)} is below {usdc_message(threshold)}"
                    events.append((ts, "low_balance", "warning", text))
                    events.append((ts + 1_000, "pause", "warning", "API serving paused: low balance (auto-pause)"))
        kept.append(call)
    until(end_ms - 1)
    return History(kept, events, snapshots)


NODE_ERRORS = (
    "RPC request to Base failed: timeout after 5 s (retried)",
    "Cloud relay connection lost; reconnected after 12 s",
    "Settlement transaction replaced (nonce too low); resubmitted",
)


def _floor_hour(ms: int) -> int:
    return ms - ms % HOUR_MS


def plan(
    rng: random.Random, start_ms: int, now_ms: int, days: int, tz: ZoneInfo
) -> tuple[list[Burst], list[tuple[int, str, str, str]], list[tuple[int, int]], dict[str, tuple[int, int]]]:
    """Bursts, node events (restarts, syncs, errors), downtime gaps and API windows of the history."""
    span = now_ms - start_ms
    events: list[tuple[int, str, str, str]] = []
    # Restarts: the first start just before the history, an update halfway, the latest a few hours ago.
    first = start_ms - MINUTE_MS * (5 + rng.randrange(55))
    starts = [(first, "v1.8.4")]
    gaps: list[tuple[int, int]] = []
    restarts = [(now_ms - HOUR_MS * 2 - rng.randrange(6 * HOUR_MS), "v1.9.1")]
    if days >= 4:
        restarts.insert(0, (start_ms + span // 2 + rng.randrange(span // 10), "v1.9.0"))
    for at, version in restarts:
        down = at - MINUTE_MS * (2 + rng.randrange(5)) - rng.randrange(MINUTE_MS)
        events.append((down, "shutdown", "info", f"Control center stopping (update to {version})"))
        gaps.append((down, at))
        starts.append((at, version))
    catalog = 180 + rng.randrange(40)
    for at, version in starts:
        events.append((at, "startup", "info", f"Control center started ({version})"))
        sync, stop = at + 1_500 + rng.randrange(2_000), next((s for s, _ in starts if s > at), now_ms)
        while sync < stop:
            new = rng.choice((0, 0, 0, 0, 1, 1, 2))
            catalog += new - rng.choice((0, 0, 0, 1))
            text = f"Catalog synced: {catalog} APIs" + (f", {new} new" if new else "")
            events.append((sync, "catalog_sync", "info", text))
            sync += 6 * HOUR_MS + rng.randrange(-5 * MINUTE_MS, 5 * MINUTE_MS)
    for _ in range(max(1, days // 4)):
        events.append((start_ms + rng.randrange(span), "error", "error", rng.choice(NODE_ERRORS)))
    # Error bursts: the node's own GraphQL backend fails in the daytime of the last two days
    # (the chart shows red), a marketplace API times out earlier, more bursts on longer histories.
    bursts: list[Burst] = []
    hours = range(_floor_hour(max(start_ms, now_ms - 40 * HOUR_MS)), now_ms - 4 * HOUR_MS, HOUR_MS)
    daytime = [h for h in hours if 9 <= datetime.fromtimestamp(h / 1000, tz).hour <= 16]
    recent = rng.choice(daytime or hours) + rng.randrange(40 * MINUTE_MS)
    bursts.append(Burst("bb-graphql", recent, recent + 2 * HOUR_MS + rng.randrange(2 * HOUR_MS), 502))
    buyer_ids = [a.api_id for a in APIS if a.role == "buyer"]
    for i in range(max(1, days // 6)):
        api_id = "llm-summarize" if i == 0 else rng.choice(buyer_ids)
        room = span - 2 * DAY_MS if span > 3 * DAY_MS else span  # the recent two days belong to bb-graphql
        at = start_ms + rng.randrange(room)
        bursts.append(Burst(api_id, at, at + HOUR_MS + rng.randrange(3 * HOUR_MS), 504))
    for burst in bursts:
        api = BY_ID[burst.api_id]
        if api.role == "seller":
            text = f"{api.name}: backend failing, calls answered with HTTP {burst.status}"
            events.append((burst.start_ms + 4 * MINUTE_MS, "error", "error", text))
        else:
            text = f"Error spike: {api.name} timing out (HTTP {burst.status})"
            events.append((burst.start_ms + 6 * MINUTE_MS, "error_spike", "warning", text))
    windows = {
        a.api_id: (
            start_ms + int(span * a.from_frac),
            start_ms + int(span * a.until_frac) if a.until_frac is not None else now_ms + DAY_MS,
        )
        for a in APIS
        if a.role == "seller"
    }
    return bursts, events, gaps, windows


def draw_backups(rng: random.Random, now_ms: int, age_days: float | None) -> list[tuple[int, str, int]]:
    """Weekly backups that stopped ``age_days`` ago (none when ``None``)."""
    if age_days is None:
        return []
    last = now_ms - int(age_days * DAY_MS)
    rows = []
    for weeks in (2, 1, 0):
        at = last - weeks * 7 * DAY_MS + rng.randrange(-30 * MINUTE_MS, 30 * MINUTE_MS)
        at = min(at, now_ms - 1)
        stamp = datetime.fromtimestamp(at / 1000, UTC).strftime("%Y%m%d-%H%M")
        rows.append((at, f"~/.ccontrol/backups/cc-backup-{stamp}.tar.gz", 2_500_000 + rng.randrange(2_500_000)))
    return rows
