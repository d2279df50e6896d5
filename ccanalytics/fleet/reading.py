"""Step 1 of ``ccanalytics fleet``: the lake read on the engine.

The days before the cut come as their rollups merged per node, the calls since the cut as rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.metrics.ledger import REACH_MS, RECENT_SCHEMA
from ccanalytics.units import DAY_MS

if TYPE_CHECKING:
    from pathlib import Path

    import narwhals as nw
    from polars._typing import PolarsDataType

    from ccanalytics.fleet.engines import Engine

__all__ = ["ROLLUP_SCHEMAS", "LakeTallies", "cut_day", "cut_start", "tally_lake"]

_SUMS: dict[str, PolarsDataType] = {
    "calls": pl.Int64,
    "success": pl.Int64,
    "latency_sum": pl.Float64,
    "latency_n": pl.Int64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
}
ROLLUP_SCHEMAS: dict[str, dict[str, PolarsDataType]] = {
    "rollups": {
        "role": pl.String,
        "api_id": pl.String,
        "hour": pl.Int64,
        **_SUMS,
        "price_micro": pl.Decimal(38, 0),  # exact sums of 64-bit amounts
        "revenue_micro": pl.Decimal(38, 0),
    },
    "names": {"api_id": pl.String, "ts_ms": pl.Int64, "request_id": pl.String, "api_name": pl.String},
    "latency": {"role": pl.String, "api_id": pl.String, "key": pl.Int32, "n": pl.Int64},
    "firsts": {"consumer": pl.String, "api_id": pl.String, "ts_ms": pl.Int64},
}


@dataclass(frozen=True)
class LakeTallies:
    """What the engine returns, every frame with a ``node`` column: small but for ``recent``."""

    tallies: pl.DataFrame  # node, role, api_id, calls … revenue_micro: the rollups before the cut, merged
    names: pl.DataFrame  # node, api_id, ts_ms, request_id, api_name: latest named call before the cut
    sketch: pl.DataFrame  # node, role, api_id, key, n: latency sketch before the cut
    firsts: pl.DataFrame  # node, consumer, api_id, ts_ms: first seller call before the cut
    recent: pl.DataFrame  # node + the ledger's columns: the valid calls from the cut to now


def cut_day(now: int, reach: int) -> str:
    """The first UTC day read as raw calls: the day of ``now - reach - 1 day`` (every window lies after it).

    Examples
    --------
    >>> from ccanalytics.units import parse_now
    >>> cut_day(parse_now("2026-11-25T12:00:00Z"), REACH_MS)
    '2026-11-10'
    """
    moment = datetime.fromtimestamp((now - reach - DAY_MS) // 1000, tz=UTC)
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def tally_lake(engine: Engine, lake: Path, now: int, reach: int = REACH_MS) -> LakeTallies:
    """Read the lake at ``now`` on ``engine``: the history merged from rollups, the recent calls raw.

    The only step that reads calls.  Days before ``cut_day`` come as merged
    rollups (the heavy part, on the engine); calls from that day to ``now`` as
    rows, which the same ledger and snapshot code as a store's then turn into
    every figure.
    """
    import narwhals as nw

    from ccanalytics.fleet import tallies
    from ccanalytics.fleet.lake import CALL_COLUMNS

    ts, day = nw.col("ts_ms"), nw.col("day")
    cut = cut_day(now, reach)

    def old(name: str) -> nw.LazyFrame:
        return engine.scan(lake / name, ROLLUP_SCHEMAS[name]).filter(day < cut)

    queries = [
        tallies.merge(old("rollups"), by=["node", "role", "api_id"]),
        tallies.latest_named(old("names"), by=["node", "api_id"]),
        tallies.merge(old("latency"), by=["node", "role", "api_id", "key"], sums=["n"]),
        tallies.earliest(old("firsts"), by=["node", "consumer", "api_id"]),
        engine.scan(lake / "calls", CALL_COLUMNS)
        .filter(day >= cut, ts < now)
        .select("node", *(c for c in RECENT_SCHEMA if c != "rule")),
    ]
    return LakeTallies(*(engine.collect(q) for q in queries))


def cut_start(now: int, reach: int) -> int:
    """The cut's first millisecond: the UTC midnight of ``cut_day``."""
    return (now - reach - DAY_MS) // DAY_MS * DAY_MS
