"""store/reconciliation.py: the latest valid reconciliation before now, whatever the table holds."""

from __future__ import annotations

import sqlite3

import pytest

from ccanalytics.contract import RECONCILIATIONS_DDL
from ccanalytics.store.reconciliation import latest_reconciliation


def table(*rows: tuple) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.execute(RECONCILIATIONS_DDL)
    con.executemany("INSERT INTO reconciliations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return con


def test_the_latest_before_now_with_money_as_text() -> None:
    con = table(
        (5, 0, 99, 3, 1, 0, 3_000, 1_000, 0), (7, 100, 199, 2, 0, 1, 2_000, 0, 2**63 - 1), (9, 0, 0, 0, 0, 0, 0, 0, 0)
    )
    assert latest_reconciliation(con, 9) == {
        "ts": "1970-01-01T00:00:00.007Z",
        "from_block": 100,
        "to_block": 199,
        "matched": 2,
        "missing": 0,
        "unrecorded": 1,
        "matched_usdc": "0.002000",
        "missing_usdc": "0.000000",
        "unrecorded_usdc": "9223372036854.775807",
    }


def test_equal_times_the_later_row_wins() -> None:
    con = table((5, 0, 1, 1, 0, 0, 0, 0, 0), (5, 0, 2, 2, 0, 0, 0, 0, 0))
    assert latest_reconciliation(con, 6)["to_block"] == 2  # type: ignore[index]


@pytest.mark.parametrize(
    "bad",
    [
        (5, 0, 1, -1, 0, 0, 0, 0, 0),
        (5, 0, 1, "x", 0, 0, 0, 0, 0),
        (5, 0, 1, 1.5, 0, 0, 0, 0, 0),
        ("5 pm", 0, 1, 1, 0, 0, 0, 0, 0),  # "5" alone would be stored as the integer 5
    ],
)
def test_a_bad_row_is_passed_over(bad: tuple) -> None:
    assert latest_reconciliation(table((3, 0, 9, 1, 0, 0, 0, 0, 0), bad), 10)["ts"] == "1970-01-01T00:00:00.003Z"  # type: ignore[index]


def test_no_table_no_rows_or_a_broken_view_is_none() -> None:
    assert latest_reconciliation(sqlite3.connect(":memory:"), 10) is None
    assert latest_reconciliation(table(), 10) is None
    con = sqlite3.connect(":memory:")
    con.execute("CREATE VIEW reconciliations AS SELECT * FROM gone")
    assert latest_reconciliation(con, 10) is None


def test_a_table_lacking_columns_is_none() -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE reconciliations (ts_ms)")
    con.execute("INSERT INTO reconciliations VALUES (5)")
    assert latest_reconciliation(con, 10) is None


def test_a_table_without_rowids_is_read_too() -> None:
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE TABLE reconciliations (ts_ms PRIMARY KEY, from_block, to_block, matched, missing, unrecorded, "
        "matched_micro, missing_micro, unrecorded_micro) WITHOUT ROWID"
    )
    con.execute("INSERT INTO reconciliations VALUES (5, 0, 99, 3, 1, 0, 3000000, 1000000, 0)")
    assert latest_reconciliation(con, 10)["matched_usdc"] == "3.000000"  # type: ignore[index]
