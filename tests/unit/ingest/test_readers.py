"""``ingest.readers``: each format as raw batches whose ``_at`` is where the row stands in the file."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from ccanalytics.ingest.readers import READERS, Unreadable, first_line

if TYPE_CHECKING:
    from pathlib import Path

HEADER = "request_id,ts_ms,role,api_id,status_code"


def _batches(path: Path, batch_rows: int = 2) -> list[pl.DataFrame]:
    return list(READERS[path.suffix](path, batch_rows).batches())


def test_csv_rows_are_located_by_physical_line_across_batches_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(f'{HEADER},api_name\na,1,buyer,x,200,"two\nlines"\n\nb,2,buyer,x,200,\nc,3,buyer,x,200,z\n')
    frame = pl.concat(_batches(path))
    assert frame["_at"].to_list() == [2, 5, 6]
    assert frame["api_name"].to_list() == ["two\nlines", None, "z"]


def test_csv_names_the_columns_it_ignores(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(f"{HEADER},latency\na,1,buyer,x,200,5\n")
    reader = READERS[".csv"](path, 10)
    list(reader.batches())
    assert reader.ignored == ("latency",)
    assert reader.present == ("request_id", "ts_ms", "role", "api_id", "status_code")


def test_ndjson_skips_blank_lines_but_counts_them_and_fills_defaults(tmp_path: Path) -> None:
    path = tmp_path / "calls.ndjson"
    line = '{"request_id": "%s", "ts_ms": 1, "role": "buyer", "api_id": "x", "status_code": 200}\n'
    path.write_text(line % "a" + "\n" + line % "b")
    frame = pl.concat(_batches(path, batch_rows=10))
    assert frame["_at"].to_list() == [1, 3]
    assert frame["price_micro"].to_list() == [0, 0]


def test_parquet_rows_count_from_one(tmp_path: Path) -> None:
    path = tmp_path / "calls.parquet"
    pl.DataFrame({"request_id": ["a", "b", "c"], "ts_ms": [1, 2, 3], "role": "buyer", "api_id": "x",
                  "status_code": 200}).write_parquet(path)  # fmt: skip
    assert pl.concat(_batches(path))["_at"].to_list() == [1, 2, 3]


@pytest.mark.parametrize(
    ("name", "text", "at", "why"),
    [
        ("calls.csv", "request_id,ts_ms\n", None, "lacks columns role, api_id, status_code"),
        ("calls.csv", f"{HEADER},ts_ms\n", None, "column ts_ms appears twice"),
        ("calls.csv", "", None, "empty file (no header line)"),
        ("calls.ndjson", '{"request_id": "a"}\n[1]\n', 2, "not a JSON object"),
        ("calls.parquet", "PAR1 but not really", None, "not a Parquet file"),
    ],
)
def test_a_file_that_stops_being_its_format_says_where(tmp_path: Path, name: str, text: str, at: int | None, why: str):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(Unreadable) as caught:
        _batches(path)
    assert caught.value.at == at
    assert caught.value.text.startswith(why)


def test_first_line_keeps_an_errors_first_line_short() -> None:
    assert first_line(ValueError("bad\nmore")) == "bad"
    assert first_line(ValueError("x" * 500)) == "x" * 120
    assert first_line(ValueError("")) == "ValueError"
