"""``store.small``: the small tables followed by appends, read again when changed, broken ones as data issues."""

from __future__ import annotations

import sqlite3

from ccanalytics.contract import create_store
from ccanalytics.model import DataIssue
from ccanalytics.store.small import CANNOT_BE_READ, SMALL_TABLES, SmallTables
from ccanalytics.store.sqlite import Source

NOW = 1_795_608_000_000


def execute(path, *statements):
    con = sqlite3.connect(path)
    for sql in statements:
        con.execute(sql)
    con.commit()
    con.close()


def event(i: int) -> str:
    return f"INSERT INTO events (ts_ms, type, severity, message) VALUES ({NOW - i}, 'startup', 'info', 'e{i}')"


def followed(path) -> SmallTables:
    small, source = SmallTables(), Source(path)
    small.follow(source)
    source.close()
    return small


def test_an_empty_store_has_every_small_table_empty_and_no_issue(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    small = followed(path)
    assert sorted(small.frames) == sorted(SMALL_TABLES)
    assert all(frame.height == 0 for frame in small.frames.values())
    assert (small.issues, small.settings_raw) == ({}, {})


def test_appends_are_added_and_a_delete_reads_the_table_again(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    execute(path, event(1), event(2), "INSERT INTO settings (key, value) VALUES ('TimeZone', 'Europe/Berlin')")
    small, source = SmallTables(), Source(path)
    small.follow(source)
    assert small.frames["events"]["message"].to_list() == ["e1", "e2"]
    assert small.settings_raw == {"timezone": "Europe/Berlin"}
    first = small.facts(NOW, 50)
    assert small.facts(NOW, 50) is first  # nothing changed: the same facts
    execute(path, event(3))
    small.follow(source)
    assert small.frames["events"]["message"].to_list() == ["e1", "e2", "e3"]
    assert small.facts(NOW, 50) is not first
    execute(path, "DELETE FROM events WHERE message = 'e1'")
    small.follow(source)
    assert small.frames["events"]["message"].to_list() == ["e2", "e3"]
    source.close()


def test_a_table_lacking_a_column_or_unreadable_is_a_data_issue(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    execute(
        path,
        "DROP TABLE backups",
        "CREATE TABLE backups (file TEXT)",
        "INSERT INTO backups (file) VALUES ('a.db')",
        "DROP TABLE apis",
        "CREATE TABLE gone (x)",
        "CREATE VIEW apis AS SELECT x AS api_id, x AS name, x AS price_micro, x AS registered_ms FROM gone",
        "DROP TABLE gone",
    )
    small = followed(path)
    assert small.issues["backups"] == DataIssue("backups", "lacks column ts_ms", 1)
    assert small.issues["apis"] == DataIssue("apis", CANNOT_BE_READ, 0)
    assert small.frames["backups"].height == 0 and small.frames["apis"].height == 0
