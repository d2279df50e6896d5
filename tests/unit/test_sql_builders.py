"""The SQL builders, on hostile names: ``Column.expression``, ``Source.select_sql``, ``Source.states``.

data-contract.md: names are case-insensitive and "a column name with any
characters in it is quoted correctly"; values are judged by their storage
class.  One table of names, run through every builder against a real SQLite.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from ccanalytics.contract import DDL, TABLES, quote_name
from ccanalytics.store.sqlite import Source

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

HOSTILE = [
    'a"b',
    '"',
    '""',
    "'",
    "a'b",
    "x; DROP TABLE calls; --",
    "select",
    "from",
    "ts ms",
    "[bracket]",
    "`tick`",
    "--",
    "/*",
    "ünïcödé",
    "emoji 💸",
    "a\tb",
    "?",
    ":name",
    "$1",
    "%s",
    "quote(x)",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_quote_name_round_trips_through_sqlite(name: str) -> None:
    con = sqlite3.connect(":memory:")
    con.execute(f"CREATE TABLE t ({quote_name(name)} INTEGER)")
    assert [row[1] for row in con.execute("PRAGMA table_info(t)")] == [name]


# (table, column, values stored, clean values expected): what each kind of column makes of each storage class.
CLEANING = [
    ("calls", "ts_ms", [5, -7, None, 2.5, "5", b"5"], [5, -7, None, None, None, None]),
    ("calls", "role", ["buyer", None, 3, 1.5, b"buyer"], ["buyer", None, None, None, None]),
    ("calls", "latency_ms", [12, 2.5, None, "9", b"9"], [12.0, 2.5, None, -1.0, -1.0]),
    ("calls", "price_micro", [1000, 0, None, 1.0, "1000"], [1000, 0, None, None, None]),
    ("balance_snapshots", "eth_wei", ["42", 42, None, 4.2, b"42"], ["42", "42", None, None, None]),
    ("backups", "size_bytes", [10, None, "10", 1.5], [10, None, -1, -1]),
]


@pytest.mark.parametrize("name", ["{column}", "{COLUMN}", *HOSTILE])
@pytest.mark.parametrize(("table", "column", "stored", "expected"), CLEANING)
def test_column_expression_cleans_by_storage_class_under_any_name(
    name: str, table: str, column: str, stored: list, expected: list
) -> None:
    actual = name.format(column=column, COLUMN=column.upper())
    contract = next(c for c in TABLES[table].columns if c.name == column)
    con = sqlite3.connect(":memory:")
    con.execute(f"CREATE TABLE t ({quote_name(actual)})")  # no type: every value keeps its storage class
    con.executemany("INSERT INTO t VALUES (?)", [(v,) for v in stored])
    rows = con.execute(f"SELECT {contract.expression(actual)} FROM t ORDER BY rowid").fetchall()
    assert [r[0] for r in rows] == expected


def test_column_expression_of_a_missing_column_is_its_default() -> None:
    by_name = {c.name: c for c in TABLES["calls"].columns}
    con = sqlite3.connect(":memory:")
    assert con.execute(f"SELECT {by_name['price_micro'].expression(None)}").fetchone() == (0,)
    assert con.execute(f"SELECT {by_name['consumer'].expression(None)}").fetchone() == (None,)


def _store(path: Path, extra: str | None, upper: bool = False) -> Path:
    """A contract store with two calls; ``extra`` adds a column of that name to every table; ``upper`` capitalises."""
    con = sqlite3.connect(path)
    con.executescript(DDL)
    if extra is not None:
        for table in TABLES:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_name(extra)} TEXT DEFAULT 'x'")
    columns = "request_id, ts_ms, role, api_id, status_code, latency_ms, price_micro"
    con.executemany(
        f"INSERT INTO calls ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [("r1", 1_000, "buyer", "a", 200, 12.5, 1_000), ("r2", 2_000, "seller", "b", 502, None, 2_000)],
    )
    con.execute("INSERT INTO events (ts_ms, type, severity, message) VALUES (1500, 'startup', 'info', 'up')")
    if upper:
        for table in TABLES:
            con.execute(f"ALTER TABLE {table} RENAME TO {table.upper()}_tmp")
            con.execute(f"ALTER TABLE {table.upper()}_tmp RENAME TO {table.upper()}")
            for (column,) in con.execute(f"SELECT name FROM pragma_table_info('{table.upper()}')").fetchall():
                if column != extra:
                    con.execute(f"ALTER TABLE {table.upper()} RENAME COLUMN {column} TO {column.upper()}")
    con.commit()
    con.close()
    return path


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return Source(_store(tmp_path_factory.mktemp("plain") / "cc.db", None))


def _rows(source: Source, table: str) -> pl.DataFrame:
    return source.read(table).drop("_rid")


@pytest.mark.parametrize("upper", [False, True], ids=["lower", "UPPER"])
@pytest.mark.parametrize("extra", HOSTILE)
def test_select_sql_reads_the_same_clean_rows_beside_a_hostile_column(
    tmp_path: Path, plain: Source, extra: str, upper: bool
) -> None:
    source = Source(_store(tmp_path / "cc.db", extra, upper))
    for table in ("calls", "events"):
        assert _rows(source, table).equals(_rows(plain, table)), table
        sql = source.select_sql(table, texts_from=1_500)  # the spared-texts branch quotes too
        assert len(source.con.execute(sql).fetchall()) == _rows(plain, table).height


@pytest.mark.parametrize("extra", HOSTILE)
def test_states_see_the_last_row_whatever_the_columns_are_named(tmp_path: Path, extra: str) -> None:
    path = _store(tmp_path / "cc.db", extra)
    before = Source(path).states(("calls", "events", "apis"))
    assert before["calls"][:2] == (2, 2) and before["apis"] == (0, None, None)
    con = sqlite3.connect(path)
    con.execute(f"UPDATE calls SET {quote_name(extra)} = 'changed' WHERE rowid = 2")
    con.commit()
    con.close()
    after = Source(path).states(("calls", "events", "apis"))
    assert after["calls"][:2] == (2, 2) and after["calls"][2] != before["calls"][2]  # the rewrite is seen
    assert after["events"] == before["events"]
