"""metrics/alltime.py: both roles' all-time figures equal the polars breakdown of views.md, row for row."""

from __future__ import annotations

import polars as pl
import pytest

from ccanalytics.metrics import alltime, formulas
from ccanalytics.metrics import views as ranged
from ccanalytics.metrics.ledger import Totals


def calls(*rows: tuple) -> pl.DataFrame:
    """Clean call rows: (ts_ms, role, api_id, api_name, status_code, latency_ms, price_micro, revenue_micro)."""
    names = ("ts_ms", "role", "api_id", "api_name", "status_code", "latency_ms", "price_micro", "revenue_micro")
    frame = pl.DataFrame([dict(zip(names, row, strict=True)) for row in rows], schema_overrides={"api_name": pl.String})
    return frame.with_columns(request_id=pl.format("r{}", pl.int_range(pl.len())), rule=pl.lit(None, pl.String))


APIS = pl.DataFrame(
    {"api_id": ["b", "b", "e", "n"], "name": ["Bee", "Bea", "", None]}  # the last row of an id wins; "" is a name
)
ROWS = calls(
    (1, "buyer", "a", "A", 200, 10.0, 5, 0),
    (2, "buyer", "b", None, 500, None, 2**62, 0),
    (3, "buyer", "b", "B", 200, 0.0, 2**62, 0),
    (4, "buyer", "c", None, 200, None, 1, 0),  # no latency: no p95, no average
    (5, "seller", "a", "A2", 200, 30.0, 9, 8),
    (6, "seller", "e", None, 404, 7.5, 3, 2),
    (7, "seller", "n", None, 200, 1.0, 3, 2),
    (8, "buyer", "a", "A", 200, 20.0, 5, 0),
)


def expected(totals: Totals, apis: pl.DataFrame, role: str) -> pl.DataFrame:
    sketches, names = totals.sketch.lazy(), totals.names.lazy()
    return ranged.all_time_breakdown(totals.tallies.lazy(), sketches, names, apis.lazy(), role).collect()


@pytest.mark.parametrize("rows", [ROWS, ROWS.head(0), ROWS.filter(pl.col("role") == "seller")])
def test_breakdowns_equal_the_polars_breakdown(rows: pl.DataFrame) -> None:
    totals = Totals.empty().plus(rows)
    figures = alltime.breakdowns(totals, alltime.p95_query(totals.sketch.lazy()).collect(), APIS)
    for role in formulas.ROLES:
        assert figures[role].breakdown.equals(expected(totals, APIS, role))  # values, dtypes and order
        assert figures[role].breakdown.schema == alltime.BREAKDOWN_SCHEMA
        mine = rows.filter(pl.col("role") == role)
        assert figures[role].calls == mine.height
        assert figures[role].money == sum(mine[formulas.money_column(role)].to_list())  # Int128: never wraps


def test_names_registered_then_called_then_the_id() -> None:
    totals = Totals.empty().plus(ROWS)
    figures = alltime.breakdowns(totals, alltime.p95_query(totals.sketch.lazy()).collect(), APIS)
    buyer = dict(figures["buyer"].breakdown.select("api_id", "api_name").rows())
    seller = dict(figures["seller"].breakdown.select("api_id", "api_name").rows())
    assert buyer == {"a": "A", "b": "Bea", "c": "c"}
    assert seller == {"a": "A", "e": "", "n": "n"}  # the latest call of either role; no registered name: falls through


def test_p95_query_is_the_sketch_percentile() -> None:
    totals = Totals.empty().plus(ROWS)
    p95 = alltime.p95_query(totals.sketch.lazy()).collect().sort("role", "api_id")
    assert p95.rows() == [("buyer", "a", pytest.approx(20.0, rel=0.005)), ("buyer", "b", 0.0)] + [
        ("seller", api, pytest.approx(value, rel=0.005)) for api, value in (("a", 30.0), ("e", 7.5), ("n", 1.0))
    ]
