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
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import random
import re
import sqlite3
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ccanalytics.contract import create_store
from ccanalytics.errors import CCError
from ccanalytics.settings import parse_settings
from ccanalytics.units import DAY_MS, HOUR_MS
from ccanalytics.units import now_ms as current_ms

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["DEMO_WALLET", "append_traffic", "write_demo"]

DEMO_WALLET = "0xcC30a401DCAB96c0877FB64c27966C137B9367D0"
"""The demo node's wallet (a valid EIP-55 checksum, so web3 accepts it)."""

MINUTE_MS = 60_000
TIMEOUT_MS = 15_000  # the proxy gives up after this long and answers 504
USDC = 1_000_000  # micro-USDC per USDC
COMMISSION_PERCENT = 5  # the reference platform keeps 5 % of each paid call


@dataclass(frozen=True)
class _Api:
    """One API of the demo: who owns it, its price and how it behaves."""

    api_id: str
    name: str
    role: str  # "seller": this node's own API; "buyer": bought from the marketplace
    price_micro: int
    median_ms: float  # latency is log-normal around this median
    sigma: float
    weight: float  # share of its role's calls
    fail_rate: float  # share of 502s outside error bursts
    old_name: str | None = None  # name shown before it was renamed, halfway through the history
    from_frac: float = 0.0  # seller APIs: registered at this fraction of the history (0 = before it)
    until_frac: float | None = None  # seller APIs: unregistered at this fraction (None = still active)


# fmt: off
APIS: tuple[_Api, ...] = (
    # api_id, name, role, price_micro, median_ms, sigma, weight, fail_rate
    _Api("bb-sse-ticker", "BB Ticker Stream (SSE)", "seller", 500, 42, 0.45, 0.48, 0.004),
    _Api("bb-graphql", "BB GraphQL Gateway", "seller", 2_000, 165, 0.55, 0.26, 0.006),
    _Api("bb-orderbook", "BB Order Book Snapshot", "seller", 1_000, 88, 0.5, 0.16, 0.005, from_frac=0.4),
    _Api("bb-candles-v1", "BB Candles v1", "seller", 800, 120, 0.5, 0.10, 0.008, until_frac=0.6),
    _Api("wx-current", "Weather: Current Conditions", "buyer", 300, 118, 0.5, 0.22, 0.006,
         old_name="Weather Now"),
    _Api("wx-forecast-7d", "Weather: 7-Day Forecast", "buyer", 800, 240, 0.55, 0.10, 0.006),
    _Api("geo-forward", "Geocoding (address to coordinates)", "buyer", 200, 80, 0.45, 0.18, 0.004),
    _Api("geo-reverse", "Reverse Geocoding", "buyer", 250, 95, 0.45, 0.10, 0.004),
    _Api("llm-summarize", "LLM Summarize", "buyer", 8_000, 2_600, 0.55, 0.12, 0.012),
    _Api("llm-embed", "Text Embeddings", "buyer", 400, 310, 0.4, 0.14, 0.005),
    _Api("ocr-receipt", "Receipt OCR", "buyer", 5_000, 1_800, 0.7, 0.06, 0.015),
    _Api("wallet-screen", "Wallet Risk Screening", "buyer", 10_000, 650, 0.6, 0.08, 0.008),
)
# fmt: on
_BY_ID = {api.api_id: api for api in APIS}


@dataclass(frozen=True)
class _Rhythm:
    """How many calls of one role a day brings, hour by hour of local time."""

    per_day: float
    shape: tuple[float, ...]  # 24 relative weights, local hours 0..23
    weekend: float  # Saturday and Sunday bring this share of a weekday

    def per_hour(self, local_hour: int) -> float:
        return self.per_day / 24 * self.shape[local_hour] * 24 / sum(self.shape)


# The operator's own apps buy in its working day; its APIs serve consumers in
# many time zones, so the seller rhythm is flatter.
# fmt: off
RHYTHMS = {
    "buyer": _Rhythm(
        1_250,
        (0.15, 0.1, 0.1, 0.1, 0.12, 0.2, 0.45, 0.8, 1.25, 1.6, 1.75, 1.7,
         1.5, 1.65, 1.75, 1.7, 1.55, 1.3, 1.05, 0.85, 0.7, 0.55, 0.4, 0.25),
        0.55,
    ),
    "seller": _Rhythm(
        2_050,
        (0.55, 0.5, 0.45, 0.45, 0.5, 0.6, 0.75, 0.9, 1.1, 1.25, 1.35, 1.4,
         1.4, 1.45, 1.5, 1.5, 1.45, 1.35, 1.25, 1.15, 1.0, 0.85, 0.7, 0.6),
        0.85,
    ),
}
# fmt: on
DEMO_SHARE = {"buyer": 0.04, "seller": 0.10}  # free demo-mode calls
DELIVERIES = ("p2p", "cloud-relay", "onchain-relay")
_DELIVERY_CUM = (0.55, 0.90, 1.0)
_DELIVERY_EXTRA_MS = (0.0, 30.0, 850.0)  # what the route adds to the round trip
CONSUMERS = 60  # distinct wallets calling the node's APIs


