"""``schema``: a table described once gives its DDL, its store order and its first broken rule."""

from __future__ import annotations

import polars as pl

from ccanalytics.schema import Column, Table, first_broken_rule

ID = Column("id", pl.Int64, ("integer",), primary_key=True, autoincrement=True, not_null=False)
NAME = Column("name", pl.String, ("text",))
NOTE = Column("note", pl.String, ("text",), required=False)
SCORE = Column("score", pl.Float64, ("integer", "real"), required=False, default=0)
LABEL = Column("label", pl.String, ("text",), required=False, default="it's")

TABLE = Table(
    "t",
    (ID, NAME, SCORE),
    (("name is missing", pl.col("name").is_null()), ("score is negative", pl.col("score") < 0)),
    descriptive=(NOTE, LABEL),
)


def test_each_columns_declaration() -> None:
    assert [c.declaration for c in (ID, NAME, NOTE, SCORE, LABEL)] == [
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "TEXT NOT NULL",
        "TEXT",
        "REAL NOT NULL DEFAULT 0",
        "TEXT NOT NULL DEFAULT 'it''s'",
    ]
    assert Column("key", pl.String, ("text",), primary_key=True).declaration == "TEXT PRIMARY KEY NOT NULL"


def test_the_ddl_lists_the_columns_in_store_order_aligned() -> None:
    assert TABLE.ddl == (
        "CREATE TABLE IF NOT EXISTS t (\n"
        "    id    INTEGER PRIMARY KEY AUTOINCREMENT,\n"
        "    name  TEXT NOT NULL,\n"
        "    score REAL NOT NULL DEFAULT 0,\n"
        "    note  TEXT,\n"
        "    label TEXT NOT NULL DEFAULT 'it''s'\n"
        ")"
    )
    reordered = Table("t", (ID, NAME, SCORE), (), descriptive=(NOTE,), order=("note", "id", "name", "score"))
    assert [c.name for c in reordered.stored] == ["note", "id", "name", "score"]
    assert list(reordered.full_schema) == ["id", "name", "score", "note"]  # what a reader gives keeps its order


def test_schemas_and_required_columns() -> None:
    assert TABLE.schema == {"id": pl.Int64, "name": pl.String, "score": pl.Float64}
    assert list(TABLE.full_schema) == ["id", "name", "score", "note", "label"]
    assert TABLE.required == ("id", "name")


def test_the_first_broken_rule_names_each_bad_row_once_and_no_rows_stay_no_rows() -> None:
    frame = pl.DataFrame({"name": [None, "a", None, "b"], "score": [-1.0, -1.0, 1.0, 1.0]})
    assert frame.select(first_broken_rule(TABLE)).to_series().to_list() == [
        "name is missing",
        "score is negative",
        "name is missing",
        None,
    ]
    empty = frame.head(0).select(first_broken_rule(TABLE))
    assert empty.height == 0 and empty.dtypes == [pl.String]
