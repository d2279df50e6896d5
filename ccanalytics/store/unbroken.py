"""Whether a refresh's new calls keep every rule of the contract, told by a few column reductions.

``history.judged`` names the first rule each row breaks with one select of
the contract's thirteen conditions.  Most refreshes bring rows that break
none, and that can be told without a query: a column's null count is known,
and its minimum, maximum and distinct count are single calls into polars
that plan nothing.  ``unbroken`` answers True only when those reductions
prove that no row breaks any rule of the calls table (``RULES`` names the
rules it knows; a rule added to the contract without being added here makes
its test fail); otherwise False, and the rules are evaluated row by row.

Pure polars, no I/O.
"""

from __future__ import annotations

import math

import polars as pl

from ccanalytics.contract import INVALID_TEXT
from ccanalytics.units import MAX_TS_MS, MIN_TS_MS

__all__ = ["RULES", "unbroken"]

# The calls table's rules (``contract.TABLES["calls"].rules``) that ``unbroken`` proves kept.
RULES = (
    "request_id is missing",
    "request_id is not valid text",
    "ts_ms is not an integer",
    "ts_ms is out of range",
    "role is not valid text",
    "role is not buyer or seller",
    "api_id is missing",
    "api_id is not valid text",
    "status_code outside 100..599",
    "latency_ms is negative or not a number",
    "price_micro is negative or not an integer",
    "revenue_micro is negative or not an integer",
    "demo is not 0 or 1",
)
_TEXTS = ("request_id", "api_id")  # required, not empty, valid text
_BOUNDS = {  # required integers within bounds
    "ts_ms": (MIN_TS_MS, MAX_TS_MS),
    "status_code": (100, 599),
    "price_micro": (0, None),
    "revenue_micro": (0, None),
    "demo": (0, 1),
}
_ROLES = {"buyer", "seller"}


def unbroken(table: str, frame: pl.DataFrame) -> bool:
    """Whether no row of ``frame`` breaks a rule of ``table``, proven by column reductions (False: not proven).

    Only the calls table is known; its columns must have the contract's
    types (texts, integers, a float latency).

    Examples
    --------
    >>> calls = pl.DataFrame({"request_id": ["r1", "r2"], "ts_ms": [1, 2], "role": ["buyer", "seller"],
    ...     "api_id": ["a", "a"], "status_code": [200, 502], "latency_ms": [5.0, None], "price_micro": [1, 0],
    ...     "revenue_micro": [0, 0], "demo": [0, 0]})
    >>> unbroken("calls", calls), unbroken("calls", calls.with_columns(role=pl.lit("other")))
    (True, False)
    """
    if table != "calls" or frame.is_empty():
        return False
    schema = frame.schema
    for name in (*_TEXTS, "role"):
        if schema.get(name) != pl.String or frame[name].null_count():
            return False
    if any(frame[name].min() <= INVALID_TEXT for name in _TEXTS):  # type: ignore[operator]  # "" sorts lower
        return False
    role = frame["role"]
    if role.n_unique() > 2 or not {role.min(), role.max()} <= _ROLES:  # each role is the least or the greatest
        return False
    for name, (low, high) in _BOUNDS.items():
        column = frame.get_column(name) if name in schema else None
        if column is None or not schema[name].is_integer() or column.null_count():
            return False
        if column.min() < low or (high is not None and column.max() > high):  # type: ignore[operator]
            return False
    latency = frame.get_column("latency_ms") if "latency_ms" in schema else None
    if latency is None or schema["latency_ms"] != pl.Float64:
        return False
    if latency.null_count() == latency.len():
        return True
    # NaN or an infinity makes the sum one (a finite sum that overflows only sends the rows to the rules)
    return bool(latency.min() >= 0) and math.isfinite(latency.sum())  # type: ignore[operator]
