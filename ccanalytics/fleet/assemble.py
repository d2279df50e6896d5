"""Step 2 of ``ccanalytics fleet``: each node's snapshot, by the very code a store runs (``compute.compute``)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.fleet.nodes import SMALL_TABLES, Node
from ccanalytics.fleet.reading import ROLLUP_SCHEMAS
from ccanalytics.metrics.compute import compute, table_facts
from ccanalytics.metrics.consumers import FirstSeen
from ccanalytics.metrics.history import HISTORY_MIN_MS
from ccanalytics.metrics.ledger import RECENT_SCHEMA, Ledger, Totals
from ccanalytics.metrics.views import RANGES
from ccanalytics.model import Balances, DataIssue

if TYPE_CHECKING:
    from typing import Any

    from ccanalytics.metrics.snapshot import Snapshot
    from ccanalytics.settings import Settings

__all__ = [
    "NO_CHAIN_NOTE",
    "first_seen",
    "history_view",
    "node_snapshot",
    "ordered_issues",
    "recent_rows",
    "settled_totals",
    "shaped",
]

NO_CHAIN_NOTE = "the fleet does not read chains: balances are the lake's latest balance snapshot"


def shaped(frame: pl.DataFrame | None, like: pl.DataFrame) -> pl.DataFrame:
    """A frame with exactly the columns and dtypes of ``like`` (an engine may widen integers)."""
    if frame is None:
        return like.clear()
    return frame.select(like.columns).cast(like.schema)


def settled_totals(
    tallies: pl.DataFrame | None, names: pl.DataFrame | None, sketch: pl.DataFrame | None, firsts: pl.DataFrame | None
) -> Totals:
    """The totals of the days before the cut, as the ledger keeps them, from the engine's frames (``None``: none)."""
    empty = Totals.empty()
    return Totals(
        tallies=shaped(tallies, empty.tallies),
        names=shaped(names, empty.names),
        issues=empty.issues,
        sketch=shaped(sketch, empty.sketch),
    )


def first_seen(firsts: pl.DataFrame | None) -> FirstSeen:
    """The first seller calls before the cut, as the ledger keeps them (``consumers.FirstSeen``)."""
    return FirstSeen.of_firsts(shaped(firsts, pl.DataFrame(schema=ROLLUP_SCHEMAS["firsts"])))


def ordered_issues(table: str, counts: pl.DataFrame) -> list[DataIssue]:
    """Issues of a table in the contract's order of rules (a rule outside it, e.g. a missing column, first)."""
    order = {rule: i for i, (rule, _) in enumerate(TABLES[table].rules)}
    found = dict(zip(counts["rule"].to_list(), counts["rows"].to_list(), strict=True))
    return [
        DataIssue(table, rule, found[rule]) for rule in sorted(found, key=lambda r: order.get(r, -1)) if found[rule]
    ]


def recent_rows(frame: pl.DataFrame | None) -> pl.DataFrame:
    """Recent calls as the ledger holds them: its columns, valid (a null ``rule``)."""
    like = pl.DataFrame(schema=RECENT_SCHEMA)
    if frame is None:
        return like
    return frame.with_columns(rule=pl.lit(None, pl.String)).select(like.columns).cast(RECENT_SCHEMA)  # type: ignore[arg-type]


def history_view(
    now: int,
    settings: Settings,
    range_name: str | None,
    ledger: tuple[Totals, pl.DataFrame, FirstSeen, int],
    names: pl.LazyFrame,
    apis: pl.DataFrame,
) -> dict[str, Any] | None:
    """A kept range's ``view`` as a store computes it (``Ledger.view_at``: its history), or ``None`` for the others.

    ``ledger`` is the settled totals, the recent rows, the first-seen consumers and the horizon.
    """
    if range_name is None or RANGES[range_name].length_ms < HISTORY_MIN_MS:  # 1h: computed from the rows
        return None
    settled, recent, seen, horizon = ledger
    kept = Ledger(horizon=horizon, settled=settled, recent=recent, seen=seen.merged() if seen.pending else seen)
    good = apis.lazy().filter(pl.col("rule").is_null())
    return kept.view_at(now, settings, range_name, None, names, good)[1]


def node_snapshot(
    node: Node,
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
        facts,
        issues={t: ordered_issues(t, issues.filter(pl.col("table") == t).select("rule", "rows")) for t in SMALL_TABLES},
    )
    view = history_view(
        now, node.settings, range_name, (settled, recent, seen, horizon), present.names.lazy(), node.small["apis"]
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
        view=view,
    )
