"""``store.scan``: lazy scans of the valid rows, with local times, projections, filters and limits."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from zoneinfo import ZoneInfo

import polars as pl

from ccanalytics.contract import create_store
from ccanalytics.errors import StoreError
from ccanalytics.store.scan import Tables, scan

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z


def store(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    con = sqlite3.connect(path)
    rows = [(f"r{i}", NOW - i, "buyer", "a", 200 if i % 2 else 500) for i in range(5)]
    rows.append(("bad", NOW, "nobody", "a", 200))  # breaks the role rule: never scanned
    con.executemany("INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return path


def test_a_scan_has_the_valid_rows_with_their_local_time_first(tmp_path):
    calls = scan(store(tmp_path), "calls", "Europe/Berlin").collect()
    assert calls.columns[:3] == ["ts", "request_id", "ts_ms"]
    assert calls.height == 5
    assert calls["ts"][0] == datetime(2026, 11, 25, 13, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_without_a_zone_there_is_no_local_time(tmp_path):
    assert "ts" not in scan(store(tmp_path), "calls", None).collect_schema()


def test_projections_filters_and_limits_reach_the_rows(tmp_path):
    calls = scan(store(tmp_path), "calls", "UTC")
    failed = calls.filter(pl.col("status_code") == 500).select("request_id").collect()
    assert failed["request_id"].to_list() == ["r0", "r2", "r4"]
    assert calls.head(2).collect().height == 2


def test_a_table_the_store_lacks_scans_as_empty(tmp_path):
    path = store(tmp_path)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE backups")
    con.close()
    assert scan(path, "backups", "UTC").collect().height == 0


class Fixed(Tables):
    """Tables over a file, with settings given here (or unreadable)."""

    def __init__(self, path, pairs):
        self.path, self.pairs = path, pairs

    def _settings_pairs(self):
        if self.pairs is None:
            raise StoreError("settings cannot be read")
        return self.pairs


def test_tables_show_times_in_the_settings_zone_and_utc_when_it_cannot_be_read(tmp_path):
    path = store(tmp_path)
    berlin = Fixed(path, {"timezone": "Europe/Berlin"})
    assert berlin.calls.collect_schema()["ts"] == pl.Datetime("ms", "Europe/Berlin")
    assert Fixed(path, None).events.collect_schema()["ts"] == pl.Datetime("ms", "UTC")
    assert Fixed(path, {"timezone": "Mars/Base"}).backups.collect_schema()["ts"] == pl.Datetime("ms", "UTC")
    assert berlin.settings.collect().rows() == [("timezone", "Europe/Berlin")]
    assert berlin.apis.collect().height == 0 and berlin.balance_snapshots.collect().height == 0
