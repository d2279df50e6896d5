"""store/unbroken.py: a refresh's calls proven to keep every rule exactly when the rules say none is broken."""

from __future__ import annotations

import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ccanalytics.contract import INVALID_TEXT, TABLES
from ccanalytics.store.history import _BROKEN
from ccanalytics.store.unbroken import RULES, unbroken

GOOD = {
    "request_id": "r1",
    "ts_ms": 1_795_608_000_000,
    "role": "seller",
    "api_id": "a",
    "status_code": 200,
    "latency_ms": 150.0,
    "price_micro": 2000,
    "revenue_micro": 1900,
    "demo": 0,
}
SCHEMA = {
    "request_id": pl.String,
    "ts_ms": pl.Int64,
    "role": pl.String,
    "api_id": pl.String,
    "status_code": pl.Int64,
    "latency_ms": pl.Float64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
    "demo": pl.Int64,
}
# One value per column that breaks a rule (or sits at a rule's edge without breaking it).
EDGES = {
    "request_id": [None, "", INVALID_TEXT, "\x00", " r"],
    "ts_ms": [None, -62_135_596_800_001, -62_135_596_800_000, 253_402_300_799_999, 253_402_300_800_000],
    "role": [None, "buyer", "other", INVALID_TEXT, "sellers"],
    "api_id": [None, "", INVALID_TEXT, "b"],
    "status_code": [None, 99, 100, 599, 600, 502],
    "latency_ms": [None, -0.0, 0.0, -1e-9, math.nan, math.inf, -math.inf, 1e308],
    "price_micro": [None, -1, 0, 2**63 - 1],
    "revenue_micro": [None, -1, 0],
    "demo": [None, 0, 1, 2, -1],
}


def _broken(frame: pl.DataFrame) -> bool:
    """What the contract's rules say: some row breaks some rule."""
    return any(column.any() for column in frame.select(_BROKEN["calls"]))


def test_it_knows_every_rule_of_the_calls_table() -> None:
    assert tuple(rule for rule, _ in TABLES["calls"].rules) == RULES


def test_clean_calls_are_proven_unbroken_and_each_broken_rule_is_seen() -> None:
    clean = pl.DataFrame([GOOD, {**GOOD, "role": "buyer", "latency_ms": None}], schema=SCHEMA)
    assert not _broken(clean) and unbroken("calls", clean)
    for name, values in EDGES.items():
        for value in values:
            frame = pl.DataFrame([GOOD, {**GOOD, name: value}], schema=SCHEMA)
            if _broken(frame):
                assert not unbroken("calls", frame), (name, value)
    assert not unbroken("events", clean)  # only the calls table is known
    assert not unbroken("calls", clean.drop("demo"))  # a column missing: not proven
    assert not unbroken("calls", clean.with_columns(pl.col("status_code").cast(pl.String)))  # another type


row = st.fixed_dictionaries({name: st.sampled_from([GOOD[name], *values]) for name, values in EDGES.items()})


@settings(max_examples=300, deadline=None)
@given(st.lists(row, min_size=1, max_size=6))
def test_proven_unbroken_only_when_no_rule_is_broken(rows: list[dict]) -> None:
    frame = pl.DataFrame(rows, schema=SCHEMA)
    if unbroken("calls", frame):
        assert not _broken(frame)
