"""ccanalytics.reconcile.records: the paid calls read from a store, the result appended to it."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

from ccanalytics.collect import StoreWriter
from ccanalytics.errors import CCError
from ccanalytics.reconcile.matching import PaidCall, Reconciliation
from ccanalytics.reconcile.records import append_result, read_store

if TYPE_CHECKING:
    from pathlib import Path

TX = "0x" + "ab" * 32


def _call(rid: str, ts: int, price: int, tx: str | None) -> dict[str, object]:
    return {
        "request_id": rid,
        "ts_ms": ts,
        "role": "seller",
        "api_id": "a",
        "status_code": 200,
        "price_micro": price,
        "tx_hash": tx,
        "consumer": "c",
    }


def test_the_paid_calls_oldest_first_with_their_hashes_and_the_named_transfers(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with StoreWriter(db, settings={"wallet_address": "0x" + "11" * 20}) as writer:
        writer.record(_call("late", 2_000, 5, TX.upper().replace("0X", "0x")))
        writer.record(_call("early", 1_000, 7, "not a hash"))
        writer.record(_call("free", 500, 0, TX))
        writer.event("deposit", "info", f"deposit of 5 USDC in {'0x' + 'cd' * 32}")
    settings, calls, named = read_store(db)
    assert settings["wallet_address"] == "0x" + "11" * 20
    assert calls == [PaidCall("early", "seller", 7, None, "c"), PaidCall("late", "seller", 5, TX, "c")]
    assert named == {"0x" + "cd" * 32: "deposit"}


def test_a_result_is_appended_and_a_store_that_cannot_take_it_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    StoreWriter(db).close()
    result = Reconciliation(3, 9, [{"_micro": 4}], [], [{"_micro": 6}, {"_micro": 1}])
    append_result(db, result)
    append_result(db, result)
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT from_block, to_block, matched, unrecorded, unrecorded_micro FROM reconciliations")
        assert rows.fetchall() == [(3, 9, 1, 2, 7)] * 2
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(CCError, match="cannot record the reconciliation"):
        append_result(tmp_path / "dir.db", result)
