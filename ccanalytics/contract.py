"""The store's data contract: tables, column types, the rules a row must keep.

This module is the single place that knows ``../shared/spec/data-contract.md``.
Readers (``store``), writers (``demo``, ``ingest``) and tests all use it.

A table's rows reach polars *clean*: every column has the contract's dtype, and
a value of the wrong type arrives as ``null`` (or ``NaN`` for ``latency_ms``,
where ``null`` is a legal value).  The rules below then only compare values,
so the same rules serve rows read from SQLite and rows read from a CSV file.
Each bad row is reported under the **first** rule it breaks, so the counts of
``data_issues`` add up to the number of rows left out.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.schema import Column, Table, first_broken_rule, quote_name
from ccanalytics.settings import USDC_BY_CHAIN

if TYPE_CHECKING:
    from pathlib import Path


__all__ = [
    "DDL",
    "INVALID_TEXT",
    "RECONCILIATIONS",
    "RECONCILIATIONS_DDL",
    "RECONCILIATION_COLUMNS",
    "SETTINGS",
    "STORE_TABLES",
    "TABLES",
    "USDC_BY_CHAIN",
    "Column",
    "Table",
    "create_store",
    "first_broken_rule",
    "quote_name",
]


def create_store(path: str | Path, *, wal: bool = True) -> None:
    """Create an empty store with the contract's schema (tables that exist are kept).

    Examples
    --------
    >>> import tempfile, os, sqlite3
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> create_store(path)
    >>> sorted(r[0] for r in sqlite3.connect(path).execute(
    ...     "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"))
    ['apis', 'backups', 'balance_snapshots', 'calls', 'events', 'settings']
    """
    con = sqlite3.connect(path)
    try:
        if wal:
            con.execute("PRAGMA journal_mode=WAL")
        con.executescript(DDL)
        con.commit()
    finally:
        con.close()


# What a strict text column holds when the store's text is not valid UTF-8.
INVALID_TEXT = "\x00\ufffdinvalid UTF-8"


_TEXT = ("text",)
_INT = ("integer",)
_NUM = ("integer", "real")


def _missing_text(name: str) -> pl.Expr:
    col = pl.col(name)
    return col.is_null() | (col == "")


def _not_amount(name: str) -> pl.Expr:
    col = pl.col(name)
    return col.is_null() | (col < 0)


def _not_flag(name: str) -> pl.Expr:
    return ~pl.col(name).is_in([0, 1]).fill_null(False)


def _invalid_text(name: str) -> tuple[str, pl.Expr]:
    return (f"{name} is not valid text", pl.col(name) == INVALID_TEXT)


def _out_of_range(name: str) -> tuple[str, pl.Expr]:
    # Years 1-9999 (units.MIN_TS_MS, MAX_TS_MS): what ISO-8601 can show.
    return (f"{name} is out of range", ~pl.col(name).is_between(-62_135_596_800_000, 253_402_300_799_999))


CALLS = Table(
    "calls",
    (
        Column("request_id", pl.String, _TEXT, strict=True, primary_key=True),
        Column("ts_ms", pl.Int64, _INT),
        Column("role", pl.String, _TEXT, strict=True),
        Column("api_id", pl.String, _TEXT, strict=True),
        Column("api_name", pl.String, _TEXT, required=False),
        Column("status_code", pl.Int64, _INT),
        Column("latency_ms", pl.Float64, _NUM, required=False, bad="-1.0"),
        Column("price_micro", pl.Int64, _INT, required=False, default=0),
        Column("revenue_micro", pl.Int64, _INT, required=False, default=0),
        Column("demo", pl.Int64, _INT, required=False, default=0),
        # Never makes a row bad; read with the judged columns because views count consumers.
        Column("consumer", pl.String, _TEXT, required=False),
    ),
    (
        ("request_id is missing", _missing_text("request_id")),
        _invalid_text("request_id"),
        ("ts_ms is not an integer", pl.col("ts_ms").is_null()),
        _invalid_text("role"),
        ("role is not buyer or seller", ~pl.col("role").is_in(["buyer", "seller"]).fill_null(False)),
        ("api_id is missing", _missing_text("api_id")),
        _invalid_text("api_id"),
        ("status_code outside 100..599", ~pl.col("status_code").is_between(100, 599).fill_null(False)),
        (
            "latency_ms is negative or not a number",
            (pl.col("latency_ms") < 0) | pl.col("latency_ms").is_nan() | pl.col("latency_ms").is_infinite(),
        ),
        ("price_micro is negative or not an integer", _not_amount("price_micro")),
        ("revenue_micro is negative or not an integer", _not_amount("revenue_micro")),
        ("demo is not 0 or 1", _not_flag("demo")),
    ),
    descriptive=(
        Column("tx_hash", pl.String, _TEXT, required=False),
        Column("delivery", pl.String, _TEXT, required=False),
    ),
    order=(
        *("request_id", "ts_ms", "role", "api_id", "api_name", "status_code", "latency_ms"),
        *("price_micro", "revenue_micro", "demo", "tx_hash", "delivery", "consumer"),
    ),
)

EVENTS = Table(
    "events",
    (
        Column("id", pl.Int64, _INT, primary_key=True, autoincrement=True, not_null=False),
        Column("ts_ms", pl.Int64, _INT),
        Column("type", pl.String, _TEXT),
        Column("severity", pl.String, _TEXT),
        Column("message", pl.String, _TEXT),
    ),
    (
        ("id is not an integer", pl.col("id").is_null()),
        ("ts_ms is not an integer", pl.col("ts_ms").is_null()),
        ("type is missing", _missing_text("type")),
        (
            "severity is not info, warning or error",
            ~pl.col("severity").is_in(["info", "warning", "error"]).fill_null(False),
        ),
        ("message is missing", pl.col("message").is_null()),
    ),
)

APIS = Table(
    "apis",
    (
        Column("api_id", pl.String, _TEXT, primary_key=True),
        Column("name", pl.String, _TEXT),
        Column("price_micro", pl.Int64, _INT),
        Column("registered_ms", pl.Int64, _INT),
        Column("active", pl.Int64, _INT, required=False, default=1),
    ),
    (
        ("api_id is missing", _missing_text("api_id")),
        ("name is missing", pl.col("name").is_null()),
        ("price_micro is negative or not an integer", _not_amount("price_micro")),
        ("registered_ms is not an integer", pl.col("registered_ms").is_null()),
        ("active is not 0 or 1", _not_flag("active")),
    ),
    has_ts=False,
)

BALANCE_SNAPSHOTS = Table(
    "balance_snapshots",
    (
        Column("ts_ms", pl.Int64, _INT),
        Column("usdc_micro", pl.Int64, _INT),
        # ETH can exceed 64 bits: kept as its decimal digits.
        Column("eth_wei", pl.String, ("text", "integer")),
    ),
    (
        ("ts_ms is not an integer", pl.col("ts_ms").is_null()),
        ("usdc_micro is negative or not an integer", _not_amount("usdc_micro")),
        (
            "eth_wei is not a decimal number",
            ~pl.col("eth_wei").cast(pl.String).str.contains(r"^[0-9]{1,78}$").fill_null(False),
        ),
    ),
)

BACKUPS = Table(
    "backups",
    (
        Column("ts_ms", pl.Int64, _INT),
        Column("file", pl.String, _TEXT, required=False),
        Column("size_bytes", pl.Int64, _INT, required=False, bad="-1"),
    ),
    (
        ("ts_ms is not an integer", pl.col("ts_ms").is_null()),
        ("size_bytes is negative or not an integer", pl.col("size_bytes") < 0),
    ),
)


def _with_time_range(table: Table) -> Table:
    """A table as readers judge it: a ``ts_ms`` outside years 1-9999 makes the row bad.

    Writers (``ingest``) store any integer the contract allows; readers, who
    show times as ISO-8601, cannot use those times (data-contract.md).
    """
    if not table.has_ts:
        return table
    rules = list(table.rules)
    at = [rule for rule, _ in rules].index("ts_ms is not an integer") + 1
    rules.insert(at, _out_of_range("ts_ms"))
    return replace(table, rules=tuple(rules))


TABLES: dict[str, Table] = {t.name: _with_time_range(t) for t in (CALLS, EVENTS, APIS, BALANCE_SNAPSHOTS, BACKUPS)}
"""The tables whose rows are judged by rules, with the readers' time range."""

