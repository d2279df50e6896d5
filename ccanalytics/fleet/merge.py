"""Step 3 of ``ccanalytics fleet``: the nodes merged into the fleet, and the nodes ranked.

The fleet is the snapshot of one store holding every node's calls (request ids made ``NODE/request_id``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.fleet.assemble import first_seen, history_view, recent_rows, settled_totals
from ccanalytics.fleet.nodes import SMALL_TABLES, Node, empty_small
from ccanalytics.metrics import formulas
from ccanalytics.metrics.compute import compute, table_facts
from ccanalytics.metrics.sketch import merge_sketches
from ccanalytics.settings import Settings
from ccanalytics.units import usdc_text

if TYPE_CHECKING:
    from ccanalytics.fleet.reading import LakeTallies
    from ccanalytics.metrics.snapshot import Snapshot

    pass

__all__ = ["fleet_figures", "rankings"]

ROLES = formulas.ROLES


def fleet_figures(
    nodes: list[Node],
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
    settled = settled_totals(
        formulas.merge_tallies(t.tallies.lazy()).collect(),
        formulas.latest_names(t.names.lazy().with_columns(request_id=prefixed)).collect(),
        merge_sketches(t.sketch.lazy()).collect(),
        None,
    )
    seen = first_seen(t.firsts.group_by("consumer", "api_id").agg(pl.col("ts_ms").min()))
    recent = recent_rows(t.recent.with_columns(request_id=prefixed))
    apis = pl.concat([n.small["apis"] for n in nodes])  # an API registered by several nodes: the first node's name
    empty = {table: empty_small(table).with_columns(rule=pl.lit(None, pl.String)) for table in SMALL_TABLES}
    facts = replace(table_facts(empty, now, events_limit=0), has_apis=apis.height > 0)
    settings, present = Settings(timezone=timezone), settled.plus(recent)
    view = history_view(now, settings, range_name, (settled, recent, seen, horizon), present.names.lazy(), apis)
    union = compute(
        now=now,
        settings=settings,
        calls=recent.lazy(),
        totals=present,
        facts=facts,
        apis=apis,
        shape_issues={},
        setting_issues=[],
        range_name=range_name,
        seen=seen,
        horizon=horizon,
        view=view,
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
        "rankings": rankings(snaps),
        "data_issues": [{"table": k[0], "rule": k[1], "rows": v} for k, v in issues.items()],
        **({"view": snap["view"]} if range_name is not None else {}),
    }


def rankings(snaps: dict[str, Snapshot]) -> dict[str, list[dict[str, Any]]]:
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
