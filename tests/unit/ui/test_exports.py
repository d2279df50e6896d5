"""The page's downloads without polars (ui.exports): what polars, pyarrow and DuckDB read back equals the rows."""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from ccanalytics.ui.exports import csv_bytes, parquet_bytes
from ccanalytics.ui.views import _COLUMNS, export_links

if TYPE_CHECKING:
    from pathlib import Path

COLUMNS = [("api_id", "text"), ("calls", "int"), ("avg_latency_ms", "float"), ("note", "text")]
SCHEMA = pl.Schema({"api_id": pl.String, "calls": pl.Int64, "avg_latency_ms": pl.Float64, "note": pl.String})

texts = st.none() | st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
rows = st.lists(
    st.fixed_dictionaries(
        {
            "api_id": texts,
            "calls": st.none() | st.integers(-(2**63), 2**63 - 1),
            "avg_latency_ms": st.none() | st.floats(allow_nan=False, allow_infinity=False),
            "note": texts,
        }
    ),
    max_size=40,
)


def expected(values: list[dict]) -> list[tuple]:
    return [tuple(row[name] for name, _ in COLUMNS) for row in values]


@settings(max_examples=60, deadline=None)
@given(rows)
def test_every_reader_gets_the_rows_back(tmp_path_factory, values):
    data = parquet_bytes(COLUMNS, values)
    frame = pl.read_parquet(io.BytesIO(data))
    assert frame.schema == SCHEMA and frame.rows() == expected(values)
    assert [tuple(row.values()) for row in pq.read_table(io.BytesIO(data)).to_pylist()] == expected(values)
    path = tmp_path_factory.mktemp("pq") / "rows.parquet"
    path.write_bytes(data)
    assert duckdb.sql(f"SELECT * FROM '{path}'").fetchall() == expected(values)
    # The CSV reads back as the same rows (a null is an empty field, as polars writes it).
    lines = list(csv.reader(io.StringIO(csv_bytes(COLUMNS, values).decode(), newline="")))
    assert lines[0] == [name for name, _ in COLUMNS]
    shown = [["" if v is None else repr(v) if isinstance(v, float) else str(v) for v in r] for r in expected(values)]
    assert lines[1:] == shown


def test_the_csv_reads_as_what_polars_writes_for_the_same_frame():
    values = [
        {"api_id": "a,b", "calls": 3, "avg_latency_ms": 12.5, "note": 'say "hi"\nthen'},
        {"api_id": "ünï", "calls": None, "avg_latency_ms": 1e-07, "note": None},
    ]
    theirs = pl.DataFrame({n: [r[n] for r in values] for n, _ in COLUMNS}, schema=SCHEMA).write_csv()
    ours, polars_rows = (list(csv.reader(io.StringIO(text))) for text in (csv_bytes(COLUMNS, values).decode(), theirs))
    assert ours[0] == polars_rows[0]
    for mine, its in zip(ours[1:], polars_rows[1:], strict=True):
        assert (mine[0], mine[1], mine[3]) == (its[0], its[1], its[3])
        assert math.isclose(float(mine[2]), float(its[2]))


def test_values_of_another_kind_become_nulls_not_errors():
    data = parquet_bytes(COLUMNS, [{"api_id": 7, "calls": "many", "avg_latency_ms": True, "note": 2.5}])
    assert pl.read_parquet(io.BytesIO(data)).rows() == [("7", None, None, "2.5")]


def test_the_page_links_hold_the_breakdown_with_the_snapshot_types(tmp_path: Path):
    breakdown = [{"api_id": "x", "api_name": "X", "calls": 4, "success": 3, "errors": 1, "usdc": "0.400000"}]
    html = export_links(breakdown, [{"ts": "2026-01-01T00:00:00Z", "type": "error", "message": "<b>"}], "stem")
    assert html.count("data:application/vnd.apache.parquet;base64,") == 2
    frame = pl.read_parquet(io.BytesIO(parquet_bytes(_COLUMNS["breakdown"], breakdown)))
    assert frame.schema["calls"] == pl.Int64 and frame.schema["avg_latency_ms"] == pl.Float64
    assert frame.row(0) == ("x", "X", 4, 3, 1, "0.400000", None, None, None)
