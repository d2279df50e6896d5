"""``store.values``: bytes to text (invalid UTF-8 replaced, or marked in key columns), times bounded, affinities."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ccanalytics.contract import INVALID_TEXT
from ccanalytics.store.values import affinity, bounded_times, finish

MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999
SENTINEL = -(2**63)


def test_texts_are_decoded_and_invalid_utf8_marks_only_key_columns():
    chunk = pl.DataFrame(
        {"request_id": [b"r1", b"\xff", None], "api_name": [b"Caf\xc3\xa9", b"\xfe", None], "ts_ms": [1, 2, 3]}
    )
    finished = finish(chunk, "calls")
    assert finished["request_id"].to_list() == ["r1", INVALID_TEXT, None]  # a key column: the row is bad
    assert finished["api_name"].to_list() == ["Café", "\ufffd", None]  # a descriptive one: replaced
    assert finished.schema["ts_ms"] == pl.Int64


def test_an_empty_chunk_keeps_its_columns():
    chunk = pl.DataFrame(schema={"request_id": pl.Binary, "ts_ms": pl.Int64})
    assert_frame_equal(finish(chunk, "calls"), pl.DataFrame(schema={"request_id": pl.String, "ts_ms": pl.Int64}))


def test_times_outside_years_1_to_9999_read_as_no_time():
    times = pl.DataFrame({"ts_ms": [MIN_MS, MAX_MS, MIN_MS - 1, MAX_MS + 1, None]})
    assert bounded_times(times)["ts_ms"].to_list() == [MIN_MS, MAX_MS, SENTINEL, SENTINEL, None]
    assert_frame_equal(bounded_times(pl.DataFrame({"x": [1]})), pl.DataFrame({"x": [1]}))


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("INTEGER", "INTEGER"),
        ("tinyint", "INTEGER"),
        ("FLOATING POINT", "INTEGER"),  # "INT" wins, as in SQLite
        ("NVARCHAR(20)", "TEXT"),
        ("clob", "TEXT"),
        ("BLOB", "BLOB"),
        ("", "BLOB"),
        ("REAL", "REAL"),
        ("double precision", "REAL"),
        ("NUMERIC", "NUMERIC"),
        ("BOOLEAN", "NUMERIC"),
        ("DATETIME", "NUMERIC"),
    ],
)
def test_affinity_follows_sqlites_rules(declared, expected):
    assert affinity(declared) == expected
