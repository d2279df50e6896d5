"""``ccanalytics fleet``: every node's snapshot and the fleet's figures, from a lake, on polars or Spark.

Three steps (docs/design.md, "The fleet"):

1. **Read** the lake on the engine (``tally_lake``): the days before the cut
   (``cut_day``: a day before the snapshot's reach, two weeks, or twice a
   ``--range``) as their rollups merged per node (``tallies``: narwhals sums,
   minima and latest, on polars or Spark — the heavy part: years of history
   over thousands of nodes become a few rows per node and API); the calls
   since the cut as rows.
2. **Assemble** each node's snapshot from those with the very code a store
   runs (``ledger.Totals``, ``compute.table_facts``, ``compute.compute``):
   each node equals ``ccanalytics snapshot`` of its store.
3. **Merge** the nodes into the fleet the same way (their rollups merged,
   their recent calls together, request ids made ``NODE/request_id``): the
   fleet is the snapshot of one store holding every node's calls, with the
   chart in ``--tz``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.errors import CCError
from ccanalytics.metrics import formulas
from ccanalytics.metrics.compute import compute, table_facts
from ccanalytics.metrics.consumers import FirstSeen
from ccanalytics.metrics.ledger import REACH_MS, RECENT_SCHEMA, Totals
from ccanalytics.metrics.sketch import merge_sketches
from ccanalytics.metrics.snapshot import Snapshot
from ccanalytics.metrics.views import RANGES
from ccanalytics.model import Balances, DataIssue
from ccanalytics.settings import Settings, parse_settings
from ccanalytics.units import DAY_MS, iso_utc, parse_now, usdc_text

if TYPE_CHECKING:
    import narwhals as nw

    from ccanalytics.fleet.engines import Engine

__all__ = ["LakeTallies", "cut_day", "fleet_snapshot", "tally_lake"]

ROLES = formulas.ROLES
SMALL_TABLES = ("events", "apis", "balance_snapshots", "backups")
_SUMS = {
    "calls": pl.Int64,
    "success": pl.Int64,
    "latency_sum": pl.Float64,
    "latency_n": pl.Int64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
}
ROLLUP_SCHEMAS = {
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
NO_CHAIN_NOTE = "the fleet does not read chains: balances are the lake's latest balance snapshot"


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


# -- assembling -------------------------------------------------------------


def _by_node(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {key[0]: part for key, part in frame.partition_by("node", as_dict=True, include_key=False).items()}


def _shaped(frame: pl.DataFrame | None, like: pl.DataFrame) -> pl.DataFrame:
    """A frame with exactly the columns and dtypes of ``like`` (an engine may widen integers)."""
    if frame is None:
        return like.clear()
    return frame.select(like.columns).cast(dict(like.schema))  # type: ignore[arg-type]


def _totals(
    tallies: pl.DataFrame | None, names: pl.DataFrame | None, sketch: pl.DataFrame | None, firsts: pl.DataFrame | None
) -> Totals:
    empty = Totals.empty()
    return Totals(
        tallies=_shaped(tallies, empty.tallies),
        names=_shaped(names, empty.names),
        issues=empty.issues,
        sketch=_shaped(sketch, empty.sketch),
    )


def _seen(firsts: pl.DataFrame | None) -> FirstSeen:
    """The first seller calls before the cut, as the ledger keeps them (``consumers.FirstSeen``)."""
    return FirstSeen.of_firsts(_shaped(firsts, pl.DataFrame(schema=ROLLUP_SCHEMAS["firsts"])))


def _horizon(now: int, reach: int) -> int:
    """The cut's first millisecond: the UTC midnight of ``cut_day``."""
    return (now - reach - DAY_MS) // DAY_MS * DAY_MS


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


_ISSUES = pl.DataFrame(schema={"table": pl.String, "rule": pl.String, "rows": pl.Int64})


def _recent_rows(frame: pl.DataFrame | None) -> pl.DataFrame:
    """Recent calls as the ledger holds them: its columns, valid (a null ``rule``)."""
    like = pl.DataFrame(schema=RECENT_SCHEMA)
    if frame is None:
        return like
    return frame.with_columns(rule=pl.lit(None, pl.String)).select(like.columns).cast(RECENT_SCHEMA)  # type: ignore[arg-type]


def _node_snapshot(
    node: _Node,
    settled: Totals,
    recent: pl.DataFrame,
    issues: pl.DataFrame,
    now: int,
    events: int,
    range_name: str | None,
    seen: FirstSeen,
    horizon: int,
) -> Snapshot:
    """The node's snapshot, by the code ``ccanalytics snapshot`` runs on its store (``compute.compute``)."""
    present = settled.plus(recent)
    calls_issues = issues.filter(pl.col("table") == "calls").select("rule", "rows")
    facts = table_facts(node.small, now, events_limit=events)
    facts = replace(
        facts, issues={t: _ordered(t, issues.filter(pl.col("table") == t).select("rule", "rows")) for t in SMALL_TABLES}
    )
    return compute(
        now=now,
        settings=node.settings,
        calls=recent.lazy(),
        totals=replace(present, issues=calls_issues),
        facts=facts,
        apis=node.small["apis"],
        shape_issues={},
        setting_issues=node.setting_issues,
        balances=Balances(note=NO_CHAIN_NOTE) if node.rpc_url else None,
        balance_snapshots=node.small["balance_snapshots"],
        range_name=range_name,
        seen=seen,
        horizon=horizon,
    )


