"""``ccanalytics fleet``: every node's snapshot and the fleet's figures, from a lake, on polars or Spark.

Three steps (docs/design.md, "The fleet"):

1. **Tally** the lake on the engine (``tally_lake``): the definitions of
   ``tallies`` (narwhals) group the calls of the last ``RECENT_DAYS`` UTC days
   and the hourly rollups of the days before into a few small frames — per
   node and role: all-time sums per API, the latest names, the 24 h / 7 d
   window sums, the chart's hours, the latency sketch of the last 24 h.
2. **Assemble** each node's snapshot from its tallies and small tables with
   the very code ``ccanalytics snapshot`` uses (``snapshot.compute``,
   ``snapshot.table_facts``, ``metrics.breakdown``), so each node equals its
   store's snapshot.
3. **Merge** the nodes' tallies into the fleet's (sums; names: the latest of
   the latest; the chart in ``--tz``) and assemble it the same way: the fleet
   is the snapshot of one store holding all the nodes' calls.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from ccanalytics import metrics
from ccanalytics.contract import TABLES
from ccanalytics.errors import CCError
from ccanalytics.ledger import Totals
from ccanalytics.settings import Settings, parse_settings
from ccanalytics.snapshot import Balances, DataIssue, RoleView, Snapshot, compute, table_facts
from ccanalytics.units import DAY_MS, HOUR_MS, WEEK_MS, parse_now, usdc_text

if TYPE_CHECKING:
    import argparse

    import narwhals as nw

    from ccanalytics.engines import Engine

__all__ = ["RECENT_DAYS", "FleetTallies", "fleet_snapshot", "run", "tally_lake"]

RECENT_DAYS = 15  # raw calls from this many UTC days before `now` on (windows, chart, previous periods)
ROLES = metrics.ROLES
SMALL_TABLES = ("events", "apis", "balance_snapshots", "backups")
ROLLUP_SCHEMA = {
    "role": pl.String,
    "api_id": pl.String,
    "hour": pl.Int64,
    "calls": pl.Int64,
    "success": pl.Int64,
    "latency_sum": pl.Float64,
    "latency_n": pl.Int64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
    "name_ts": pl.Int64,
    "name_request_id": pl.String,
    "name": pl.String,
}
NO_CHAIN_NOTE = "the fleet does not read chains: balances are the lake's latest balance snapshot"


@dataclass(frozen=True)
class FleetTallies:
    """What the engine returns: small frames, every one keyed by ``node`` (but ``fleet_rates``)."""

    totals: pl.DataFrame  # node, role, api_id, calls … revenue_micro: all calls before now
    names: pl.DataFrame  # node, api_id, name_ts, name_request_id, name: each API's latest named call
    windows: pl.DataFrame  # node, role, in_day, sums: calls of the last 7 d (in_day: of the last 24 h)
    rates: pl.DataFrame  # node, role, hour, success, error: the chart in each node's time zone
    fleet_rates: pl.DataFrame  # role, hour, success, error: the chart in the fleet's time zone
    sketch: pl.DataFrame  # node, role, bucket, calls: latencies of the last 24 h


def _cut_day(now: int) -> str:
    """The first UTC day read as raw calls: ``RECENT_DAYS`` before ``now``'s."""
    moment = datetime.fromtimestamp(now // 1000, tz=UTC) - timedelta(days=RECENT_DAYS)
    return f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def _first_hour(now: int, timezone: str) -> int:
    return metrics.last_bucket_start(now, timezone) - (metrics.CHART_HOURS - 1) * HOUR_MS


def tally_lake(engine: Engine, lake: Path, now: int, node_zones: dict[str, str], timezone: str) -> FleetTallies:
    """Tally the lake at ``now`` on ``engine``: the only step that reads calls.

    ``node_zones`` gives each node's time zone (its chart's hours); ``timezone``
    the fleet's.  Calls from ``_cut_day(now)`` on are read raw; older ones
    through the hourly rollups export wrote with the same definitions.
    """
    import narwhals as nw

    from ccanalytics import tallies
    from ccanalytics.lake import CALL_COLUMNS

    ts, day, node = nw.col("ts_ms"), nw.col("day"), nw.col("node")
    cut = _cut_day(now)
    raw = engine.scan(lake / "calls", CALL_COLUMNS).filter(day >= cut, ts < now)
    old = engine.scan(lake / "rollups", ROLLUP_SCHEMA).filter(day < cut)
    keys = ["node", "role", "api_id"]
    sums = list(tallies.SUMS)
    totals = tallies.merge(
        nw.concat([old.select(*keys, *sums), tallies.tally(raw, by=keys).select(*keys, *sums)]), by=keys
    )
    named = old.filter(~nw.col("name").is_null()).select(
        "node", "api_id", ts_ms=nw.col("name_ts"), request_id=nw.col("name_request_id"), api_name=nw.col("name")
    )
    names = tallies.latest_named(
        nw.concat([named, raw.select("node", "api_id", "ts_ms", "request_id", "api_name")]), by=["node", "api_id"]
    )
    week = raw.filter(ts >= now - WEEK_MS).with_columns((ts >= now - DAY_MS).alias("in_day"))
    windows = tallies.tally(week, by=["node", "role", "in_day"])

    # Each node's chart starts where its time zone puts it: one `first` per distinct start.
    starts: dict[int, list[str]] = {}
    for name, zone in node_zones.items():
        starts.setdefault(_first_hour(now, zone), []).append(name)
    first: nw.Expr = nw.lit(None, nw.Int64)
    for start, members in starts.items():
        first = nw.when(node.is_in(members)).then(nw.lit(start, nw.Int64)).otherwise(first)

    def chart(frame: nw.LazyFrame, by: list[str]) -> nw.LazyFrame:
        ok = tallies.succeeded()
        return frame.group_by(*by).agg(
            ok.cast(nw.Int64).sum().alias("success"), (~ok).cast(nw.Int64).sum().alias("error")
        )

    rates = raw.with_columns(first.alias("first")).filter(ts >= nw.col("first"))
    rates = chart(rates.with_columns(tallies.hour_of(nw.col("first")).alias("hour")), ["node", "role", "hour"])
    fleet_first = _first_hour(now, timezone)
    fleet_rates = chart(
        raw.filter(ts >= fleet_first).with_columns(tallies.hour_of(fleet_first).alias("hour")), ["role", "hour"]
    )
    sketch = tallies.sketch(raw.filter(ts >= now - DAY_MS), by=["node", "role"])
    frames = [engine.collect(q) for q in (totals, names, windows, rates, fleet_rates, sketch)]
    return FleetTallies(*frames)


# -- assembling -------------------------------------------------------------


def _by_node(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {key[0]: part for key, part in frame.partition_by("node", as_dict=True, include_key=False).items()}


def _views(
    totals: pl.DataFrame,
    names: pl.DataFrame,
    windows: pl.DataFrame,
    rates: pl.DataFrame,
    apis: pl.LazyFrame,
    first: int,
) -> dict[str, RoleView]:
    """Both roles' figures from tallies, as ``snapshot.role_views`` gives them from calls."""
    sums = ["calls", "success", "latency_sum", "latency_n", "price_micro", "revenue_micro"]
    hours = pl.DataFrame({"hour": [first + i * HOUR_MS for i in range(metrics.CHART_HOURS)]})
    views = {}
    for role in ROLES:
        money = "price_micro" if role == "buyer" else "revenue_micro"
        mine = windows.filter(pl.col("role") == role)
        day = mine.filter(pl.col("in_day")).select(pl.col(sums).sum()).row(0, named=True)
        week = mine.select(pl.col(sums).sum()).row(0, named=True)
        total = totals.filter(pl.col("role") == role).select(pl.col(sums).sum()).row(0, named=True)
        rate = (
            hours.join(rates.filter(pl.col("role") == role).select("hour", "success", "error"), on="hour", how="left")
            .with_columns(pl.col("success", "error").fill_null(0).cast(pl.Int64))
            .sort("hour")
        )
        views[role] = RoleView(
            calls_24h=day["calls"],
            success_24h=day["success"],
            latency_sum_24h=float(day["latency_sum"]),
            latency_n_24h=day["latency_n"],
            money_24h=day[money],
            calls_7d=week["calls"],
            money_7d=week[money],
            total_calls=total["calls"],
            total_money=total[money],
            call_rate=rate,
            breakdown=metrics.breakdown(totals.lazy(), names.lazy(), apis, role).collect(),
        )
    return views


def _ordered(table: str, counts: pl.DataFrame) -> list[DataIssue]:
    """Issues of a table in the contract's order of rules (a rule outside it, e.g. a missing column, first)."""
    order = {rule: i for i, (rule, _) in enumerate(TABLES[table].rules)}
    found = dict(zip(counts["rule"].to_list(), counts["rows"].to_list(), strict=True))
    return [
        DataIssue(table, rule, found[rule]) for rule in sorted(found, key=lambda r: order.get(r, -1)) if found[rule]
    ]


def _read_small(lake: Path, dataset: str) -> pl.DataFrame | None:
    files = sorted((lake / dataset).glob("node=*/data.parquet"))
    if not files:
        return None
    return pl.read_parquet(
        lake / dataset / "node=*" / "data.parquet", hive_partitioning=True, hive_schema={"node": pl.String}
    )


def _empty_small(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema={"_rid": pl.Int64, **TABLES[table].schema})


@dataclass(frozen=True)
class _Node:
    name: str
    settings: Settings
    setting_issues: list[str]
    rpc_url: bool
    small: dict[str, pl.DataFrame]  # the small tables' valid rows, with a null `rule`


def _nodes(lake: Path) -> list[_Node]:
    # A node is in the fleet once an export of it has run to the end (its mark in nodes/).
    names = sorted(p.name[5:] for p in (lake / "nodes").glob("node=*") if (p / "data.parquet").is_file())
    if not names:
        raise CCError(f"{lake}: holds no nodes (write some with `ccanalytics export --db PATH --to {lake}`)")
    settings = _read_small(lake, "settings")
    pairs = _by_node(settings) if settings is not None else {}
    small = {}
    for table in SMALL_TABLES:
        frame = _read_small(lake, table)
        small[table] = _by_node(frame) if frame is not None else {}
    nodes = []
    for name in names:
        kv = pairs.get(name, pl.DataFrame(schema={"key": pl.String, "value": pl.String}))
        raw = dict(zip(kv["key"].to_list(), kv["value"].to_list(), strict=True))
        parsed, issues = parse_settings(raw)
        tables = {}
        for table in SMALL_TABLES:
            frame = small[table].get(name, _empty_small(table))
            tables[table] = frame.with_columns(rule=pl.lit(None, pl.String))
        nodes.append(_Node(name, parsed, issues, bool(raw.get("rpc_url")), tables))
    return nodes


def _issues_at(lake: Path, now: int) -> dict[str, pl.DataFrame]:
    """Per node, the bad rows that exist at ``now`` (those without a valid time always do): table, rule, rows."""
    folder = lake / "issues"
    if not any(folder.glob("node=*/day=*/data.parquet")):
        return {}
    frame = pl.scan_parquet(
        folder / "node=*" / "day=*" / "data.parquet",
        hive_partitioning=True,
        hive_schema={"node": pl.String, "day": pl.String},
    )
    ts = pl.col("ts_ms")
    counts = (
        frame.filter(ts.is_null() | (ts < now)).group_by("node", "table", "rule").agg(pl.col("rows").sum()).collect()
    )
    return _by_node(counts)


def _percentiles(sketch: pl.DataFrame) -> dict[str, float | None]:
    """p50, p95, p99 (nearest rank) of a merged sketch: bucket, calls."""
    from ccanalytics.tallies import bucket_value

    merged = (
        sketch.group_by("bucket").agg(pl.col("calls").sum()).sort("bucket").with_columns(cum=pl.col("calls").cum_sum())
    )
    n = int(merged["calls"].sum() or 0)
    found: dict[str, float | None] = {}
    for q in (50, 95, 99):
        rank = (q * n + 99) // 100  # ceil(q/100 · n), in integers
        hit = merged.filter(pl.col("cum") >= rank).head(1)["bucket"].to_list() if n else []
        found[f"p{q}_latency_ms_24h"] = bucket_value(hit[0]) if hit else None
    return found


def _node_snapshot(
    node: _Node, t: dict[str, dict[str, pl.DataFrame]], issues: pl.DataFrame, now: int, events: int
) -> Snapshot:
    part = {key: frames.get(node.name) for key, frames in t.items()}
    totals = part["totals"] if part["totals"] is not None else _EMPTY["totals"]
    names = part["names"] if part["names"] is not None else _EMPTY["names"]
    names = names.select("api_id", ts_ms="name_ts", request_id="name_request_id", api_name="name")
    windows = part["windows"] if part["windows"] is not None else _EMPTY["windows"]
    rates = part["rates"] if part["rates"] is not None else _EMPTY["rates"]
    apis = node.small["apis"]
    views = _views(totals, names, windows, rates, apis.lazy(), _first_hour(now, node.settings.timezone))
    facts = table_facts(node.small, now, events_limit=events)
    per_table = {table: _ordered(table, issues.filter(pl.col("table") == table)) for table in SMALL_TABLES}
    facts = replace(facts, issues=per_table)
    calls_issues = issues.filter(pl.col("table") == "calls").select("rule", "rows")
    return compute(
        now=now,
        settings=node.settings,
        calls=pl.LazyFrame(),
        totals=Totals(tallies=totals, names=names, issues=calls_issues),
        facts=facts,
        apis=apis,
        shape_issues={},
        setting_issues=node.setting_issues,
        balances=Balances(note=NO_CHAIN_NOTE) if node.rpc_url else None,
        views=views,
    )


_ISSUES = pl.DataFrame(schema={"table": pl.String, "rule": pl.String, "rows": pl.Int64})
_SUMS = {
    "calls": pl.Int64,
    "success": pl.Int64,
    "latency_sum": pl.Float64,
    "latency_n": pl.Int64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
}
_EMPTY = {
    "totals": pl.DataFrame(schema={"role": pl.String, "api_id": pl.String, **_SUMS}),
    "names": pl.DataFrame(
        schema={"api_id": pl.String, "name_ts": pl.Int64, "name_request_id": pl.String, "name": pl.String}
    ),
    "windows": pl.DataFrame(schema={"role": pl.String, "in_day": pl.Boolean, **_SUMS}),
    "rates": pl.DataFrame(schema={"role": pl.String, "hour": pl.Int64, "success": pl.Int64, "error": pl.Int64}),
}


def _fleet(nodes: list[_Node], snaps: dict[str, Snapshot], t: FleetTallies, now: int, timezone: str) -> dict[str, Any]:
    """The fleet's figures: the snapshot of one store holding every node's calls, plus rankings."""
    sums = list(_SUMS)
    totals = t.totals.group_by("role", "api_id").agg(pl.col(sums).sum()).cast(_SUMS)  # type: ignore[arg-type]
    # Request ids are unique per node: a call is known to the fleet as NODE/request_id.
    names = metrics.latest_names(
        t.names.lazy().select(
            "api_id", ts_ms="name_ts", request_id=pl.concat_str("node", pl.lit("/"), "name_request_id"), api_name="name"
        )
    ).collect()
    windows = t.windows.drop("node")
    apis = pl.concat([n.small["apis"] for n in nodes])  # an API registered by several nodes: the first node's name
    views = _views(totals, names, windows, t.fleet_rates, apis.lazy(), _first_hour(now, timezone))
    empty = {table: _empty_small(table).with_columns(rule=pl.lit(None, pl.String)) for table in SMALL_TABLES}
    facts = replace(table_facts(empty, now, events_limit=0), has_apis=apis.height > 0)
    snap = compute(
        now=now,
        settings=Settings(timezone=timezone),
        calls=pl.LazyFrame(),
        totals=Totals(tallies=totals, names=names, issues=pl.DataFrame(schema={"rule": pl.String, "rows": pl.Int64})),
        facts=facts,
        apis=apis,
        shape_issues={},
        setting_issues=[],
        views=views,
    ).to_dict()
    spread = t.totals.group_by("role", "api_id").agg(nodes=pl.col("node").n_unique().cast(pl.Int64))
    for role in ROLES:
        counts = dict(
            zip(*spread.filter(pl.col("role") == role).select("api_id", "nodes").to_dict().values(), strict=True)
        )
        for row in snap[role]["breakdown"]:
            row["nodes"] = counts.get(row["api_id"], 0)
        snap[role].update(_percentiles(t.sketch.filter(pl.col("role") == role)))
        if role == "seller":
            snap[role]["avg_latency_ms_24h"] = views[role].avg_latency_ms_24h
            snap[role]["total_calls"] = views[role].total_calls
            snap[role]["total_revenue_usdc"] = usdc_text(views[role].total_money)
    issues: dict[tuple[str, str], int] = {}
    for s in snaps.values():
        for issue in s.data_issues:
            issues[(issue.table, issue.rule)] = issues.get((issue.table, issue.rule), 0) + issue.rows
    return {
        "now": snap["now"],
        "timezone": timezone,
        "nodes": len(nodes),
        "mode": snap["mode"],
        "buyer": snap["buyer"],
        "seller": snap["seller"],
        "rankings": _rankings(snaps),
        "data_issues": [{"table": k[0], "rule": k[1], "rows": v} for k, v in issues.items()],
    }


def _rankings(snaps: dict[str, Snapshot]) -> dict[str, list[dict[str, Any]]]:
    """Nodes by seller revenue of the last 24 h, and by error rate of the last 24 h (both roles)."""
    figures = pl.DataFrame(
        {
            "node": list(snaps),
            "revenue_24h": [s.seller.money_24h for s in snaps.values()],
            "revenue_total": [s.seller.total_money for s in snaps.values()],
            "calls_24h": [s.buyer.calls_24h + s.seller.calls_24h for s in snaps.values()],
            "errors_24h": [
                s.buyer.calls_24h - s.buyer.success_24h + s.seller.calls_24h - s.seller.success_24h
                for s in snaps.values()
            ],
        },
        schema={
            "node": pl.String,
            "revenue_24h": pl.Int64,
            "revenue_total": pl.Int64,
            "calls_24h": pl.Int64,
            "errors_24h": pl.Int64,
        },
    ).with_columns(error_rate_24h=pl.when(pl.col("calls_24h") > 0).then(pl.col("errors_24h") / pl.col("calls_24h")))
    by_revenue = figures.sort(["revenue_24h", "revenue_total", "node"], descending=[True, True, False])
    by_errors = figures.sort(["error_rate_24h", "calls_24h", "node"], descending=[True, True, False], nulls_last=True)

    def entries(frame: pl.DataFrame) -> list[dict[str, Any]]:
        return [
            {
                "node": row["node"],
                "revenue_24h_usdc": usdc_text(row["revenue_24h"]),
                "revenue_total_usdc": usdc_text(row["revenue_total"]),
                "calls_24h": row["calls_24h"],
                "errors_24h": row["errors_24h"],
                "error_rate_24h": row["error_rate_24h"],
            }
            for row in frame.to_dicts()
        ]

    return {"by_revenue": entries(by_revenue), "by_error_rate": entries(by_errors)}


def fleet_snapshot(
    lake: str | Path,
    now: int | str | None = None,
    *,
    engine: Engine | None = None,
    timezone: str = "UTC",
    events: int = 50,
) -> dict[str, Any]:
    """The fleet JSON of fleet.md: ``nodes`` (each node's snapshot) and ``fleet``.

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> from ccanalytics.lake import export
    >>> folder = tempfile.mkdtemp()
    >>> create_store(os.path.join(folder, "a.db"))
    >>> _ = export(os.path.join(folder, "a.db"), os.path.join(folder, "lake"))
    >>> result = fleet_snapshot(os.path.join(folder, "lake"), now="2026-11-25T12:00:00Z")
    >>> list(result["nodes"]), result["fleet"]["buyer"]["total_calls"]
    (['a'], 0)
    """
    from ccanalytics.engines import PolarsEngine

    lake = Path(lake)
    if not lake.is_dir():
        raise CCError(f"{lake}: no such folder")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CCError(f"--tz {timezone!r} is not a known time zone") from None
    try:
        now_ms = parse_now(now)
    except ValueError as exc:
        raise CCError(str(exc)) from None
    engine = engine or PolarsEngine()
    nodes = _nodes(lake)
    t = tally_lake(engine, lake, now_ms, {n.name: n.settings.timezone for n in nodes}, timezone)
    split = {name: _by_node(getattr(t, name)) for name in ("totals", "names", "windows", "rates")}
    issues = _issues_at(lake, now_ms)
    snaps = {n.name: _node_snapshot(n, split, issues.get(n.name, _ISSUES), now_ms, events) for n in nodes}
    return {
        "now": snaps[nodes[0].name].to_dict()["now"],
        "engine": engine.name,
        "nodes": {name: s.to_dict() for name, s in snaps.items()},
        "fleet": _fleet(nodes, snaps, t, now_ms, timezone),
    }


def run(args: argparse.Namespace) -> int:
    """``ccanalytics fleet --lake DIR [--now T] [--engine polars|spark] [--range R] [--tz Z] [--master URL]``."""
    from ccanalytics.lake import require_fleet_extra

    require_fleet_extra()
    from ccanalytics.engines import engine

    if args.range is not None:
        raise CCError("--range is not available yet: it needs the ranged views of views.md")
    chosen = engine(args.engine, args.master)
    result = fleet_snapshot(args.lake, args.now, engine=chosen, timezone=args.tz)
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0
