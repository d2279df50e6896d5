"""The fleet's nodes as the lake holds them: settings, small tables and bad-row counts per node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.errors import CCError
from ccanalytics.settings import Settings, parse_settings

if TYPE_CHECKING:
    from pathlib import Path

    pass

__all__ = ["NO_ISSUES", "SMALL_TABLES", "Node", "by_node", "empty_small", "issues_at", "read_nodes", "read_small"]

SMALL_TABLES = ("events", "apis", "balance_snapshots", "backups")


def by_node(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """A frame with a ``node`` column as one frame per node, without that column."""
    return {key[0]: part for key, part in frame.partition_by("node", as_dict=True, include_key=False).items()}


def read_small(lake: Path, dataset: str) -> pl.DataFrame | None:
    """A small table of every node (``DATASET/node=NAME/data.parquet``) with its ``node``; ``None`` when none has it."""
    files = sorted((lake / dataset).glob("node=*/data.parquet"))
    if not files:
        return None
    return pl.read_parquet(
        lake / dataset / "node=*" / "data.parquet", hive_partitioning=True, hive_schema={"node": pl.String}
    )


def empty_small(table: str) -> pl.DataFrame:
    """A small table with no row, as a store's reader returns it (``_rid`` and the contract's columns)."""
    return pl.DataFrame(schema={"_rid": pl.Int64, **TABLES[table].schema})


@dataclass(frozen=True)
class Node:
    """A node of the lake: its settings (and their issues) and its small tables."""

    name: str
    settings: Settings
    setting_issues: list[str]
    rpc_url: bool
    small: dict[str, pl.DataFrame]  # the small tables' valid rows, with a null `rule`


def read_nodes(lake: Path) -> list[Node]:
    """The lake's nodes, by name.

    Raises
    ------
    CCError
        The lake holds no node.
    """
    # A node is in the fleet once an export of it has run to the end (its mark in nodes/).
    names = sorted(p.name[5:] for p in (lake / "nodes").glob("node=*") if (p / "data.parquet").is_file())
    if not names:
        raise CCError(f"{lake}: holds no nodes (write some with `ccanalytics export --db PATH --to {lake}`)")
    settings = read_small(lake, "settings")
    pairs = by_node(settings) if settings is not None else {}
    small = {}
    for table in SMALL_TABLES:
        frame = read_small(lake, table)
        small[table] = by_node(frame) if frame is not None else {}
    nodes = []
    for name in names:
        kv = pairs.get(name, pl.DataFrame(schema={"key": pl.String, "value": pl.String}))
        raw = dict(zip(kv["key"].to_list(), kv["value"].to_list(), strict=True))
        parsed, issues = parse_settings(raw)
        tables = {}
        for table in SMALL_TABLES:
            frame = small[table].get(name, empty_small(table))
            tables[table] = frame.with_columns(rule=pl.lit(None, pl.String))
        nodes.append(Node(name, parsed, issues, bool(raw.get("rpc_url")), tables))
    return nodes


def issues_at(lake: Path, now: int) -> dict[str, pl.DataFrame]:
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
    return by_node(counts)


NO_ISSUES = pl.DataFrame(schema={"table": pl.String, "rule": pl.String, "rows": pl.Int64})
