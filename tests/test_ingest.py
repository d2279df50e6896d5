"""``ccanalytics ingest``: files in, the same rows out of SQLite — or nothing at all."""

from __future__ import annotations

import json
import sqlite3
import threading
from typing import TYPE_CHECKING

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ccanalytics.cli import main
from ccanalytics.contract import create_store
from ccanalytics.errors import StoreError
from ccanalytics.ingest import IngestError, IngestResult, ingest, ingest_file, staging

if TYPE_CHECKING:
    from pathlib import Path

FORMATS = ["csv", "ndjson", "parquet"]

SCHEMA = {
    "request_id": pl.String,
    "ts_ms": pl.Int64,
    "role": pl.String,
    "api_id": pl.String,
    "api_name": pl.String,
    "status_code": pl.Int64,
    "latency_ms": pl.Float64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
    "demo": pl.Int64,
    "tx_hash": pl.String,
    "delivery": pl.String,
    "consumer": pl.String,
}

# Every column, with the values that are easy to get wrong on the way:
# text that needs CSV quoting (comma, quote, newline), unicode, an empty
# string next to a null, a float that is not exact in binary, big integers.
DATA = {
    "request_id": ["r-1", "r-2", "r-3", "r-4"],
    "ts_ms": [1_764_072_000_000, 1_764_072_000_123, 1_764_075_600_000, 9_007_199_254_740_993],
    "role": ["buyer", "seller", "seller", "buyer"],
    "api_id": ["bb-sse-ticker", "weather", "weather", "bb-sse-ticker"],
    "api_name": ['Ticker, "live"', "Wetter ☀\nzwei Zeilen", "", None],
    "status_code": [200, 502, 200, 402],
    "latency_ms": [12.5, None, 0.1, 3.0],
    "price_micro": [1_500, 0, 2_000, 0],
    "revenue_micro": [0, 0, 1_900, 0],
    "demo": [0, 0, 0, 1],
    "tx_hash": ["0x" + "ab" * 32, None, "0x" + "cd" * 32, None],
    "delivery": ["p2p", "cloud-relay", "onchain-relay", None],
    "consumer": [None, "ef" * 32, "01" * 32, None],
}

STORAGE = {
    "request_id": "text",
    "ts_ms": "integer",
    "role": "text",
    "api_id": "text",
    "api_name": "text",
    "status_code": "integer",
    "latency_ms": "real",
    "price_micro": "integer",
    "revenue_micro": "integer",
    "demo": "integer",
    "tx_hash": "text",
    "delivery": "text",
    "consumer": "text",
}


def calls(**columns: list) -> pl.DataFrame:
    """A frame of ``n`` good calls (n = the length of any list given), with ``columns`` replaced."""
    n = len(next(iter(columns.values()))) if columns else 3
    base = {
        "request_id": [f"c-{i}" for i in range(n)],
        "ts_ms": [1_764_072_000_000 + i for i in range(n)],
        "role": ["buyer"] * n,
        "api_id": ["bb-sse-ticker"] * n,
        "status_code": [200] * n,
    }
    return pl.DataFrame({**base, **columns})


