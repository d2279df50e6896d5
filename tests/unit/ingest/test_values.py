"""``ingest.values``: a raw batch's values read as the contract's types, each row judged."""

from __future__ import annotations

import polars as pl

from ccanalytics.contract import CALLS
from ccanalytics.ingest.values import COLUMNS, MAX_TEXT_CHARS, clean


def _raw(**columns: list) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "_at": list(range(2, n + 2)),
        "request_id": [f"r{i}" for i in range(n)],
        "ts_ms": ["1"] * n,
        "role": ["buyer"] * n,
        "api_id": ["x"] * n,
        "status_code": ["200"] * n,
    }
    return pl.DataFrame({**base, **columns})


def test_the_columns_are_the_calls_tables_in_the_stores_order() -> None:
    assert [c.name for c in COLUMNS] == [c.name for c in CALLS.stored]
    assert [c.name for c in COLUMNS][-3:] == ["tx_hash", "delivery", "consumer"]


def test_texts_read_as_the_contracts_types_and_missing_columns_take_their_defaults() -> None:
    judged = clean(_raw(latency_ms=["12.5"]))
    assert judged.schema == {"_at": pl.Int64, **{c.name: c.dtype for c in COLUMNS}, "_rule": pl.String}
    row = judged.row(0, named=True)
    assert (row["ts_ms"], row["status_code"], row["latency_ms"]) == (1, 200, 12.5)
    assert (row["price_micro"], row["revenue_micro"], row["demo"], row["api_name"]) == (0, 0, 0, None)
    assert row["_rule"] is None


def test_each_bad_value_breaks_its_rule() -> None:
    judged = clean(
        _raw(
            ts_ms=["1", "1.0", "1", "1", "1"],
            status_code=["200", "200", "200.0", "700", "200"],
            latency_ms=["1", "1", "1", "1", "fast"],
        )
    )
    assert judged["_rule"].to_list() == [
        None,
        "ts_ms is not an integer",
        "status_code is not an integer",
        "status_code outside 100..599",
        "latency_ms is negative or not a number",
    ]


def test_a_text_over_the_limit_refuses_its_row() -> None:
    judged = clean(_raw(api_name=["a" * MAX_TEXT_CHARS, "a" * (MAX_TEXT_CHARS + 1)]))
    assert judged["_rule"].to_list() == [None, f"api_name is longer than {MAX_TEXT_CHARS} characters"]


def test_an_empty_batch_stays_empty_with_the_contracts_schema() -> None:
    judged = clean(_raw(role=["buyer"]).head(0))
    assert judged.height == 0
    assert judged.columns == ["_at", *(c.name for c in COLUMNS), "_rule"]