def _fleet(
    nodes: list[_Node],
    snaps: dict[str, Snapshot],
    t: LakeTallies,
    now: int,
    timezone: str,
    range_name: str | None,
    horizon: int,
) -> dict[str, Any]:
    """The fleet's figures: the snapshot of one store holding every node's calls, plus rankings.

    Request ids are unique per node only: the fleet knows a call as ``NODE/request_id``.
    """
    prefixed = pl.concat_str("node", pl.lit("/"), "request_id")
    settled = _totals(
        formulas.merge_tallies(t.tallies.lazy()).collect(),
        formulas.latest_names(t.names.lazy().with_columns(request_id=prefixed)).collect(),
        merge_sketches(t.sketch.lazy()).collect(),
        None,
    )
    seen = _seen(t.firsts.group_by("consumer", "api_id").agg(pl.col("ts_ms").min()))
    recent = _recent_rows(t.recent.with_columns(request_id=prefixed))
    apis = pl.concat([n.small["apis"] for n in nodes])  # an API registered by several nodes: the first node's name
    empty = {table: _empty_small(table).with_columns(rule=pl.lit(None, pl.String)) for table in SMALL_TABLES}
    facts = replace(table_facts(empty, now, events_limit=0), has_apis=apis.height > 0)
    union = compute(
        now=now,
        settings=Settings(timezone=timezone),
        calls=recent.lazy(),
        totals=settled.plus(recent),
        facts=facts,
        apis=apis,
        shape_issues={},
        setting_issues=[],
        range_name=range_name,
        seen=seen,
        horizon=horizon,
    )
    snap = union.to_dict()
    # The seller's all-time figures too (a store's dashboard has no card for them; a fleet's page does).
    snap["seller"]["total_calls"] = union.seller.total_calls
    snap["seller"]["total_revenue_usdc"] = usdc_text(union.seller.total_money)
    spread = pl.concat([t.tallies.select("node", "role", "api_id"), t.recent.select("node", "role", "api_id")])
    spread = spread.group_by("role", "api_id").agg(nodes=pl.col("node").n_unique().cast(pl.Int64))
    for role in ROLES:
        mine = spread.filter(pl.col("role") == role)
        counts = dict(zip(mine["api_id"].to_list(), mine["nodes"].to_list(), strict=True))
        for row in snap[role]["breakdown"]:
            row["nodes"] = counts.get(row["api_id"], 0)
    issues: dict[tuple[str, str], int] = {}
    for s in snaps.values():
        for issue in s.data_issues:
            issues[(issue.table, issue.rule)] = issues.get((issue.table, issue.rule), 0) + issue.rows
    fleet = {key: snap[key] for key in ("now", "timezone", "mode", "buyer", "seller")}
    return {
        **fleet,
        "nodes": len(nodes),
        "rankings": _rankings(snaps),
        "data_issues": [{"table": k[0], "rule": k[1], "rows": v} for k, v in issues.items()],
        **({"view": snap["view"]} if range_name is not None else {}),
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
    range_name: str | None = None,
) -> dict[str, Any]:
    """The fleet JSON of fleet.md: ``nodes`` (each node's snapshot) and ``fleet``.

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> from ccanalytics.fleet.lake import export
    >>> folder = tempfile.mkdtemp()
    >>> create_store(os.path.join(folder, "a.db"))
    >>> _ = export(os.path.join(folder, "a.db"), os.path.join(folder, "lake"))
    >>> result = fleet_snapshot(os.path.join(folder, "lake"), now="2026-11-25T12:00:00Z")
    >>> list(result["nodes"]), result["fleet"]["buyer"]["total_calls"]
    (['a'], 0)
    """
    from ccanalytics.fleet.engines import PolarsEngine

    lake = Path(lake)
    if not lake.is_dir():
        raise CCError(f"{lake}: no such folder")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CCError(f"--tz {timezone!r} is not a known time zone") from None
    if range_name is not None and range_name not in RANGES:
        raise CCError(f"--range must be one of {', '.join(RANGES)}")
    try:
        now_ms = parse_now(now)
    except ValueError as exc:
        raise CCError(str(exc)) from None
    engine = engine or PolarsEngine()
    nodes = _nodes(lake)
    reach = REACH_MS if range_name is None else max(REACH_MS, 2 * RANGES[range_name].length_ms)
    t = tally_lake(engine, lake, now_ms, reach)
    horizon = _horizon(now_ms, reach)
    parts = {name: _by_node(getattr(t, name)) for name in ("tallies", "names", "sketch", "firsts", "recent")}
    issues = _issues_at(lake, now_ms)
    snaps = {}
    for n in nodes:
        settled = _totals(*(parts[name].get(n.name) for name in ("tallies", "names", "sketch", "firsts")))
        recent = _recent_rows(parts["recent"].get(n.name))
        seen = _seen(parts["firsts"].get(n.name))
        node_issues = issues.get(n.name, _ISSUES)
        snaps[n.name] = _node_snapshot(n, settled, recent, node_issues, now_ms, events, range_name, seen, horizon)
    return {
        "now": iso_utc(now_ms),
        "engine": engine.name,
        "nodes": {name: s.to_dict() for name, s in snaps.items()},
        "fleet": _fleet(nodes, snaps, t, now_ms, timezone, range_name, horizon),
    }
