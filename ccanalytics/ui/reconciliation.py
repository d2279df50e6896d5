"""The line under the breakdown: how many paid calls the last ``ccanalytics reconcile`` found on chain."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccanalytics.ui import format as fmt
from ccanalytics.ui.markup import esc

__all__ = ["reconciliation_line"]


def reconciliation_line(reconciliation: object, zone_name: str = "UTC") -> str:
    """The HTML of the line, or ``""`` when the store was never reconciled.

    Examples
    --------
    >>> rec = {"ts": "2026-11-25T11:59:00Z", "matched": 1204, "missing": 0, "unrecorded": 0,
    ...        "unrecorded_usdc": "0.000000"}
    >>> "1,204 of 1,204 paid calls found on chain" in reconciliation_line(rec)
    True
    >>> line = reconciliation_line({**rec, "missing": 2, "unrecorded": 1, "unrecorded_usdc": "5.000000"})
    >>> "1,204 of 1,206 paid calls found on chain" in line and "1 transfer not recorded" in line
    True
    >>> reconciliation_line(None)
    ''
    """
    if not isinstance(reconciliation, Mapping):
        return ""
    rec: Mapping[str, Any] = reconciliation
    matched, missing, unrecorded = (rec.get(k) for k in ("matched", "missing", "unrecorded"))
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (matched, missing, unrecorded)):
        return ""
    text = f"{fmt.count(matched)} of {fmt.count(matched + missing)} paid calls found on chain"  # type: ignore[operator]
    if unrecorded:
        noun = "transfer" if unrecorded == 1 else "transfers"
        text += f"; {fmt.count(unrecorded)} {noun} not recorded ({fmt.usdc(rec.get('unrecorded_usdc'))})"
    when = fmt.short_time(rec.get("ts"), fmt.store_zone(zone_name))
    level = "ok" if not missing and not unrecorded else "warn"
    return (
        f'<div class="cc-reconciliation cc-reconciliation-{level}" role="status">{esc(text)}'
        f'<span class="cc-panel-hint"> · reconciled {esc(when)}</span></div>'
    )
