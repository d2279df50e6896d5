"""The demo store: a month in the life of a control center, and the live traffic of the embedded demo.

``write_demo`` writes a new store for a node that both buys (calls other
people's APIs on the marketplace) and sells (serves its own ``bb-…`` APIs):
a daily rhythm in the store's timezone, per-API prices and latency profiles,
error bursts, a low-balance episode (low-balance warning, auto-pause, 402s,
deposit, resume), restarts, catalog syncs, hourly balance snapshots and an
overdue backup.  ``append_traffic`` adds the calls that "happened" since the
previous call of the embedded demo, with the same profiles.

Everything is drawn from ``random.Random`` instances seeded from ``seed``: the
same seed and the same ``now_ms`` give identical tables.

Modules: ``profiles`` (the APIs and the rhythm), ``calls`` (drawing calls),
``history`` (the month's plan and the wallet walk), ``traffic`` (live
traffic), ``embedded`` (``serve``'s demo: store, chain and traffic thread);
this one writes the store.
"""

from __future__ import annotations

import random
import sqlite3
from operator import itemgetter
from pathlib import Path
from zoneinfo import ZoneInfo

from ccanalytics.contract import create_store
from ccanalytics.demo.calls import INSERT_CALL, INSERT_EVENT, INSERT_SNAPSHOT, call_rows, draw_calls
from ccanalytics.demo.history import draw_backups, plan, walk_history
from ccanalytics.demo.profiles import APIS, DEMO_WALLET, MINUTE_MS, TIMEOUT_MS
from ccanalytics.demo.traffic import append_traffic
from ccanalytics.errors import CCError
from ccanalytics.units import DAY_MS
from ccanalytics.units import now_ms as current_ms

__all__ = ["DEMO_WALLET", "TIMEOUT_MS", "append_traffic", "write_demo"]


def write_demo(
    path: str | Path,
    *,
    seed: int = 0,
    days: int = 30,
    now_ms: int | None = None,
    timezone: str = "Europe/Berlin",
    backup_age_days: float | None = 40.0,
    wallet_address: str = DEMO_WALLET,
    chain_id: int = 84532,
    rpc_url: str | None = None,
    usdc_address: str | None = None,
) -> None:
    """Write a new demo store holding ``days`` of a control center's activity up to ``now_ms``.

    Parameters
    ----------
    path
        The store to create; it must not exist yet.
    seed
        Seed of every random draw: the same seed and ``now_ms`` give identical tables.
    days
        Length of the call history, in days (at least 1).
    now_ms
        The end of the history (epoch ms; every row is older); default: the
        current time floored to the minute.
    timezone
        The store's ``timezone`` setting, which also shapes the daily rhythm.
    backup_age_days
        Age of the latest backup (the default 40 shows the backup-overdue
        banner); ``None`` writes no backups at all.
    wallet_address, chain_id, rpc_url, usdc_address
        Settings of the node's wallet and chain; ``rpc_url`` and
        ``usdc_address`` are written only when given (without ``rpc_url`` the
        dashboard shows the balance snapshots).

    Raises
    ------
    CCError
        When ``path`` already exists or cannot be created, or ``days`` is below 1.

    Examples
    --------
    >>> import os, sqlite3, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.db")
    >>> write_demo(path, seed=1, days=2, now_ms=1_795_608_000_000)
    >>> con = sqlite3.connect(path)
    >>> sorted(r[0] for r in con.execute("SELECT DISTINCT role FROM calls"))
    ['buyer', 'seller']
    >>> con.execute("SELECT value FROM settings WHERE key = 'timezone'").fetchone()
    ('Europe/Berlin',)
    >>> con.close()
    """
    path = Path(path)
    if path.exists():
        raise CCError(f"{path}: already exists")
    if days < 1:
        raise CCError(f"{path}: days must be at least 1, not {days}")
    now_ms = current_ms() // MINUTE_MS * MINUTE_MS if now_ms is None else now_ms
    tz = ZoneInfo(timezone)
    master = random.Random(seed)
    # One stream per part, so that changing how events are drawn leaves the calls alone.
    plan_rng, call_rng, wallet_rng, row_rng = (random.Random(master.getrandbits(64)) for _ in range(4))

    start_ms = now_ms - days * DAY_MS
    span = now_ms - start_ms
    bursts, events, gaps, windows = plan(plan_rng, start_ms, now_ms, days, tz)
    calls = draw_calls(call_rng, start_ms, now_ms, tz, apis=APIS, bursts=bursts, gaps=gaps, windows=windows)
    threshold = 1_000_000
    # Late enough that the wallet first holds more than the threshold, early enough for the deposit.
    empty_at = start_ms + int(span * ((0.4 if days >= 3 else 0.55) + 0.15 * plan_rng.random()))
    history = walk_history(
        wallet_rng, calls, start_ms=start_ms, end_ms=now_ms, empty_at_ms=empty_at, threshold=threshold, gaps=gaps
    )
    rows = call_rows(row_rng, history.calls, rename_ms=start_ms + span // 2)
    backups = draw_backups(plan_rng, now_ms, backup_age_days)
    events += history.events
    events += [
        (at, "backup", "info", f"Backup written: {file.rsplit('/', 1)[-1]} ({size / 1e6:.1f} MB)")
        for at, file, size in backups
    ]
    events = sorted((e for e in events if e[0] < now_ms), key=itemgetter(0))
    apis = [
        (
            a.api_id,
            a.name,
            a.price_micro,
            start_ms - (20 + 9 * i) * DAY_MS if not a.from_frac else windows[a.api_id][0],
            0 if a.until_frac is not None else 1,
        )
        for i, a in enumerate(APIS)
        if a.role == "seller"
    ]
    settings = {
        "wallet_address": wallet_address,
        "chain_id": str(chain_id),
        "timezone": timezone,
        "panel_url": "https://localhost:3002/panel",
        "low_usdc_threshold_micro": str(threshold),
        "low_gas_threshold_wei": "500000000000000",
        "auto_pause_enabled": "1",
        "rpc_url": rpc_url,
        "usdc_address": usdc_address,
    }

    try:
        create_store(path)
        con = sqlite3.connect(path)
    except sqlite3.Error as exc:
        raise CCError(f"{path}: cannot create the store ({exc})") from None
    try:
        # A new file nobody reads yet: a crash leaves a half-written demo either way.
        con.execute("PRAGMA synchronous = OFF")
        with con:
            con.executemany(INSERT_CALL, rows)
            con.executemany(INSERT_EVENT, events)
            con.executemany(INSERT_SNAPSHOT, history.snapshots)
            con.executemany("INSERT INTO apis VALUES (?, ?, ?, ?, ?)", apis)
            con.executemany("INSERT INTO backups (ts_ms, file, size_bytes) VALUES (?, ?, ?)", backups)
            con.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)",
                [(k, v) for k, v in settings.items() if v is not None],
            )
    finally:
        con.close()