@dataclass(frozen=True)
class _Burst:
    """A stretch of time in which one API mostly fails."""

    api_id: str
    start_ms: int
    end_ms: int
    status: int


# -- drawing calls ------------------------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 30:  # the normal approximation is good here and much cheaper
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@functools.cache
def _consumer_pool() -> tuple[tuple[str, ...], tuple[float, ...]]:
    """SHA-256 hex of the fake consumer wallets, and Zipf-like cumulative weights (a few big customers).

    One fixed pool for every seed, so that live traffic comes from the same
    customers as the history it extends.
    """
    rng = random.Random("ccanalytics demo consumers")
    wallets = [f"0x{rng.getrandbits(160):040x}" for _ in range(CONSUMERS)]
    hashes = tuple(hashlib.sha256(w.encode()).hexdigest() for w in wallets)
    return hashes, tuple(itertools.accumulate(1 / (i + 1) for i in range(CONSUMERS)))


def _draw_calls(
    rng: random.Random,
    start_ms: int,
    end_ms: int,
    tz: ZoneInfo,
    *,
    apis: Sequence[_Api],
    bursts: Sequence[_Burst] = (),
    gaps: Sequence[tuple[int, int]] = (),
    windows: dict[str, tuple[int, int]] | None = None,
    scale: float = 1.0,
) -> list[list]:
    """Calls with ``start_ms <= ts < end_ms``, sorted by time.

    Each call is ``[ts, role, api, status, latency, demo, delivery, consumer, price]``;
    ``price`` is the API's price for a call that would be paid, else 0 (paying is
    decided later, by the wallet walk).  ``windows`` limits an API to the time it
    was registered; calls inside ``gaps`` (the node was down) are not drawn.
    """
    consumers, consumer_cum = _consumer_pool()
    by_role = {role: [a for a in apis if a.role == role] for role in RHYTHMS}
    cum = {role: list(itertools.accumulate(a.weight for a in group)) for role, group in by_role.items()}
    params = {a.api_id: (math.log(a.median_ms), a.sigma) for a in apis}
    short = (math.log(25.0), 0.4)  # 4xx answers come straight from the proxy
    calls: list[list] = []
    exp, gauss = math.exp, rng.gauss  # log-normal latencies; gauss() is cheaper than lognormvariate()
    hour = start_ms - start_ms % HOUR_MS
    while hour < end_ms:
        lo, hi = max(hour, start_ms), min(hour + HOUR_MS, end_ms)
        local = datetime.fromtimestamp(hour / 1000, tz)
        # Gaps and bursts are rare: look only at those that touch this hour.
        down = [(a, b) for a, b in gaps if a < hi and b > lo]
        failing: dict[str, list[_Burst]] = {}
        for b in bursts:
            if b.start_ms < hi and b.end_ms > lo:
                failing.setdefault(b.api_id, []).append(b)
        for role, rhythm in RHYTHMS.items():
            if not by_role[role]:
                continue
            lam = rhythm.per_hour(local.hour) * scale * (hi - lo) / HOUR_MS
            if local.weekday() >= 5:
                lam *= rhythm.weekend
            n = _poisson(rng, lam)
            if not n:
                continue
            chosen = rng.choices(by_role[role], cum_weights=cum[role], k=n)
            who = rng.choices(consumers, cum_weights=consumer_cum, k=n)
            demo_share = DEMO_SHARE[role]
            for api, consumer in zip(chosen, who, strict=True):
                ts = lo + int(rng.random() * (hi - lo))
                if windows and api.api_id in windows:
                    since, until = windows[api.api_id]
                    if not since <= ts < until:
                        continue
                if down and any(a <= ts < b for a, b in down):
                    continue
                demo = 1 if rng.random() < demo_share else 0
                route = bisect_left(_DELIVERY_CUM, rng.random())
                mu, sigma = params[api.api_id]
                latency = exp(mu + sigma * gauss()) + _DELIVERY_EXTRA_MS[route] * (0.7 + 0.6 * rng.random())
                status = 200
                u = rng.random()
                burst = None
                if failing:
                    burst = next((b for b in failing.get(api.api_id, ()) if b.start_ms <= ts < b.end_ms), None)
                if burst is not None and u < 0.85:
                    status = burst.status
                elif u < api.fail_rate:
                    status, latency = 502, latency * 0.6
                elif u < api.fail_rate + 0.002 or latency > TIMEOUT_MS:
                    status = 504
                elif role == "seller" and not demo and u < api.fail_rate + 0.006:
                    status = 402  # the consumer's wallet could not pay
                elif u < api.fail_rate + 0.008:
                    status = 429
                elif u < api.fail_rate + 0.010:
                    status = 400
                if status == 504:
                    latency = TIMEOUT_MS + 5 + 100 * rng.random()
                elif 400 <= status < 500:
                    latency = exp(short[0] + short[1] * gauss())
                price = api.price_micro if status == 200 and not demo else 0
                calls.append(
                    [
                        ts,
                        role,
                        api,
                        status,
                        None if rng.random() < 0.003 else round(latency, 1),  # the relay did not report it
                        demo,
                        DELIVERIES[route],
                        consumer if role == "seller" and not demo else None,
                        price,
                    ]
                )
        hour += HOUR_MS
    calls.sort(key=itemgetter(0))
    return calls


