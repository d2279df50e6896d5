"""How long the money lasts at the 7-day pace (alerts.md, Runway): pure polars, no I/O.

Rates are kept exact, as an amount over a span of milliseconds: the days of
runway divide by the exact rate, and only the shown per-day figures are
rounded down.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import polars as pl

from ccanalytics.units import DAY_MS, WEEK_MS, eth_text, usdc_text

__all__ = ["Rate", "Runway", "days_left", "gas_burn", "spend_rate"]


@dataclass(frozen=True)
class Rate:
    """An exact rate: ``amount`` (micro-USDC or wei) over ``span_ms``."""

    amount: int
    span_ms: int

    @property
    def per_day(self) -> int:
        """The amount per day, rounded down."""
        return self.amount * DAY_MS // self.span_ms


@dataclass(frozen=True)
class Runway:
    """Days of USDC and of gas left, and the daily rates they come from."""

    usdc_days: float | None = None
    spend: Rate | None = None
    eth_days: float | None = None
    gas: Rate | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "usdc_days": self.usdc_days,
            "spend_per_day_usdc": None if self.spend is None else usdc_text(self.spend.per_day),
            "eth_days": self.eth_days,
            "gas_per_day_eth": None if self.gas is None else eth_text(self.gas.per_day),
        }


def spend_rate(buyer_calls: pl.LazyFrame, earlier_calls: bool, now: int) -> Rate | None:
    """Σ ``price_micro`` of buyer calls in ``[max(now − 7 d, first buyer call), now)`` over that span.

    ``buyer_calls`` are the valid buyer calls (at least those of the last 7
    days); ``earlier_calls`` says whether a buyer call before ``now − 7 d``
    exists.  None without buyer calls or when the span is under 24 h.

    Examples
    --------
    >>> day = 86_400_000
    >>> calls = pl.LazyFrame({"ts_ms": [0, day], "price_micro": [1_000_000, 2_000_000]})
    >>> spend_rate(calls, earlier_calls=False, now=3 * day)
    Rate(amount=3000000, span_ms=259200000)
    >>> spend_rate(calls, earlier_calls=False, now=day - 1) is None      # under 24 h of history
    True
    >>> spend_rate(calls, earlier_calls=True, now=30 * day)                # nothing spent this week
    Rate(amount=0, span_ms=604800000)
    """
    week = buyer_calls.filter(pl.col("ts_ms").is_between(now - WEEK_MS, now, closed="left"))
    first, amount = week.select(pl.col("ts_ms").min(), pl.col("price_micro").cast(pl.Int128).sum()).collect().row(0)
    if earlier_calls:  # a buyer call before the week: the span is the whole week, spent or not
        return Rate(int(amount or 0), WEEK_MS)
    if first is None:
        return None
    span = now - first
    return Rate(int(amount), span) if span >= DAY_MS else None


def gas_burn(balance_snapshots: pl.DataFrame, now: int) -> Rate | None:
    """The gas spent between balance snapshots over the last 7 days, top-ups left out.

    From the last snapshot at or before ``now − 7 d`` (the first, if none) to
    the last before ``now``: the sum of the decreases of ``eth_wei`` between
    consecutive snapshots (``ts_ms`` order, ``_rid`` breaking ties) over the
    span between those two.  None when the span is under 24 h.

    Examples
    --------
    >>> day = 86_400_000
    >>> snaps = pl.DataFrame({"ts_ms": [0, day, 2 * day], "_rid": [1, 2, 3], "eth_wei": ["9", "5", "8"]})
    >>> gas_burn(snaps, now=2 * day + 1)            # 9 → 5 burns 4; 5 → 8 is a top-up
    Rate(amount=4, span_ms=172800000)
    """
    rows = balance_snapshots.filter(pl.col("ts_ms") < now).sort("ts_ms", "_rid", maintain_order=True)
    begin = rows.select((pl.col("ts_ms") <= now - WEEK_MS).sum()).item()
    rows = rows.slice(max(begin - 1, 0))
    if rows.height < 2:
        return None
    span = rows["ts_ms"][-1] - rows["ts_ms"][0]
    if span < DAY_MS:
        return None
    # Balances may exceed 128 bits (78 digits): Python integers keep the sum exact.
    wei = [int(v) for v in rows["eth_wei"].cast(pl.String).to_list()]
    burnt = sum(max(a - b, 0) for a, b in pairwise(wei))
    return Rate(burnt, span)


def days_left(balance: int | None, threshold: int, rate: Rate | None) -> float | None:
    """(balance − threshold) ÷ the exact daily rate; 0 at or below the threshold (that comes first).

    Examples
    --------
    >>> day = 86_400_000
    >>> days_left(5_000_000, 1_000_000, Rate(2_000_000, 2 * day))
    4.0
    >>> days_left(1_000_000, 1_000_000, None), days_left(None, 0, None), days_left(9, 0, Rate(0, day))
    (0.0, None, None)
    """
    if balance is None:
        return None
    if balance <= threshold:
        return 0.0
    if rate is None or rate.amount == 0:
        return None
    return (balance - threshold) * rate.span_ms / (rate.amount * DAY_MS)
