"""The snapshot's ``reconciliation``: the latest run of ``ccanalytics reconcile`` the store holds."""

from __future__ import annotations

import sqlite3
from typing import Any

from ccanalytics.contract import RECONCILIATION_COLUMNS
from ccanalytics.units import iso_utc, usdc_text

__all__ = ["latest_reconciliation"]


def latest_reconciliation(con: sqlite3.Connection, now: int) -> dict[str, Any] | None:
    """The latest valid ``reconciliations`` row before ``now`` as the snapshot shows it, else ``None``.

    A store without the table (or with one that cannot be read) has none.

    Examples
    --------
    >>> con = sqlite3.connect(":memory:")
    >>> latest_reconciliation(con, 10) is None
    True
    >>> from ccanalytics.contract import RECONCILIATIONS_DDL
    >>> _ = con.execute(RECONCILIATIONS_DDL)
    >>> _ = con.execute("INSERT INTO reconciliations VALUES (5, 0, 99, 3, 1, 0, 3000, 1000, 0)")
    >>> latest_reconciliation(con, 10)["missing_usdc"]
    '0.001000'
    >>> latest_reconciliation(con, 5) is None
    True
    """
    valid = " AND ".join(f"typeof({c}) = 'integer' AND {c} >= 0" for c in RECONCILIATION_COLUMNS[1:])
    query = (
        f"SELECT {', '.join(RECONCILIATION_COLUMNS)} FROM reconciliations "
        f"WHERE typeof(ts_ms) = 'integer' AND ts_ms < ? AND {valid} ORDER BY ts_ms DESC{{}} LIMIT 1"
    )
    for tie_break in (", rowid DESC", ""):  # a WITHOUT ROWID table or a view: no rowid to break ties with
        try:
            row = con.execute(query.format(tie_break), (now,)).fetchone()
            break
        except sqlite3.Error:
            continue
    else:
        return None
    if row is None:
        return None
    ts, start, end, matched, missing, unrecorded, matched_micro, missing_micro, unrecorded_micro = row
    return {
        "ts": iso_utc(ts),
        "from_block": start,
        "to_block": end,
        "matched": matched,
        "missing": missing,
        "unrecorded": unrecorded,
        "matched_usdc": usdc_text(matched_micro),
        "missing_usdc": usdc_text(missing_micro),
        "unrecorded_usdc": usdc_text(unrecorded_micro),
    }