def _gas_wei(rng: random.Random) -> int:
    """Gas one settlement costs on Base: roughly 0.0000001 ETH."""
    return 60_000_000_000 + rng.getrandbits(36)


def _usdc(micro: int) -> str:
    """Money for a message: ``50.00 USDC``, ``0.9995 USDC`` (never rounded up to the threshold)."""
    whole, frac = divmod(micro, USDC)
    return f"{whole}.{f'{frac:06d}'.rstrip('0').ljust(2, '0')} USDC"


# -- the history ------------------------------------------------------------------


@dataclass
class _History:
    """What the wallet walk produces: the calls kept, the events, the balance snapshots."""

    calls: list[list]
    events: list[tuple[int, str, str, str]]
    snapshots: list[tuple[int, int, str]]


def _walk_history(
    rng: random.Random,
    calls: list[list],
    *,
    start_ms: int,
    end_ms: int,
    empty_at_ms: int,
    threshold: int,
    gaps: Sequence[tuple[int, int]],
) -> _History:
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
                events.append((deposit_at, "deposit", "info", f"Deposit received: {_usdc(amount)}"))
                if paused:
                    events.append((deposit_at + 2_000, "resume", "info", f"API serving resumed, balance {_usdc(usdc)}"))
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
                eth -= _gas_wei(rng)
                if usdc < threshold and not low:
                    low = paused = True
                    text = f"USDC balance {_usdc(usdc)} is below {_usdc(threshold)}"
                    events.append((ts, "low_balance", "warning", text))
                    events.append((ts + 1_000, "pause", "warning", "API serving paused: low balance (auto-pause)"))
        kept.append(call)
    until(end_ms - 1)
    return _History(kept, events, snapshots)


_NODE_ERRORS = (
    "RPC request to Base failed: timeout after 5 s (retried)",
    "Cloud relay connection lost; reconnected after 12 s",
    "Settlement transaction replaced (nonce too low); resubmitted",
)


def _floor_hour(ms: int) -> int:
    return ms - ms % HOUR_MS


