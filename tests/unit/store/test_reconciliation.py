"""``store.reconciliation``: the latest valid run before ``now``, as the snapshot shows it."""

from __future__ import annotations

import sqlite3

import pytest

from ccanalytics.contract import RECONCILIATIONS_DDL
from ccanalytics.store.reconciliation import latest_reconciliation

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z


@pytest.fixture
def con():
    con = sqlite3.connect(":memory:")
    con.execute(RECONCILIATIONS_DDL)
    yield con
    con.close()


def run(con, ts, *counts):
    row = (ts, 100, 200, 3, 1, 0, 3_000_000, 1_000_000, 0) if not counts else (ts, *counts)
    con.execute("INSERT INTO reconciliations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)


def test_the_latest_run_before_now_in_the_snapshots_words(con):
    run(con, NOW - 2000)
    run(con, NOW - 1000, 200, 300, 5, 0, 2, 5_000_000, 0, 1_500_001)
    run(con, NOW, 300, 400, 9, 9, 9, 9, 9, 9)  # not before now
    assert latest_reconciliation(con, NOW) == {
        "ts": "2026-11-25T11:59:59Z",
        "from_block": 200,
        "to_block": 300,
        "matched": 5,
        "missing": 0,
        "unrecorded": 2,
        "matched_usdc": "5.000000",
        "missing_usdc": "0.000000",
        "unrecorded_usdc": "1.500001",
    }


def test_a_run_with_a_bad_value_is_passed_over(con):
    run(con, NOW - 2000)
    run(con, NOW - 1000, 200, 300, -1, 0, 0, 0, 0, 0)  # a negative count
    run(con, NOW - 500, 200, 300, "five", 0, 0, 0, 0, 0)  # text, not an integer
    run(con, NOW - 100, 200, 300, 5, 0, 0, 0.5, 0, 0)  # a real, not micro-USDC
    assert latest_reconciliation(con, NOW)["from_block"] == 100


def test_ties_go_to_the_row_written_last(con):
    run(con, NOW - 1000)
    run(con, NOW - 1000, 700, 800, 1, 0, 0, 1, 0, 0)
    assert latest_reconciliation(con, NOW)["from_block"] == 700


@pytest.mark.parametrize(
    "ddl",
    [
        None,  # no table: no run
        "CREATE TABLE reconciliations (ts_ms)",  # columns missing
        "CREATE TABLE gone (x); CREATE VIEW reconciliations AS SELECT * FROM gone; DROP TABLE gone",
    ],
)
def test_a_store_without_a_readable_table_has_none(ddl):
    con = sqlite3.connect(":memory:")
    if ddl:
        con.executescript(ddl)
    assert latest_reconciliation(con, NOW) is None
    con.close()


def test_a_table_without_rowids_is_read_too():
    con = sqlite3.connect(":memory:")
    con.execute(
        "CREATE TABLE reconciliations (ts_ms PRIMARY KEY, from_block, to_block, matched, missing, unrecorded, "
        "matched_micro, missing_micro, unrecorded_micro) WITHOUT ROWID"
    )
    run(con, NOW - 1000)
    assert latest_reconciliation(con, NOW)["matched_usdc"] == "3.000000"
    con.close()
