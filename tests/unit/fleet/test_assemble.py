"""ccanalytics.fleet.assemble: engine frames shaped as the ledger's, and a node's snapshot."""

from __future__ import annotations

import polars as pl

from ccanalytics.fleet.assemble import first_seen, history_view, ordered_issues, recent_rows, settled_totals, shaped
from ccanalytics.metrics.ledger import RECENT_SCHEMA, Totals
from ccanalytics.settings import Settings

from .conftest import NOW


def test_shaped_keeps_the_columns_and_dtypes_of_its_model() -> None:
    like = pl.DataFrame(schema={"a": pl.Int32, "b": pl.String})
    widened = pl.DataFrame(
        {"b": ["x"], "a": [7], "extra": [1]}, schema={"b": pl.String, "a": pl.Int64, "extra": pl.Int8}
    )
    assert shaped(widened, like).schema == like.schema and shaped(widened, like).row(0) == (7, "x")
    assert shaped(None, like).schema == like.schema and shaped(None, like).height == 0


def test_no_history_is_the_empty_totals() -> None:
    totals, empty = settled_totals(None, None, None, None), Totals.empty()
    assert totals.tallies.schema == empty.tallies.schema and totals.tallies.height == 0
    assert totals.names.schema == empty.names.schema and totals.sketch.schema == empty.sketch.schema


def test_recent_rows_are_valid_ledger_rows() -> None:
    assert recent_rows(None).schema == pl.Schema(RECENT_SCHEMA)
    frame = recent_rows(None).drop("rule").with_columns(node=pl.lit("n"))
    assert recent_rows(frame).schema == pl.Schema(RECENT_SCHEMA)


def test_issues_follow_the_contracts_order_of_rules_and_drop_zeros() -> None:
    rules = ["status_code outside 100..599", "missing column x", "role is not buyer or seller", "ts_ms is out of range"]
    counts = pl.DataFrame({"rule": rules, "rows": [2, 1, 3, 0]})
    issues = ordered_issues("calls", counts)
    assert [(i.table, i.rule, i.rows) for i in issues] == [
        ("calls", "missing column x", 1),
        ("calls", "role is not buyer or seller", 3),
        ("calls", "status_code outside 100..599", 2),
    ]
    assert ordered_issues("calls", counts.clear()) == []


def test_ranges_of_a_day_or_more_are_viewed_through_a_history() -> None:
    parts = (settled_totals(None, None, None, None), recent_rows(None), first_seen(None), NOW - 61 * 86_400_000)
    names, apis = (
        Totals.empty().names.lazy(),
        pl.DataFrame(schema={"api_id": pl.String, "name": pl.String, "rule": pl.String}),
    )
    assert history_view(NOW, Settings(), None, parts, names, apis) is None
    assert history_view(NOW, Settings(), "1h", parts, names, apis) is None
    assert history_view(NOW, Settings(), "24h", parts, names, apis)["range"] == "24h"  # type: ignore[index]
    view = history_view(NOW, Settings(), "30d", parts, names, apis)
    assert view is not None and view["range"] == "30d" and view["buyer"]["calls"] == 0
