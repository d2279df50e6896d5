"""metrics/compute.py's small tables (metrics.md: balances, uptime, backups, events, data issues) on literal rows."""

from __future__ import annotations

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.metrics.compute import table_facts, table_issues
from ccanalytics.metrics.runway import gas_burn
from ccanalytics.model import Balances, DataIssue
from ccanalytics.units import DAY_MS, WEEK_MS

NOW = 1_000_000


def frame(table: str, *rows: dict) -> pl.DataFrame:
    """Clean rows of a small table, with ``_rid`` in row order and their ``rule`` (None: good)."""
    schema = {"_rid": pl.Int64, **TABLES[table].schema, "rule": pl.String}
    return pl.DataFrame([{"_rid": i + 1, "rule": None} | r for i, r in enumerate(rows)], schema=schema)


def event(i: int, ts: int | None, type_: str = "x", rule: str | None = None) -> dict:
    return {"id": i, "ts_ms": ts, "type": type_, "severity": "info", "message": f"m{i}", "rule": rule}


TABLES_AT = {
    "events": frame(
        "events",
        event(1, NOW - 500, "startup"),
        event(2, NOW - 100, "startup"),
        event(3, NOW - 100),
        event(4, NOW, "startup"),  # now: not yet
        event(5, None, rule="ts_ms is not an integer"),
        event(6, NOW + 50, rule="severity is not info, warning or error"),  # a future bad row: not yet
    ),
    "apis": frame("apis"),
    "balance_snapshots": frame(
        "balance_snapshots",
        {"ts_ms": NOW - 10, "usdc_micro": 5, "eth_wei": "7"},
        {"ts_ms": NOW - 10, "usdc_micro": 6, "eth_wei": "8"},  # equal times: the later row
        {"ts_ms": NOW - 5, "usdc_micro": -1, "eth_wei": "9", "rule": "usdc_micro is negative or not an integer"},
        {"ts_ms": NOW + 1, "usdc_micro": 0, "eth_wei": "0"},
    ),
    "backups": frame("backups", {"ts_ms": NOW - 300, "file": "b", "size_bytes": 1}),
}


def test_the_small_tables_facts_at_now() -> None:
    facts = table_facts(TABLES_AT, NOW, events_limit=2)
    assert facts.events["id"].to_list() == [3, 2]  # newest first, higher id first on equal times, 2 of them
    assert (facts.startup_ms, facts.last_backup_ms, facts.has_apis) == (NOW - 100, NOW - 300, False)
    assert facts.balance == Balances(usdc_micro=6, eth_wei=8, source="snapshot", as_of_ms=NOW - 10)
    assert facts.issues["events"] == [DataIssue("events", "ts_ms is not an integer", 1)]
    assert facts.issues["balance_snapshots"] == [
        DataIssue("balance_snapshots", "usdc_micro is negative or not an integer", 1)
    ]
    assert (facts.valid_from_ms, facts.valid_until_ms) == (NOW, NOW)  # the startup at now changes them next


def test_the_facts_of_empty_tables() -> None:
    empty = {name: frame(name) for name in ("events", "apis", "balance_snapshots", "backups")}
    facts = table_facts(empty, NOW, events_limit=50)
    assert facts.events.height == 0 and (facts.startup_ms, facts.last_backup_ms) == (None, None)
    assert facts.balance == Balances() and facts.valid_until_ms is None
    assert all(issues == [] for issues in facts.issues.values())


def test_bad_rows_without_a_time_always_count_and_future_ones_not_yet() -> None:
    events = TABLES_AT["events"]
    assert sorted(table_issues("events", events, NOW).collect().rows()) == [("ts_ms is not an integer", 1)]
    assert len(table_issues("events", events, NOW + 51).collect()) == 2


def test_the_facts_keep_the_gas_burnt_until_a_snapshot_leaves_the_week() -> None:
    snaps = frame(
        "balance_snapshots",
        {"ts_ms": NOW - 9 * DAY_MS, "usdc_micro": 1, "eth_wei": "900"},
        {"ts_ms": NOW - 3 * DAY_MS, "usdc_micro": 1, "eth_wei": "700"},
        {"ts_ms": NOW - 2 * DAY_MS, "usdc_micro": 1, "eth_wei": "650"},
        {"ts_ms": NOW - 1, "usdc_micro": 1, "eth_wei": "640", "rule": "usdc_micro is negative or not an integer"},
    )
    tables = {**{name: frame(name) for name in ("events", "apis", "backups")}, "balance_snapshots": snaps}
    facts = table_facts(tables, NOW, events_limit=1)
    good = snaps.filter(pl.col("rule").is_null())
    assert facts.gas == gas_burn(good, NOW)
    # the 3-days-old snapshot leaves the week at its time + 7 d: the facts hold until just before
    assert facts.valid_until_ms == NOW - 3 * DAY_MS + WEEK_MS - 1
    assert gas_burn(good, facts.valid_until_ms) == facts.gas != gas_burn(good, facts.valid_until_ms + 1)
