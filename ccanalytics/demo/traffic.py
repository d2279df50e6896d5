"""The embedded demo's live traffic: the calls that "happened" since its previous call.

Same profiles and daily rhythm as the history (``write_demo``); paid calls are
settled against the latest balance snapshot.
"""

from __future__ import annotations

import math
import re
import sqlite3
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ccanalytics.demo.calls import INSERT_CALL, INSERT_EVENT, INSERT_SNAPSHOT, call_rows, draw_calls
from ccanalytics.demo.history import NODE_ERRORS
from ccanalytics.demo.profiles import APIS, USDC, gas_wei, usdc_message
from ccanalytics.errors import CCError
from ccanalytics.settings import parse_settings
from ccanalytics.units import HOUR_MS

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

__all__ = ["TOP_UP_MICRO", "append_traffic"]

TOP_UP_MICRO = 20 * USDC  # what the embedded demo's operator deposits when the balance runs low


def append_traffic(
    path: str | Path,
    *,
    now_ms: int,
    since_ms: int,
    rng: random.Random,
    scale: float = 1.0,
    on_paid_calls: Callable[[int, int], object] | None = None,
    on_deposit: Callable[[int], object] | None = None,
) -> int:
    """Add the calls (and now and then an event) that happened in ``(since_ms, now_ms]``.

    The calls follow the demo's profiles and daily rhythm (``scale`` multiplies
    the rate).  Paid buyer calls are settled against the latest balance
    snapshot, and a new snapshot records the result; when the balance falls
    below twice the low-USDC threshold the operator deposits 20 USDC (a
    ``deposit`` event).  Everything is written in one short transaction that
    waits up to 5 s for other writers and never blocks readers (WAL).

    Parameters
    ----------
    path
        An existing store (normally one written by ``write_demo``).
    now_ms, since_ms
        The interval to fill; calls get ``since_ms < ts_ms <= now_ms``.
    rng
        The random source; keep one instance for the life of the demo (a new
        ``Random`` with the same seed would draw the same request ids again).
    scale
        Multiplies the call rate of the demo's rhythm.
    on_paid_calls
        Called after the commit with ``(count, total_price_micro)`` of the
        buyer calls this node paid for, when there were any: the demo chain
        moves that much USDC out of the wallet.
    on_deposit
        Called after the commit with the amount deposited, when there was a
        deposit: the demo chain moves that much USDC into the wallet.

    Returns
    -------
    int
        The number of calls added.
    """
    if now_ms <= since_ms:
        return 0
    if not Path(path).is_file():  # sqlite3 would create an empty file
        raise CCError(f"{path}: no such store")
    con = sqlite3.connect(path, timeout=5.0, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")  # take the write lock first: a deferred upgrade can fail busy
        settings, _ = parse_settings(dict(con.execute("SELECT key, value FROM settings").fetchall()))
        active = {r[0] for r in con.execute("SELECT api_id FROM apis WHERE active = 1")}
        apis = [a for a in APIS if a.role == "buyer" or a.api_id in active]
        calls = draw_calls(rng, since_ms + 1, now_ms + 1, ZoneInfo(settings.timezone), apis=apis, scale=scale)

        latest = con.execute(
            "SELECT ts_ms, usdc_micro, eth_wei FROM balance_snapshots ORDER BY ts_ms DESC LIMIT 1"
        ).fetchone()
        last_ts, usdc, eth = (latest[0], latest[1], int(latest[2])) if latest else (None, TOP_UP_MICRO, 5 * 10**15)
        top_up_below = 2 * settings.low_usdc_threshold_micro
        paid_count = paid_micro = deposited = 0
        events: list[tuple[int, str, str, str]] = []
        for call in calls:
            price = call[8]
            if call[1] != "buyer" or not price:
                continue
            if usdc < price:
                call[3], call[4], call[8] = 402, round(rng.lognormvariate(math.log(25.0), 0.4), 1), 0
                continue
            usdc -= price
            eth = max(0, eth - gas_wei(rng))
            paid_count, paid_micro = paid_count + 1, paid_micro + price
            if usdc < top_up_below:
                usdc += TOP_UP_MICRO
                deposited += TOP_UP_MICRO
                events.append((call[0], "deposit", "info", f"Deposit received: {usdc_message(TOP_UP_MICRO)}"))
        # Now and then an event, at the rate the history has them (Poisson: P = 1 - e^(-dt/mean gap)).
        dt = now_ms - since_ms
        if rng.random() < -math.expm1(-dt / (6 * HOUR_MS)):
            last = con.execute(
                "SELECT message FROM events WHERE type = 'catalog_sync' ORDER BY id DESC LIMIT 1"
            ).fetchone()
            found = re.search(r"(\d+) APIs", last[0]) if last else None
            new = rng.choice((0, 0, 0, 1))
            catalog = (int(found.group(1)) if found else 200) + new
            text = f"Catalog synced: {catalog} APIs" + (f", {new} new" if new else "")
            events.append((since_ms + 1 + rng.randrange(dt), "catalog_sync", "info", text))
        if rng.random() < -math.expm1(-dt / (36 * HOUR_MS)):
            events.append((since_ms + 1 + rng.randrange(dt), "error", "error", rng.choice(NODE_ERRORS)))

        con.executemany(INSERT_CALL, call_rows(rng, calls, rename_ms=None))
        con.executemany(INSERT_EVENT, sorted(events, key=itemgetter(0)))
        # A snapshot whenever the balance moved, and at least hourly.
        if paid_count or deposited or last_ts is None or now_ms - last_ts >= HOUR_MS:
            con.execute(INSERT_SNAPSHOT, (now_ms, usdc, str(eth)))
        con.execute("COMMIT")
    except BaseException as exc:
        if con.in_transaction:
            con.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise CCError(f"{path}: cannot add demo traffic ({exc})") from None
        raise
    finally:
        con.close()
    if paid_count and on_paid_calls is not None:
        on_paid_calls(paid_count, paid_micro)
    if deposited and on_deposit is not None:
        on_deposit(deposited)
    return len(calls)
