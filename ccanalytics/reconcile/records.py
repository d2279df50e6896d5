"""The store's side of a reconciliation: the paid calls and the hashes events name read, the result appended.

Appending to the optional table ``reconciliations`` is the command's only write.
"""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING

from ccanalytics.contract import RECONCILIATION_COLUMNS, RECONCILIATIONS_DDL
from ccanalytics.errors import CCError
from ccanalytics.reconcile.matching import PaidCall, Reconciliation
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["append_result", "read_store"]

_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def read_store(path: Path) -> tuple[dict[str, str], list[PaidCall], dict[str, str]]:
    """The settings, the valid paid calls (oldest first) and the hashes deposit/withdrawal events name."""
    import polars as pl

    from ccanalytics.store.store import open_store

    store = open_store(path, cache=False)
    try:
        settings = {k: v for k, v in store.settings.collect().iter_rows() if v is not None}
        calls = (
            store.calls.filter(pl.col("price_micro") > 0)
            .select("request_id", "role", "price_micro", "tx_hash", "consumer", "ts_ms")
            .collect()
            .sort("ts_ms", maintain_order=True)
        )
        kinds = pl.col("type").is_in(["deposit", "withdrawal"])
        events = store.events.filter(kinds).select("type", "message").collect()
    finally:
        store.close()
    paid = [
        PaidCall(rid, role, price, tx.lower() if tx and _HASH.fullmatch(tx) else None, consumer)
        for rid, role, price, tx, consumer, _ in calls.iter_rows()
    ]
    named: dict[str, str] = {}
    for kind, message in events.iter_rows():
        for found in _HASH.findall(message or ""):
            named[found.lower()] = kind
    return settings, paid, named


def append_result(path: Path, result: Reconciliation) -> None:
    """Append ``result``'s counts and sums to ``reconciliations`` (created when missing), now."""
    row = (
        now_ms(),
        result.from_block,
        result.to_block,
        len(result.matched),
        len(result.missing_on_chain),
        len(result.unrecorded),
        result.micro("matched"),
        result.micro("missing_on_chain"),
        result.micro("unrecorded"),
    )
    try:
        con = sqlite3.connect(path, timeout=5)
        try:
            with con:
                con.execute(RECONCILIATIONS_DDL)
                columns = ", ".join(RECONCILIATION_COLUMNS)
                con.execute(f"INSERT INTO reconciliations ({columns}) VALUES ({', '.join('?' * 9)})", row)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise CCError(f"{path}: cannot record the reconciliation ({exc}); --dry-run writes nothing") from None