def write(frame: pl.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.write_csv(path)
    elif path.suffix == ".parquet":
        frame.write_parquet(path)
    else:
        frame.write_ndjson(path)
    return path


def stored(db: Path) -> pl.DataFrame:
    """The calls in the store, in the contract's dtypes, ordered by request_id."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(f"SELECT {', '.join(SCHEMA)} FROM calls ORDER BY request_id").fetchall()
    finally:
        con.close()
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def storage_classes(db: Path) -> dict[str, set[str]]:
    con = sqlite3.connect(db)
    try:
        return {
            column: {r[0] for r in con.execute(f"SELECT DISTINCT typeof({column}) FROM calls")} for column in SCHEMA
        }
    finally:
        con.close()


def count(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT count(*) FROM calls").fetchone()[0]
    finally:
        con.close()


def refusal(db: Path, file: Path, **kwargs) -> str:
    """Ingest ``file``, which must be refused; check nothing was added; return the message."""
    before = count(db) if db.exists() else 0
    with pytest.raises(IngestError) as caught:
        ingest_file(db, file, **kwargs)
    assert (count(db) if db.exists() else 0) == before
    message = str(caught.value)
    assert "\n" not in message
    prefix = f"{file}: refused, nothing added: "
    assert message.startswith(prefix)
    return message.removeprefix(prefix)


# -- good files ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_rows_arrive_value_for_value_with_their_storage_classes(tmp_path: Path, fmt: str) -> None:
    frame = pl.DataFrame(DATA, schema=SCHEMA)
    db = tmp_path / "store.db"
    assert ingest_file(db, write(frame, tmp_path / f"calls.{fmt}")) == IngestResult(added=4, skipped=0)
    assert_frame_equal(stored(db), frame)
    nullable = {"api_name", "latency_ms", "tx_hash", "delivery", "consumer"}
    expected = {c: {t, "null"} if c in nullable else {t} for c, t in STORAGE.items()}
    assert storage_classes(db) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_optional_columns_take_their_defaults(tmp_path: Path, fmt: str) -> None:
    db = tmp_path / "store.db"
    ingest_file(db, write(calls(request_id=["a", "b"]), tmp_path / f"calls.{fmt}"))
    got = stored(db)
    assert got["price_micro"].to_list() == [0, 0]
    assert got["revenue_micro"].to_list() == [0, 0]
    assert got["demo"].to_list() == [0, 0]
    for column in ("api_name", "latency_ms", "tx_hash", "delivery", "consumer"):
        assert got[column].to_list() == [None, None], column


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_second_run_adds_nothing(tmp_path: Path, fmt: str) -> None:
    db = tmp_path / "store.db"
    file = write(calls(request_id=[f"r{i}" for i in range(5)]), tmp_path / f"calls.{fmt}")
    assert ingest_file(db, file, batch_rows=2) == IngestResult(added=5, skipped=0)
    assert ingest_file(db, file, batch_rows=2) == IngestResult(added=0, skipped=5)
    assert count(db) == 5


def test_known_calls_are_skipped_and_keep_their_stored_values(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    ingest_file(db, write(calls(request_id=["a", "b"], status_code=[200, 200]), tmp_path / "first.csv"))
    second = write(calls(request_id=["b", "c", "d"], status_code=[500, 500, 500]), tmp_path / "second.csv")
    assert ingest_file(db, second) == IngestResult(added=2, skipped=1)
    assert dict(stored(db).select("request_id", "status_code").iter_rows()) == {
        "a": 200,
        "b": 200,
        "c": 500,
        "d": 500,
    }


def test_ndjson_blank_lines_and_null_defaults(tmp_path: Path) -> None:
    lines = [
        {"request_id": "a", "ts_ms": 1, "role": "buyer", "api_id": "x", "status_code": 200, "latency_ms": 7},
        {"request_id": "b", "ts_ms": 2, "role": "seller", "api_id": "x", "status_code": 200, "price_micro": None},
    ]
    file = tmp_path / "calls.jsonl"
    file.write_text("\n" + json.dumps(lines[0]) + "\n  \n" + json.dumps(lines[1]))  # no final newline
    db = tmp_path / "store.db"
    assert ingest_file(db, file) == IngestResult(added=2, skipped=0)
    got = stored(db)
    assert got["latency_ms"].to_list() == [7.0, None]
    assert got["price_micro"].to_list() == [0, 0]
    assert storage_classes(db)["latency_ms"] == {"real", "null"}


def test_text_in_numeric_columns_is_read_when_it_is_a_number(tmp_path: Path) -> None:
    # JSON strings holding numbers read like CSV cells do.
    file = tmp_path / "calls.ndjson"
    row = {"request_id": "a", "ts_ms": "12", "role": "buyer", "api_id": "x", "status_code": "200", "latency_ms": "1.5"}
    file.write_text(json.dumps(row) + "\n")
    db = tmp_path / "store.db"
    ingest_file(db, file)
    assert stored(db).select("ts_ms", "status_code", "latency_ms").row(0) == (12, 200, 1.5)


def test_an_empty_csv_cell_is_null_and_an_empty_latency_is_fine(tmp_path: Path) -> None:
    file = tmp_path / "calls.csv"
    file.write_text("request_id,ts_ms,role,api_id,status_code,latency_ms,api_name\na,1,buyer,x,200,,\n")
    db = tmp_path / "store.db"
    assert ingest_file(db, file) == IngestResult(added=1, skipped=0)
    assert stored(db).select("latency_ms", "api_name").row(0) == (None, None)


def test_crlf_and_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    file = tmp_path / "calls.csv"
    file.write_bytes(b"\xef\xbb\xbfrequest_id,ts_ms,role,api_id,status_code\r\na,1,buyer,x,200\r\nb,2,buyer,x,201\r\n")
    db = tmp_path / "store.db"
    assert ingest_file(db, file) == IngestResult(added=2, skipped=0)
    assert stored(db)["status_code"].to_list() == [200, 201]


def test_a_header_only_csv_adds_nothing(tmp_path: Path) -> None:
    file = tmp_path / "calls.csv"
    file.write_text("request_id,ts_ms,role,api_id,status_code\n")
    assert ingest_file(tmp_path / "store.db", file) == IngestResult(added=0, skipped=0)


# -- bad rows -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_file_adds_nothing_and_names_its_first_bad_rows(tmp_path: Path, fmt: str) -> None:
    frame = calls(
        request_id=[f"r{i}" for i in range(7)],
        role=["buyer", "buyer", "seller", "buyer", "nobody", "buyer", "buyer"],
        status_code=[200, 700, 200, 200, 200, 99, 42],
    )
    message = refusal(tmp_path / "store.db", write(frame, tmp_path / f"calls.{fmt}"))
    # Row i is CSV line i + 2 (the header is line 1), NDJSON line i + 1, Parquet row i + 1.
    unit, first = {"csv": ("line", 2), "ndjson": ("line", 1), "parquet": ("row", 1)}[fmt]
    assert message == (
        f"{unit} {1 + first}: status_code outside 100..599; "
        f"{unit} {4 + first}: role is not buyer or seller; "
        f"{unit} {5 + first}: status_code outside 100..599"
    )


def test_csv_lines_are_physical_lines(tmp_path: Path) -> None:
    # A quoted field over three lines and a blank line come before the bad row.
    file = tmp_path / "calls.csv"
    file.write_text(
        "request_id,ts_ms,role,api_id,status_code,api_name\n"  # 1
        'a,1,buyer,x,200,"one\ntwo\nthree"\n'  # 2-4
        "\n"  # 5
        "b,2,buyer,x,200,plain\n"  # 6
        "c,3.5,buyer,x,200,bad ts\n"  # 7
    )
    assert refusal(tmp_path / "store.db", file, batch_rows=2) == "line 7: ts_ms is not an integer"


def test_ndjson_lines_count_blank_lines(tmp_path: Path) -> None:
    good = json.dumps({"request_id": "a", "ts_ms": 1, "role": "buyer", "api_id": "x", "status_code": 200})
    bad = json.dumps({"request_id": "b", "ts_ms": 1.5, "role": "buyer", "api_id": "x", "status_code": 200})
    file = tmp_path / "calls.ndjson"
    file.write_text(f"{good}\n\n\n{bad}\n")
    assert refusal(tmp_path / "store.db", file) == "line 4: ts_ms is not an integer"


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_row_late_in_a_later_batch_still_refuses_the_whole_file(tmp_path: Path, fmt: str) -> None:
    n = 25
    frame = calls(request_id=[f"r{i:02d}" for i in range(n)], status_code=[200] * (n - 2) + [600, 200])
    db = tmp_path / "store.db"
    create_store(db)
    message = refusal(db, write(frame, tmp_path / f"calls.{fmt}"), batch_rows=4)
    at = {"csv": "line 25", "ndjson": "line 24", "parquet": "row 24"}[fmt]
    assert message == f"{at}: status_code outside 100..599"
    assert count(db) == 0


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("ts_ms", "12.0", "ts_ms is not an integer"),
        ("ts_ms", "1e3", "ts_ms is not an integer"),
        ("ts_ms", "", "ts_ms is not an integer"),
        ("ts_ms", "99999999999999999999", "ts_ms is not an integer"),
        ("status_code", "200.0", "status_code is not an integer"),
        ("request_id", "", "request_id is missing"),
        ("api_id", "", "api_id is missing"),
        ("latency_ms", "fast", "latency_ms is negative or not a number"),
        ("latency_ms", "-1", "latency_ms is negative or not a number"),
        ("latency_ms", "inf", "latency_ms is negative or not a number"),
        ("latency_ms", "NaN", "latency_ms is negative or not a number"),
        ("price_micro", "1.5", "price_micro is negative or not an integer"),
        ("price_micro", "", "price_micro is negative or not an integer"),
        ("revenue_micro", "-5", "revenue_micro is negative or not an integer"),
        ("demo", "true", "demo is not 0 or 1"),
        ("demo", "2", "demo is not 0 or 1"),
    ],
)
def test_a_csv_value_that_does_not_read_breaks_its_rule(tmp_path: Path, column: str, value: str, rule: str) -> None:
    row = {"request_id": "a", "ts_ms": "1", "role": "buyer", "api_id": "x", "status_code": "200", column: value}
    file = tmp_path / "calls.csv"
    file.write_text(",".join(row) + "\n" + ",".join(f'"{v}"' if v == "" else v for v in row.values()) + "\n")
    assert refusal(tmp_path / "store.db", file) == f"line 2: {rule}"


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("ts_ms", 12.0, "ts_ms is not an integer"),
        ("ts_ms", 1.5, "ts_ms is not an integer"),
        ("ts_ms", "12.0", "ts_ms is not an integer"),
        ("ts_ms", True, "ts_ms is not an integer"),
        ("ts_ms", None, "ts_ms is not an integer"),
        ("status_code", [200], "status_code is not an integer"),
        ("request_id", None, "request_id is missing"),
        ("role", None, "role is not buyer or seller"),
        ("latency_ms", "fast", "latency_ms is negative or not a number"),
        ("latency_ms", False, "latency_ms is negative or not a number"),
        ("latency_ms", {"ms": 3}, "latency_ms is negative or not a number"),
        ("demo", True, "demo is not 0 or 1"),
        ("price_micro", 1e3, "price_micro is negative or not an integer"),
    ],
)
def test_a_json_value_of_the_wrong_kind_breaks_its_rule(tmp_path: Path, column: str, value: object, rule: str) -> None:
    good = {"request_id": "a", "ts_ms": 1, "role": "buyer", "api_id": "x", "status_code": 200}
    file = tmp_path / "calls.ndjson"
    file.write_text(json.dumps(good) + "\n" + json.dumps({**good, "request_id": "b", column: value}) + "\n")
    assert refusal(tmp_path / "store.db", file) == f"line 2: {rule}"


@pytest.mark.parametrize(
    ("column", "series", "bad_rows", "rule"),
    [
        # Floats and booleans never read as integers, even 1.0; text reads where it is a number.
        ("ts_ms", pl.Series([1.0, 2.0]), [1, 2], "ts_ms is not an integer"),
        ("status_code", pl.Series(["200", "2OO"]), [2], "status_code is not an integer"),
        ("status_code", pl.Series([200.0, 201.0]), [1, 2], "status_code is not an integer"),
        ("status_code", pl.Series([200, 700]), [2], "status_code outside 100..599"),
        ("demo", pl.Series([False, True]), [1, 2], "demo is not 0 or 1"),
        ("price_micro", pl.Series([5, None]), [2], "price_micro is negative or not an integer"),
        ("latency_ms", pl.Series(["1.5", "slow"]), [2], "latency_ms is negative or not a number"),
        ("latency_ms", pl.Series([True, None]), [1], "latency_ms is negative or not a number"),
    ],
)
def test_a_parquet_value_of_the_wrong_type_breaks_its_rule(
    tmp_path: Path, column: str, series: pl.Series, bad_rows: list[int], rule: str
) -> None:
    frame = calls(request_id=["a", "b"]).with_columns(series.alias(column))
    message = refusal(tmp_path / "store.db", write(frame, tmp_path / "calls.parquet"))
    assert message == "; ".join(f"row {row}: {rule}" for row in bad_rows)


def test_parquet_integer_columns_of_any_width_are_read(tmp_path: Path) -> None:
    frame = calls(request_id=["a", "b"]).with_columns(
        pl.col("status_code").cast(pl.UInt16), pl.col("ts_ms").cast(pl.UInt64)
    )
    db = tmp_path / "store.db"
    assert ingest_file(db, write(frame, tmp_path / "calls.parquet")) == IngestResult(added=2, skipped=0)
    assert storage_classes(db)["status_code"] == {"integer"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_missing_required_column_refuses_the_file(tmp_path: Path, fmt: str) -> None:
    file = write(calls().drop("status_code"), tmp_path / f"calls.{fmt}")
    assert refusal(tmp_path / "store.db", file) == "lacks column status_code"


def test_every_missing_required_column_is_named_at_once(tmp_path: Path) -> None:
    file = write(calls().drop("request_id", "role", "status_code"), tmp_path / "calls.csv")
    assert refusal(tmp_path / "store.db", file) == "lacks columns request_id, role, status_code"


def test_refusing_the_only_file_leaves_no_empty_store_behind(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    refusal(db, write(calls().drop("status_code"), tmp_path / "calls.csv"))
    assert not db.exists() and list(tmp_path.iterdir()) == [tmp_path / "calls.csv"]
    # A store that was there before stays, refused file or not.
    good = write(calls(request_id=["a"]), tmp_path / "good.csv")
    assert ingest_file(db, good) == IngestResult(added=1, skipped=0)
    refusal(db, write(calls().drop("status_code"), tmp_path / "calls.csv"))
    assert count(db) == 1


def test_a_column_given_twice_refuses_the_file(tmp_path: Path) -> None:
    file = tmp_path / "calls.csv"
    file.write_text("request_id,ts_ms,role,api_id,status_code,ts_ms\na,1,buyer,x,200,2\n")
    assert refusal(tmp_path / "store.db", file) == "column ts_ms appears twice"


@pytest.mark.parametrize("batch_rows", [100, 2])
def test_a_request_id_twice_in_one_file_refuses_it_naming_both_lines(tmp_path: Path, batch_rows: int) -> None:
    frame = calls(request_id=["a", "b", "c", "d", "b"])
    message = refusal(tmp_path / "store.db", write(frame, tmp_path / "calls.csv"), batch_rows=batch_rows)
    assert message == "line 6: request_id repeats line 3"


def test_a_repeat_in_parquet_is_named_by_rows(tmp_path: Path) -> None:
    frame = calls(request_id=["a", "b", "a", "c", "b"])
    message = refusal(tmp_path / "store.db", write(frame, tmp_path / "calls.parquet"), batch_rows=2)
    assert message == "row 3: request_id repeats row 1; row 5: request_id repeats row 2"


def test_unknown_columns_are_ignored_and_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = write(calls(request_id=["a"], latency=[12.0]), tmp_path / "calls.csv")
    db = tmp_path / "store.db"
    assert main(["ingest", "--db", str(db), str(file)]) == 0
    assert capsys.readouterr().out == f"{file}: added 1, skipped 0; ignored columns: latency\n"


# -- files that are not what they say -----------------------------------------


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "line 1: not UTF-8 text"),
        (b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4, "line 1: not UTF-8 text"),
        (bytes(range(256)) * 4, "line 1: not text (it holds NUL bytes)"),
    ],
)
def test_binary_named_csv(tmp_path: Path, content: bytes, problem: str) -> None:
    file = tmp_path / "calls.csv"
    file.write_bytes(content)
    assert refusal(tmp_path / "store.db", file) == problem


def test_invalid_utf8_deep_in_a_csv(tmp_path: Path) -> None:
    file = write(calls(request_id=[f"r{i}" for i in range(8)]), tmp_path / "calls.csv")
    lines = file.read_bytes().splitlines(keepends=True)
    lines[6] = lines[6].replace(b"buyer", b"buy\xff")
    file.write_bytes(b"".join(lines))
    assert refusal(tmp_path / "store.db", file, batch_rows=3) == "line 7: not UTF-8 text"


def test_a_csv_row_with_too_many_fields(tmp_path: Path) -> None:
    file = tmp_path / "calls.csv"
    file.write_text("request_id,ts_ms,role,api_id,status_code\na,1,buyer,x,200\nb,2,buyer,x,200,extra\n")
    assert refusal(tmp_path / "store.db", file) == "line 3: 6 fields, the header has 5"


@pytest.mark.parametrize(
    ("line_3", "problem"),
    [
        ('b,2,buyer,"x,200', "line 3: not valid CSV (a quoted field is never closed)"),
        ('b,2,buyer,x"y,200', "line 3: not valid CSV (a quote inside an unquoted field)"),
        ('b,2,buyer,"x"y,200', "line 3: not valid CSV (text after a closing quote)"),
    ],
)
@pytest.mark.parametrize("batch_rows", [1, 100])
def test_broken_csv_quoting_is_named_by_line(tmp_path: Path, line_3: str, problem: str, batch_rows: int) -> None:
    file = tmp_path / "calls.csv"
    file.write_text(f"request_id,ts_ms,role,api_id,status_code\na,1,buyer,x,200\n{line_3}\nc,3,buyer,x,200\n")
    assert refusal(tmp_path / "store.db", file, batch_rows=batch_rows) == problem


def test_an_empty_csv(tmp_path: Path) -> None:
    file = tmp_path / "calls.csv"
    file.write_bytes(b"")
    assert refusal(tmp_path / "store.db", file) == "empty file (no header line)"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"request_id": "e", "ts_ms": 5,', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ("null", "not a JSON object"),
    ],
)
def test_ndjson_that_is_not_json_on_line_5(tmp_path: Path, line: str, problem: str) -> None:
    rows = calls(request_id=["a", "b", "c", "d", "f"]).to_dicts()
    text = [json.dumps(r) for r in rows]
    text.insert(4, line)
    file = tmp_path / "calls.ndjson"
    file.write_text("\n".join(text) + "\n")
    assert refusal(tmp_path / "store.db", file, batch_rows=3) == f"line 5: {problem}"


def test_truncated_parquet(tmp_path: Path) -> None:
    whole = write(calls(request_id=[f"r{i}" for i in range(100)]), tmp_path / "whole.parquet")
    file = tmp_path / "calls.parquet"
    file.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert refusal(tmp_path / "store.db", file).startswith("not a Parquet file (")


def test_parquet_damaged_in_its_second_row_group_adds_nothing(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    file = tmp_path / "calls.parquet"
    calls(request_id=[f"r{i}" for i in range(6_000)]).write_parquet(file, row_group_size=2_000, compression="zstd")
    start = pq.ParquetFile(file).metadata.row_group(1).column(0).data_page_offset
    content = bytearray(file.read_bytes())
    content[start : start + 64] = bytes(64)
    file.write_bytes(bytes(content))
    assert refusal(tmp_path / "store.db", file, batch_rows=1_000).startswith("row 2001: unreadable Parquet data (")


def test_csv_named_parquet(tmp_path: Path) -> None:
    file = tmp_path / "calls.parquet"
    file.write_text("request_id,ts_ms,role,api_id,status_code\n")
    assert refusal(tmp_path / "store.db", file).startswith("not a Parquet file (")


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    text = tmp_path / "calls.txt"
    text.write_text("hello")
    assert refusal(tmp_path / "store.db", text) == (
        "unknown file type .txt (expected .csv, .ndjson, .jsonl or .parquet)"
    )
    assert refusal(tmp_path / "store.db", tmp_path / "absent.csv") == "no such file"


# -- the store ------------------------------------------------------------------


def schema_of(db: Path) -> list[tuple[str, str]]:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        con.close()


def test_a_missing_store_is_created_with_the_contract_schema(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    ingest_file(db, write(calls(), tmp_path / "calls.csv"))
    create_store(tmp_path / "reference.db")
    assert schema_of(db) == schema_of(tmp_path / "reference.db")


def test_an_empty_sqlite_file_gets_the_schema(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    db.write_bytes(b"")
    assert ingest_file(db, write(calls(), tmp_path / "calls.csv")) == IngestResult(added=3, skipped=0)


def test_a_store_that_is_not_sqlite_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store.db"
    db.write_text("not a database, just text " * 100)
    file = write(calls(), tmp_path / "calls.csv")
    with pytest.raises(StoreError, match=r"store\.db: not a SQLite store"):
        ingest_file(db, file)
    assert main(["ingest", "--db", str(db), str(file)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ccanalytics: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_sqlite_file_without_calls_is_refused_and_left_alone(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="no calls table"):
        ingest_file(db, write(calls(), tmp_path / "calls.csv"))
    assert [name for name, _ in schema_of(db)] == ["notes"]


def test_a_store_with_only_the_required_columns_takes_what_it_can_hold(tmp_path: Path) -> None:
    db = tmp_path / "minimal.db"
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE calls (request_id TEXT PRIMARY KEY, ts_ms INTEGER, role TEXT, api_id TEXT, status_code INTEGER)"
    )
    con.commit()
    con.close()
    file = write(calls(latency_ms=[1.0, 2.0, 3.0]), tmp_path / "calls.parquet")
    result = ingest_file(db, file)
    assert result == IngestResult(added=3, skipped=0)
    assert result.ignored_columns == ("latency_ms",)


def test_a_store_whose_calls_lack_a_required_column_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "odd.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE calls (request_id TEXT PRIMARY KEY, ts_ms INTEGER, role TEXT, api_id TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=r"odd\.db: calls lacks column status_code"):
        ingest_file(db, write(calls(), tmp_path / "calls.csv"))


def test_ingest_waits_for_a_writer_that_holds_the_store(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    create_store(db)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, holder.execute, ["COMMIT"])
    release.start()
    try:
        assert ingest_file(db, write(calls(), tmp_path / "calls.csv")) == IngestResult(added=3, skipped=0)
    finally:
        release.join()
        holder.close()


def test_reading_a_file_does_not_lock_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "store.db"
    create_store(db, wal=False)  # the stricter case: a reader would block writers here
    stage = staging.stage
    writes = []

    def stage_while_a_control_center_writes(con: sqlite3.Connection, good: pl.DataFrame) -> list:
        other = sqlite3.connect(db, timeout=0)  # a writer that will not wait
        try:
            other.execute("INSERT INTO events (ts_ms, type, severity, message) VALUES (1, 'backup', 'info', 'x')")
            other.commit()
        finally:
            other.close()
        writes.append(good.height)
        return stage(con, good)

    monkeypatch.setattr(staging, "stage", stage_while_a_control_center_writes)
    file = write(calls(request_id=[f"r{i}" for i in range(5)]), tmp_path / "calls.csv")
    assert ingest_file(db, file, batch_rows=2) == IngestResult(added=5, skipped=0)
    assert writes == [2, 2, 1]


# -- the command ----------------------------------------------------------------


def test_the_progress_bar_goes_to_stderr_and_is_wiped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = write(calls(request_id=[f"r{i}" for i in range(10)]), tmp_path / "calls.csv")
    outcomes = list(ingest(tmp_path / "store.db", [file], batch_rows=4, progress=True))
    assert outcomes == [(str(file), IngestResult(added=10, skipped=0))]
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"\r{file} [")
    assert err.endswith("\r\x1b[K")


def test_the_command_says_per_file_what_it_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "store.db"
    good = write(calls(request_id=[f"r{i}" for i in range(1_000)]), tmp_path / "calls.parquet")
    bad = write(calls(request_id=["x", "y"], role=["buyer", "owner"]), tmp_path / "bad.csv")
    assert main(["ingest", "--db", str(db), str(good), str(bad), str(good)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{good}: added 1 000, skipped 0\n{good}: added 0, skipped 1 000\n"
    assert err == f"ccanalytics: {bad}: refused, nothing added: line 3: role is not buyer or seller\n"
    assert count(db) == 1_000


def test_ingest_reports_each_file_in_order(tmp_path: Path) -> None:
    first = write(calls(request_id=["a"]), tmp_path / "first.ndjson")
    outcomes = list(ingest(tmp_path / "store.db", [first, tmp_path / "none.csv", first]))
    assert [file for file, _ in outcomes] == [str(first), str(tmp_path / "none.csv"), str(first)]
    assert outcomes[0][1] == IngestResult(added=1, skipped=0)
    assert isinstance(outcomes[1][1], IngestError)
    assert outcomes[2][1] == IngestResult(added=0, skipped=1)
