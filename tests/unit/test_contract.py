"""contract.py against data-contract.md: the tables, the DDL made from them, and the rules a row must keep."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import polars as pl
import pytest

from ccanalytics.contract import DDL, INVALID_TEXT, STORE_TABLES, TABLES, USDC_BY_CHAIN, create_store, first_broken_rule

if TYPE_CHECKING:
    from pathlib import Path

# The contract's columns, table by table (data-contract.md), in the store's order.
COLUMNS = {
    "calls": ["request_id", "ts_ms", "role", "api_id", "api_name", "status_code", "latency_ms", "price_micro",
              "revenue_micro", "demo", "tx_hash", "delivery", "consumer"],
    "events": ["id", "ts_ms", "type", "severity", "message"],
    "apis": ["api_id", "name", "price_micro", "registered_ms", "active"],
    "balance_snapshots": ["ts_ms", "usdc_micro", "eth_wei"],
    "backups": ["ts_ms", "file", "size_bytes"],
    "settings": ["key", "value"],
}  # fmt: skip


def test_create_store_makes_every_table_of_the_contract(tmp_path: Path) -> None:
    path = tmp_path / "cc.db"
    create_store(path)
    create_store(path)  # again: the tables that exist are kept
    con = sqlite3.connect(path)
    for table, columns in COLUMNS.items():
        assert [r[1] for r in con.execute(f"PRAGMA table_info({table})")] == columns, table
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_the_ddl_runs_on_an_empty_database_and_its_defaults_are_the_contracts() -> None:
    con = sqlite3.connect(":memory:")
    con.executescript(DDL)
    con.execute("INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('r', 1, 'buyer', 'a', 200)")
    assert con.execute("SELECT price_micro, revenue_micro, demo, latency_ms FROM calls").fetchone() == (0, 0, 0, None)
    con.execute("INSERT INTO apis (api_id, name, price_micro, registered_ms) VALUES ('a', 'A', 1, 1)")
    assert con.execute("SELECT active FROM apis").fetchone() == (1,)
    with pytest.raises(sqlite3.IntegrityError):  # request_id is the key
        con.execute(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('r', 2, 'seller', 'b', 1)"
        )


def test_the_default_usdc_contracts_by_chain() -> None:
    assert USDC_BY_CHAIN == {
        8453: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        84532: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    }


def test_the_read_tables_are_the_stores_minus_settings() -> None:
    assert set(TABLES) == {"calls", "events", "apis", "balance_snapshots", "backups"}
    assert set(STORE_TABLES) == {*TABLES, "settings"}


GOOD_CALL = {"request_id": "r", "ts_ms": 5, "role": "buyer", "api_id": "a", "api_name": None, "status_code": 200,
             "latency_ms": 1.0, "price_micro": 0, "revenue_micro": 0, "demo": 0, "consumer": None}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({}, None),
        ({"status_code": 100}, None),
        ({"status_code": 599, "latency_ms": None, "demo": 1}, None),  # a null latency is legal
        ({"request_id": ""}, "request_id is missing"),
        ({"request_id": INVALID_TEXT}, "request_id is not valid text"),
        ({"ts_ms": None}, "ts_ms is not an integer"),
        ({"ts_ms": 253_402_300_800_000}, "ts_ms is out of range"),
        ({"role": "reseller"}, "role is not buyer or seller"),
        ({"role": "Buyer"}, "role is not buyer or seller"),
        ({"api_id": None}, "api_id is missing"),
        ({"status_code": 99}, "status_code outside 100..599"),
        ({"status_code": 600}, "status_code outside 100..599"),
        ({"latency_ms": -0.5}, "latency_ms is negative or not a number"),
        ({"latency_ms": float("nan")}, "latency_ms is negative or not a number"),
        ({"latency_ms": float("inf")}, "latency_ms is negative or not a number"),
        ({"price_micro": -1}, "price_micro is negative or not an integer"),
        ({"revenue_micro": None}, "revenue_micro is negative or not an integer"),
        ({"demo": 2}, "demo is not 0 or 1"),
        ({"role": "x", "status_code": 0}, "role is not buyer or seller"),  # the first rule broken is named
    ],
)
def test_a_call_is_reported_under_the_first_rule_it_breaks(change: dict, rule: str | None) -> None:
    row = pl.DataFrame([GOOD_CALL | change], schema=TABLES["calls"].schema)
    assert row.select(first_broken_rule(TABLES["calls"])).item() == rule


@pytest.mark.parametrize(
    ("table", "row", "rule"),
    [
        ("events", {"id": 1, "ts_ms": 1, "type": "startup", "severity": "info", "message": ""}, None),
        ("events", {"id": 1, "ts_ms": 1, "type": "x", "severity": "fatal", "message": "m"},
         "severity is not info, warning or error"),
        ("events", {"id": 1, "ts_ms": 1, "type": "", "severity": "info", "message": "m"}, "type is missing"),
        ("apis", {"api_id": "a", "name": "A", "price_micro": 0, "registered_ms": 0, "active": 1}, None),
        ("apis", {"api_id": "a", "name": "A", "price_micro": 0, "registered_ms": 0, "active": 3},
         "active is not 0 or 1"),
        ("balance_snapshots", {"ts_ms": 1, "usdc_micro": 0, "eth_wei": "9" * 78}, None),
        ("balance_snapshots", {"ts_ms": 1, "usdc_micro": 0, "eth_wei": "9" * 79}, "eth_wei is not a decimal number"),
        ("balance_snapshots", {"ts_ms": 1, "usdc_micro": 0, "eth_wei": "-1"}, "eth_wei is not a decimal number"),
        ("backups", {"ts_ms": 1, "file": None, "size_bytes": None}, None),
        ("backups", {"ts_ms": 1, "file": "f", "size_bytes": -1}, "size_bytes is negative or not an integer"),
    ],
)  # fmt: skip
def test_the_rules_of_the_other_tables(table: str, row: dict, rule: str | None) -> None:
    frame = pl.DataFrame([row], schema=TABLES[table].schema)
    assert frame.select(first_broken_rule(TABLES[table])).item() == rule


def test_no_rows_break_no_rule() -> None:
    for table in TABLES.values():
        assert pl.DataFrame(schema=table.schema).select(first_broken_rule(table)).height == 0
