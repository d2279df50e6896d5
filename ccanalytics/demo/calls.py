"""Drawing the demo's calls: hour by hour, per the rhythm, each API's latency and failures.

A drawn call is ``[ts, role, api, status, latency, demo, delivery, consumer,
price]``; ``call_rows`` turns settled calls into ``calls`` table rows.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import random
from bisect import bisect_left
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING

from ccanalytics.demo.profiles import (
    COMMISSION_PERCENT,
    CONSUMERS,
    DELIVERIES,
    DELIVERY_CUM,
    DELIVERY_EXTRA_MS,
    DEMO_SHARE,
    RHYTHMS,
    TIMEOUT_MS,
)
from ccanalytics.units import HOUR_MS

if TYPE_CHECKING:
    from collections.abc import Sequence
    from zoneinfo import ZoneInfo

    from ccanalytics.demo.profiles import Api, Burst

__all__ = ["INSERT_CALL", "INSERT_EVENT", "INSERT_SNAPSHOT", "call_rows", "draw_calls"]


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


def draw_calls(
    rng: random.Random,
    start_ms: int,
    end_ms: int,
    tz: ZoneInfo,
    *,
    apis: Sequence[Api],
    bursts: Sequence[Burst] = (),
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
        failing: dict[str, list[Burst]] = {}
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
                route = bisect_left(DELIVERY_CUM, rng.random())
                mu, sigma = params[api.api_id]
                latency = exp(mu + sigma * gauss()) + DELIVERY_EXTRA_MS[route] * (0.7 + 0.6 * rng.random())
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


def call_rows(rng: random.Random, calls: list[list], rename_ms: int | None) -> list[tuple]:
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


INSERT_CALL = (
    "INSERT INTO calls (request_id, ts_ms, role, api_id, api_name, status_code, latency_ms, price_micro,"
    " revenue_micro, demo, tx_hash, delivery, consumer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_EVENT = "INSERT INTO events (ts_ms, type, severity, message) VALUES (?, ?, ?, ?)"
INSERT_SNAPSHOT = "INSERT INTO balance_snapshots (ts_ms, usdc_micro, eth_wei) VALUES (?, ?, ?)"
