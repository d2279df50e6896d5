"""``export``: a store as the fleet's Parquet lake (fleet.md): a folder per node and UTC day; reruns change nothing."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import polars as pl
import pytest

from ccanalytics.errors import CCError
from ccanalytics.fleet.lake import REDACTED, day_text, export, node_name
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

DAY_MS = 86_400_000
NOV_24 = 1_795_478_400_000  # 2026-11-24T00:00:00Z


def store(path: Path) -> str:
    builder = StoreBuilder(str(path)).setting("rpc_url", "https://rpc.example/v2/SECRETKEY").api("w", "Weather")
    builder.call(NOV_24 + 1_000, role="seller", api_id="w", price_micro=1_000, consumer="k1")
    builder.call(NOV_24 + DAY_MS - 1, role="buyer", api_id="x", status_code=502)
    builder.call(NOV_24 + DAY_MS, role="buyer", api_id="x")  # the next UTC day
    builder.call(NOV_24 + DAY_MS + 5, role="buyer", api_id="x", status_code=99)  # breaks a rule
    return builder.write()


@pytest.mark.parametrize("good", ["seller-eu.1", "A", "n_1", "x" * 128])
def test_node_names_fit_a_partition_folder(good: str) -> None:
    assert node_name(good) == good


@pytest.mark.parametrize("bad", ["a/b", "", ".hidden", "-x", "_x", "x" * 129, "a b", "ü"])
def test_other_node_names_are_one_line_saying_what_is_allowed(bad: str) -> None:
    with pytest.raises(CCError, match="must be letters, digits"):
        node_name(bad)


def test_days_are_utc_days() -> None:
    days = pl.select(day_text(pl.Series([NOV_24, NOV_24 + DAY_MS - 1, NOV_24 + DAY_MS], dtype=pl.Int64)))
    assert days.to_series().to_list() == ["2026-11-24", "2026-11-24", "2026-11-25"]


def test_the_lake_holds_the_valid_calls_per_day_and_the_bad_ones_as_issues(tmp_path: Path) -> None:
    db, lake = store(tmp_path / "node-a.db"), tmp_path / "lake"
    report = export(db, lake)
    assert (report.node, report.calls, report.bad_rows, report.days) == ("node-a", 3, 1, 2)
    first = pl.read_parquet(lake / "calls" / "node=node-a" / "day=2026-11-24" / "data.parquet")
    assert sorted(first["role"].to_list()) == ["buyer", "seller"]
    second = pl.read_parquet(lake / "calls" / "node=node-a" / "day=2026-11-25" / "data.parquet")
    assert second["status_code"].to_list() == [200]
    issues = pl.read_parquet(lake / "issues" / "node=node-a" / "day=2026-11-25" / "data.parquet")
    assert issues.select("table", "rows").rows() == [("calls", 1)]
    settings = dict(pl.read_parquet(lake / "settings" / "node=node-a" / "data.parquet").rows())
    assert settings["rpc_url"] == REDACTED  # an API key never reaches the lake
    assert pl.read_parquet(lake / "nodes" / "node=node-a" / "data.parquet")["last_day"].item() == "2026-11-25"
    assert pl.read_parquet(lake / "apis" / "node=node-a" / "data.parquet")["api_id"].to_list() == ["w"]


def test_exporting_twice_writes_nothing_and_a_new_call_rewrites_only_its_day(tmp_path: Path) -> None:
    db, lake = store(tmp_path / "node-a.db"), tmp_path / "lake"
    export(db, lake, node="a")
    again = export(db, lake, node="a")
    assert again.written == 0 and again.unchanged > 0
    with sqlite3.connect(db) as con:
        con.execute(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, price_micro, revenue_micro, demo)"
            " VALUES ('late', ?, 'buyer', 'x', 200, 0, 0, 0)",
            (NOV_24 + DAY_MS + 60_000,),
        )
    export(db, lake, node="a")
    day = pl.read_parquet(lake / "calls" / "node=a" / "day=2026-11-25" / "data.parquet")
    assert "late" in day["request_id"].to_list()


def test_a_lake_that_is_a_file_or_a_bad_node_is_one_line(tmp_path: Path) -> None:
    db = store(tmp_path / "node-a.db")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CCError, match="is not a folder"):
        export(db, tmp_path / "file")
    with pytest.raises(CCError, match="node name"):
        export(db, tmp_path / "lake", node="../escape")
    assert not (tmp_path / "lake").exists()


def test_an_empty_store_exports_its_mark_and_no_days(tmp_path: Path) -> None:
    from ccanalytics.contract import create_store

    create_store(tmp_path / "empty.db")
    report = export(tmp_path / "empty.db", tmp_path / "lake")
    assert (report.calls, report.days) == (0, 0)
    assert pl.read_parquet(tmp_path / "lake" / "nodes" / "node=empty" / "data.parquet")["last_day"].item() is None
