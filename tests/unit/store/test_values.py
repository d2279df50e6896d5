"""``store.values``: bytes to text (invalid UTF-8 replaced, or marked in key columns), times bounded, affinities."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ccanalytics.contract import INVALID_TEXT
from ccanalytics.store.values import affinity, bounded_times, finish, owned

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


def _buffers(series: pl.Series) -> int:
    """The bytes of a text column's data buffers (views excluded), as polars holds them."""
    exported = series.to_arrow(compat_level=pl.CompatLevel.newest())
    return sum(buffer.size for buffer in exported.buffers()[2:] if buffer is not None)


def test_owned_texts_no_longer_hold_the_whole_chunks_buffers():
    import pyarrow as pa

    # As ADBC gives a chunk: every value's bytes in one buffer, which a text view keeps whole.
    chunk = pl.from_arrow(pa.table({"t": pa.array([b"x" * 40 if i == 0 else b"short" for i in range(10_000)])}))
    kept = finish(chunk, "calls").head(3)
    assert _buffers(kept["t"]) > 40_000  # three rows, holding the chunk's 90 kB
    compact = owned(kept)
    assert compact["t"].to_list() == ["x" * 40, "short", "short"]
    assert _buffers(compact["t"]) < 1_000  # only the one text too long for its view


def test_owned_keeps_nulls_numbers_and_invalid_text_marks():
    frame = pl.DataFrame({"n": [1, None], "t": [INVALID_TEXT, None], "f": [0.5, float("nan")]})
    assert_frame_equal(owned(frame), frame)


def test_owned_since_rewrites_only_a_frame_with_rows_from_then_on():
    frame = pl.DataFrame({"ts_ms": [1, None], "t": ["old", None]})
    assert owned(frame, 5) is frame  # every row older (or without a time): tallied, not kept
    assert owned(frame.with_columns(ts_ms=pl.Series([None, None], dtype=pl.Int64)), 5)["t"].to_list() == ["old", None]
    assert_frame_equal(owned(frame, 1), frame)


ROWS_SCHEMA = {"n": pl.Int64, "x": pl.Float64, "t": pl.String, "b": pl.Binary}
ROWS = [(1, 1.5, "a", b"\xff"), (None, 2, None, None), (-(2**63), None, "\x00é", b"")]


def test_columns_build_what_pl_series_builds_and_refuse_a_value_of_another_type(monkeypatch):
    from ccanalytics.store import values

    built = values.columns(ROWS, ROWS_SCHEMA)
    monkeypatch.setattr(values, "_BUILD", {})  # as with a polars whose constructors have other names
    assert_frame_equal(built, values.columns(ROWS, ROWS_SCHEMA))
    assert built.schema == ROWS_SCHEMA and built["x"].to_list() == [1.5, 2.0, None]
    monkeypatch.undo()
    wrong = [("1", 1.5, "a", b""), (1, "slow", "a", b""), (1, 1.5, b"a", b""), (1, 1.5, "a", "b"), (1.5, 1.5, "a", b"")]
    for bad in wrong:
        with pytest.raises(TypeError):
            values.columns([*ROWS, bad], ROWS_SCHEMA)
    assert values.columns([], ROWS_SCHEMA).schema == ROWS_SCHEMA