# Key/value text: ``settings.parse_settings`` judges each value, not each row.
SETTINGS = Table(
    "settings",
    (Column("key", pl.String, _TEXT, primary_key=True), Column("value", pl.String, _TEXT, not_null=False)),
    (),
    has_ts=False,
)

STORE_TABLES: dict[str, Table] = {**TABLES, SETTINGS.name: SETTINGS}
"""Every table ``create_store`` makes, in its order: the judged ones and ``settings``."""

DDL = "".join(f"\n{table.ddl};" for table in (CALLS, EVENTS, APIS, BALANCE_SNAPSHOTS, BACKUPS, SETTINGS)) + "\n"
"""The store's schema: what ``create_store`` runs."""


# -- reconciliations (written by `ccanalytics reconcile`) -------------------------

RECONCILIATIONS = Table(
    "reconciliations",
    tuple(
        Column(name, pl.Int64, _INT)
        for name in (
            "ts_ms",
            "from_block",
            "to_block",
            "matched",
            "missing",
            "unrecorded",
            "matched_micro",
            "missing_micro",
            "unrecorded_micro",
        )
    ),
    (),
)
RECONCILIATIONS_DDL = f"\n{RECONCILIATIONS.ddl}\n"
RECONCILIATION_COLUMNS = tuple(c.name for c in RECONCILIATIONS.columns)
