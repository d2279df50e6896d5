"""The store writer (collect.md, "The writer"): one queue, one connection, duplicates ignored."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from ccanalytics.collect.writer import StoreWriter
from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from pathlib import Path

CALL = {"request_id": "r1", "ts_ms": 1_000, "role": "seller", "api_id": "GET /a", "status_code": 200}


def rows(path: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute(sql).fetchall()


def test_a_call_is_written_once_with_the_contract_defaults(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with StoreWriter(path, settings={"chain_id": "84532"}) as writer:
        writer.record(CALL)
        writer.record({**CALL, "status_code": 500})  # the same request_id: ignored
        assert writer.flush()
    assert rows(path, "SELECT request_id, status_code, price_micro, revenue_micro, demo FROM calls") == [
        ("r1", 200, 0, 0, 0)
    ]
    assert rows(path, "SELECT value FROM settings WHERE key = 'chain_id'") == [("84532",)]
    assert [t for (t,) in rows(path, "SELECT type FROM events ORDER BY id")] == ["startup", "shutdown"]


def test_events_apis_and_balances_are_written(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with StoreWriter(path) as writer:
        writer.event("catalog_sync", "warning", "slow", ts_ms=5)
        writer.register_api("GET /a", "Weather", 1_000)
        writer.balance(2_500_000, 10**15, ts_ms=7)
    assert ("catalog_sync", "warning", "slow") in rows(path, "SELECT type, severity, message FROM events")
    assert rows(path, "SELECT api_id, name, price_micro FROM apis") == [("GET /a", "Weather", 1_000)]
    assert rows(path, "SELECT ts_ms, usdc_micro, eth_wei FROM balance_snapshots") == [(7, 2_500_000, str(10**15))]


def test_a_call_without_its_required_columns_is_refused(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "store.db") as writer, pytest.raises(ValueError, match="a call needs status_code"):
        writer.record({k: v for k, v in CALL.items() if k != "status_code"})


def test_a_full_queue_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    writer = StoreWriter(path, queue_calls=2)
    try:
        with writer._cond:  # hold the writer thread so the queue fills
            for n in range(3):
                writer.record({**CALL, "request_id": f"r{n}"})
        assert writer.dropped == 1
    finally:
        writer.close()
    assert sorted(r for (r,) in rows(path, "SELECT request_id FROM calls")) == ["r1", "r2"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"queue_calls": 0}, "queue_calls must be 1 or more"), ({"balance_every_minutes": 0}, "more than 0")],
)
def test_bad_options_are_refused(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StoreWriter(tmp_path / "store.db", **kwargs)


def test_a_file_that_is_not_a_store_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not sqlite at all " * 100)
    with pytest.raises(CCError, match="cannot be written as a store"):
        StoreWriter(path)


def test_a_bad_severity_is_refused(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "store.db") as writer, pytest.raises(ValueError, match="severity"):
        writer.event("x", "fatal", "no")