def _plan(
    rng: random.Random, start_ms: int, now_ms: int, days: int, tz: ZoneInfo
) -> tuple[list[_Burst], list[tuple[int, str, str, str]], list[tuple[int, int]], dict[str, tuple[int, int]]]:
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
        events.append((start_ms + rng.randrange(span), "error", "error", rng.choice(_NODE_ERRORS)))
    # Error bursts: the node's own GraphQL backend fails in the daytime of the last two days
    # (the chart shows red), a marketplace API times out earlier, more bursts on longer histories.
    bursts: list[_Burst] = []
    hours = range(_floor_hour(max(start_ms, now_ms - 40 * HOUR_MS)), now_ms - 4 * HOUR_MS, HOUR_MS)
    daytime = [h for h in hours if 9 <= datetime.fromtimestamp(h / 1000, tz).hour <= 16]
    recent = rng.choice(daytime or hours) + rng.randrange(40 * MINUTE_MS)
    bursts.append(_Burst("bb-graphql", recent, recent + 2 * HOUR_MS + rng.randrange(2 * HOUR_MS), 502))
    buyer_ids = [a.api_id for a in APIS if a.role == "buyer"]
    for i in range(max(1, days // 6)):
        api_id = "llm-summarize" if i == 0 else rng.choice(buyer_ids)
        room = span - 2 * DAY_MS if span > 3 * DAY_MS else span  # the recent two days belong to bb-graphql
        at = start_ms + rng.randrange(room)
        bursts.append(_Burst(api_id, at, at + HOUR_MS + rng.randrange(3 * HOUR_MS), 504))
    for burst in bursts:
        api = _BY_ID[burst.api_id]
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


def _call_rows(rng: random.Random, calls: list[list], rename_ms: int | None) -> list[tuple]:
    """The ``calls`` table rows of drawn and settled calls.

    Request ids are UUIDv7 (time first, then 74 random bits), as a control
    center would mint them; being time-ordered they also keep the primary-key
    index growing at its end, which makes the bulk insert fast.
    """
    rows = []
    bits = rng.getrandbits
    keep = 100 - COMMISSION_PERCENT
    for ts, role, api, status, latency, demo, delivery, consumer, price in calls:
        r = bits(74)
        request_id = (
            f"{ts >> 16:08x}-{ts & 0xFFFF:04x}-{0x7000 | r >> 62:04x}-"
            f"{0x8000 | (r >> 48) & 0x3FFF:04x}-{r & 0xFFFFFFFFFFFF:012x}"
        )
        name = api.old_name if api.old_name and rename_ms is not None and ts < rename_ms else api.name
        revenue = price * keep // 100 if role == "seller" else 0
        tx_hash = f"0x{bits(256):064x}" if price else None
        rows.append((request_id, ts, role, api.api_id, name, status, latency, price, revenue, demo,
                     tx_hash, delivery, consumer))  # fmt: skip
    return rows


_INSERT_CALL = (
    "INSERT INTO calls (request_id, ts_ms, role, api_id, api_name, status_code, latency_ms, price_micro,"
    " revenue_micro, demo, tx_hash, delivery, consumer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = "INSERT INTO events (ts_ms, type, severity, message) VALUES (?, ?, ?, ?)"
_INSERT_SNAPSHOT = "INSERT INTO balance_snapshots (ts_ms, usdc_micro, eth_wei) VALUES (?, ?, ?)"


def _backups(rng: random.Random, now_ms: int, age_days: float | None) -> list[tuple[int, str, int]]:
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
    bursts, events, gaps, windows = _plan(plan_rng, start_ms, now_ms, days, tz)
    calls = _draw_calls(call_rng, start_ms, now_ms, tz, apis=APIS, bursts=bursts, gaps=gaps, windows=windows)
    threshold = 1_000_000
    # Late enough that the wallet first holds more than the threshold, early enough for the deposit.
    empty_at = start_ms + int(span * ((0.4 if days >= 3 else 0.55) + 0.15 * plan_rng.random()))
    history = _walk_history(
        wallet_rng, calls, start_ms=start_ms, end_ms=now_ms, empty_at_ms=empty_at, threshold=threshold, gaps=gaps
    )
    rows = _call_rows(row_rng, history.calls, rename_ms=start_ms + span // 2)
    backups = _backups(plan_rng, now_ms, backup_age_days)
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
            con.executemany(_INSERT_CALL, rows)
            con.executemany(_INSERT_EVENT, events)
            con.executemany(_INSERT_SNAPSHOT, history.snapshots)
            con.executemany("INSERT INTO apis VALUES (?, ?, ?, ?, ?)", apis)
            con.executemany("INSERT INTO backups (ts_ms, file, size_bytes) VALUES (?, ?, ?)", backups)
            con.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?)",
                [(k, v) for k, v in settings.items() if v is not None],
            )
    finally:
        con.close()


# -- live traffic ---------------------------------------------------------------------

TOP_UP_MICRO = 20 * USDC  # what the embedded demo's operator deposits when the balance runs low


def append_traffic(
    path: str | Path,
    *,
    now_ms: int,
    since_ms: int,
    rng: random.Random,
    scale: float = 1.0,
    on_paid_calls: Callable[[int, int], None] | None = None,
    on_deposit: Callable[[int], None] | None = None,
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
        calls = _draw_calls(rng, since_ms + 1, now_ms + 1, ZoneInfo(settings.timezone), apis=apis, scale=scale)

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
            eth = max(0, eth - _gas_wei(rng))
            paid_count, paid_micro = paid_count + 1, paid_micro + price
            if usdc < top_up_below:
                usdc += TOP_UP_MICRO
                deposited += TOP_UP_MICRO
                events.append((call[0], "deposit", "info", f"Deposit received: {_usdc(TOP_UP_MICRO)}"))
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
            events.append((since_ms + 1 + rng.randrange(dt), "error", "error", rng.choice(_NODE_ERRORS)))

        con.executemany(_INSERT_CALL, _call_rows(rng, calls, rename_ms=None))
        con.executemany(_INSERT_EVENT, sorted(events, key=itemgetter(0)))
        # A snapshot whenever the balance moved, and at least hourly.
        if paid_count or deposited or last_ts is None or now_ms - last_ts >= HOUR_MS:
            con.execute(_INSERT_SNAPSHOT, (now_ms, usdc, str(eth)))
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
