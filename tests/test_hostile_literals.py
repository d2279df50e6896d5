"""Stores written by someone else, case by case: each gives the reference's figures or one line, never a hang."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

import ccanalytics as cc
from ccanalytics.contract import create_store
from ccanalytics.errors import CCError
from tests.support.reference import assert_snapshots_equal, reference_snapshot

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR = 3_600_000
MIN_MS = -62_135_596_800_000
MAX_MS = 253_402_300_799_999


def snapshot_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccanalytics.cli", "snapshot", *args], capture_output=True, text=True, timeout=timeout
    )


def loose_store(path, calls, *, table="calls", columns=None, extra="", without_rowid=False):
    """A calls table without declared types; ``calls`` are (rowid or None, request_id, ts_ms, role, price)."""
    names = columns or ("request_id", "ts_ms", "role", "api_id", "status_code", "price_micro")
    con = sqlite3.connect(path)
    key = " PRIMARY KEY" if without_rowid else ""
    items = ", ".join(f'"{c}"' + (key if i == 0 else "") for i, c in enumerate(names))
    con.execute(f'CREATE TABLE "{table}" ({items}{extra}){" WITHOUT ROWID" if without_rowid else ""}')
    for rowid, request_id, ts, role, price in calls:
        values = [request_id, ts, role, "api-a", 200, price]
        if rowid is None or without_rowid:
            con.execute(f'INSERT INTO "{table}" ({", ".join(names)}) VALUES (?, ?, ?, ?, ?, ?)', values)
        else:
            con.execute(
                f'INSERT INTO "{table}" (_rowid_, {", ".join(names)}) VALUES (?, ?, ?, ?, ?, ?, ?)', [rowid, *values]
            )
    con.commit()
    con.close()
    return path


def both(path, now=NOW):
    expected = reference_snapshot(str(path), now)
    with cc.open_store(path, cache=False) as store:
        actual = store.snapshot(now=now).to_dict()
    assert_snapshots_equal(actual, expected)
    return actual


def within_a_minute(path, now=NOW):
    """The snapshot command's JSON, which must come within a minute, compared with the reference."""
    result = snapshot_cli("--db", str(path), "--now", str(now), timeout=60)
    assert result.returncode == 0, result.stderr
    actual = json.loads(result.stdout)
    assert_snapshots_equal(actual, reference_snapshot(str(path), now))
    return actual


# -- sums, rowids, names --------------------------------------------------------------


def test_money_sums_never_wrap(tmp_path):
    path = loose_store(tmp_path / "s.db", [(None, f"r{i}", NOW - HOUR, "buyer", 4 * 10**18) for i in range(3)])
    snap = both(path)
    assert snap["buyer"]["spent_24h_usdc"] == "12000000000000.000000"
    assert snap["buyer"]["breakdown"][0]["usdc"] == "12000000000000.000000"


@pytest.mark.parametrize(
    "rowids",
    [
        [-(2**63), -5, -1],  # negative: never read by ranges starting at 0
        [2**63 - 3, 2**63 - 2, 2**63 - 1],  # huge
        [i << 40 for i in range(1, 200)],  # snowflake-like: 10**13 empty ranges of 100 000
        [-(2**62), 0, 2**62],
    ],
    ids=["negative", "huge", "sparse", "mixed"],
)
def test_any_rowids_are_all_read_and_quickly(tmp_path, rowids):
    path = loose_store(tmp_path / "s.db", [(r, f"r{i}", NOW - HOUR, "buyer", 1) for i, r in enumerate(rowids)])
    assert within_a_minute(path)["buyer"]["calls_24h"] == len(rowids)


def test_a_column_named_rowid_does_not_hide_the_real_one(tmp_path):
    path = loose_store(
        tmp_path / "s.db", [(10 - i, f"r{i}", NOW - HOUR, "buyer", 1) for i in range(5)], extra=', "rowid", "a""b"'
    )
    con = sqlite3.connect(path)
    con.execute('UPDATE calls SET "rowid" = 1, "a""b" = 2')  # every row: the same "rowid"
    con.commit()
    con.close()
    with cc.open_store(path, cache=False) as store:
        assert store.snapshot(now=NOW).buyer.calls_24h == 5
        con = sqlite3.connect(path)
        con.execute("INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, price_micro) "
                    "VALUES ('new', ?, 'buyer', 'api-a', 200, 1)", (NOW - 1,))  # fmt: skip
        con.commit()
        con.close()
        assert store.snapshot(now=NOW).buyer.calls_24h == 6  # followed incrementally, by the real rowid
    both(path)


def test_without_rowid_calls_and_upper_case_names(tmp_path):
    path = loose_store(
        tmp_path / "s.db",
        [(None, f"r{i}", NOW - i * HOUR, "seller", 10) for i in range(1, 30)],
        table="CALLS",
        columns=("Request_ID", "TS_MS", "Role", "API_ID", "Status_Code", "PRICE_MICRO"),
        without_rowid=True,
    )
    assert within_a_minute(path)["seller"]["calls_24h"] == 24


def test_settings_keys_ignore_case_and_the_last_row_wins(tmp_path):
    path = tmp_path / "s.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE settings")
    con.execute("CREATE TABLE settings (key, value)")
    con.executemany(
        "INSERT INTO settings VALUES (?, ?)",
        [("timezone", "Asia/Kolkata"), ("Timezone", "Europe/Berlin"), ("CHAIN_ID", 84532), ("panel_url", "ftp://x"),
         ("PANEL_URL", "https://p.example/panel")],
    )  # fmt: skip
    con.commit()
    con.close()
    snap = both(path)
    assert (snap["timezone"], snap["panel_url"], snap["data_issues"]) == (
        "Europe/Berlin",
        "https://p.example/panel",
        [],
    )


# -- text that is not UTF-8 ---------------------------------------------------------------


def test_invalid_utf8_is_replaced_in_descriptive_columns_and_bad_in_keys(tmp_path):
    path = tmp_path / "s.db"
    create_store(path)
    con = sqlite3.connect(path)
    rows = [
        ("r1", "api-a", b"Caf\xe9", "buyer"),  # a name: read with a replacement character
        ("r2", "api-a", None, b"buy\xe9r"),  # a role: the row is bad
        ("r3", b"api-\xff", None, "buyer"),  # an api_id: bad
    ]
    for request_id, api_id, name, role in rows:
        con.execute(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, api_name, status_code) "
            "VALUES (?, ?, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), 200)",
            (request_id, NOW - HOUR, role, api_id, name),
        )
    con.execute("INSERT INTO events (ts_ms, type, severity, message) VALUES (?, 'error', 'error', CAST(? AS TEXT))",
                (NOW - HOUR, b"disk \xff full"))  # fmt: skip
    con.execute("INSERT INTO settings VALUES ('timezone', CAST(? AS TEXT))", (b"Europe/Berl\xffn",))
    con.commit()
    con.close()
    snap = both(path)
    assert snap["buyer"]["breakdown"][0]["api_name"] == "Caf\ufffd"
    assert snap["events"][0]["message"] == "disk \ufffd full"
    assert {(i["table"], i["rule"], i["rows"]) for i in snap["data_issues"]} == {
        ("calls", "role is not valid text", 1),
        ("calls", "api_id is not valid text", 1),
        ("settings", "timezone is not a known time zone", 1),
    }


def test_a_value_of_another_class_beyond_the_first_thousand_rows_is_judged(tmp_path):
    path = tmp_path / "s.db"
    create_store(path)  # declared types: the fast path
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, 'buyer', 'api-a', 200)",
        [(f"r{i}", NOW - HOUR) for i in range(3000)],
    )
    con.execute("UPDATE calls SET ts_ms = 'noon' WHERE request_id = 'r2000'")
    con.execute("UPDATE calls SET role = CAST('buyer' AS BLOB) WHERE request_id = 'r2500'")
    con.execute("UPDATE calls SET status_code = 200.5 WHERE request_id = 'r2600'")
    con.commit()
    con.close()
    snap = both(path)
    assert snap["buyer"]["calls_24h"] == 2997


# -- times out of range --------------------------------------------------------------------


@pytest.mark.parametrize("ts", [MIN_MS - 1, MAX_MS + 1, -(2**62), 2**62, -(2**63), 2**63 - 1])
def test_a_row_time_outside_years_1_to_9999_is_a_bad_row(tmp_path, ts):
    path = tmp_path / "s.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.execute("INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('r', ?, 'buyer', 'a', 200)",
                (ts,))  # fmt: skip
    con.execute("INSERT INTO backups (ts_ms) VALUES (?)", (ts,))
    con.execute("INSERT INTO events (ts_ms, type, severity, message) VALUES (?, 'startup', 'info', 'm')", (ts,))
    con.commit()
    con.close()
    snap = both(path)
    assert [(i["table"], i["rule"]) for i in snap["data_issues"]] == [
        ("calls", "ts_ms is out of range"),
        ("events", "ts_ms is out of range"),
        ("backups", "ts_ms is out of range"),
    ]
    assert snap["last_backup"] is None


@pytest.mark.parametrize("ts", [MIN_MS, MIN_MS + 1, MAX_MS])
def test_row_times_at_the_edges_of_the_range_are_shown(tmp_path, ts):
    path = tmp_path / "s.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.execute("INSERT INTO backups (ts_ms) VALUES (?)", (ts,))
    con.commit()
    con.close()
    now = MAX_MS if ts == MAX_MS else NOW
    snap = both(path, now=now)
    assert snap["last_backup"] == (
        None if ts == MAX_MS else ("0001-01-01T00:00:00Z" if ts == MIN_MS else "0001-01-01T00:00:00.001Z")
    )


@pytest.mark.parametrize(
    "now",
    [
        "0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "9999-12-31T23:00:00-05:00",
        "0001-01-01T00:30:00+01:00",
        str(2**63),
        str(-(2**63)),
        str(MAX_MS + 1),
        "99999999999999999999999",
    ],
)
def test_a_now_out_of_range_is_a_usage_error(tmp_path, now):
    path = tmp_path / "s.db"
    create_store(path)
    result = snapshot_cli("--db", str(path), "--now", now)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("ccanalytics: --now ")
    with pytest.raises(CCError):
        cc.open_store(path).snapshot(now=now)


@pytest.mark.parametrize("now", ["9999-12-31T23:59:59.999Z", "9999-12-31T23:00:00+14:00", "0001-01-03T00:00:00Z"])
def test_a_now_at_the_edges_of_the_range_works(tmp_path, now):
    path = tmp_path / "s.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.execute("INSERT INTO settings VALUES ('timezone', 'Pacific/Kiritimati')")
    con.commit()
    con.close()
    result = snapshot_cli("--db", str(path), "--now", now)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("events", ["1e20", "100000000000000000000", "-1", "ten", str(2**63)])
def test_events_out_of_range_is_a_usage_error(tmp_path, events):
    path = tmp_path / "s.db"
    create_store(path)
    result = snapshot_cli("--db", str(path), "--events", events)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "--events must be 0 or more" in result.stderr


# -- files ------------------------------------------------------------------------------


def test_a_name_too_long_is_one_line(tmp_path):
    result = snapshot_cli("--db", str(tmp_path / ("x" * 300)))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot be read" in result.stderr


def test_corrupt_pages_met_mid_read_are_one_line(tmp_path):
    path = tmp_path / "s.db"
    create_store(path, wal=False)
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code, api_name)"
        " VALUES (?, ?, 'buyer', 'a', 200, ?)",
        [(f"r{i}", NOW - HOUR, "n" * 200) for i in range(5000)],
    )
    con.commit()
    con.close()
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for at in range(len(data) // 2, len(data) - page, page * 7):  # scribble over pages in the middle of calls
        data[at + 8 : at + 200] = b"\xa5" * 192
    path.write_bytes(bytes(data))
    result = snapshot_cli("--db", str(path), "--now", str(NOW))
    assert result.returncode == 1, result.stdout[:200]
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"ccanalytics: {path}: ")


def test_a_stale_header_page_count_that_sqlite_reads_is_not_refused(tmp_path):
    path = tmp_path / "s.db"
    create_store(path, wal=False)
    con = sqlite3.connect(path)
    con.execute("INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('r', ?, 'buyer', 'a', 200)",
                (NOW - HOUR,))  # fmt: skip
    con.commit()
    con.close()
    data = bytearray(path.read_bytes())
    data[28:32] = (10_000).to_bytes(4, "big")  # a page count far beyond the file...
    data[92:96] = (int.from_bytes(data[24:28], "big") - 1).to_bytes(4, "big")  # ...from an older writer
    path.write_bytes(bytes(data))
    assert both(path)["buyer"]["calls_24h"] == 1


def test_an_optional_table_that_cannot_be_read_is_a_data_issue(tmp_path):
    path = tmp_path / "s.db"
    create_store(path)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE events")
    con.execute("CREATE TABLE gone (x)")
    con.execute("CREATE VIEW events AS SELECT * FROM gone")
    con.execute("DROP TABLE gone")
    con.commit()
    con.close()
    snap = both(path)
    assert snap["data_issues"] == [{"table": "events", "rule": "cannot be read", "rows": 0}]


def test_a_calls_view_that_cannot_be_read_refuses_the_store(tmp_path):
    path = tmp_path / "s.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE gone (x)")
    con.execute("CREATE VIEW calls AS SELECT * FROM gone")
    con.execute("DROP TABLE gone")
    con.commit()
    con.close()
    result = snapshot_cli("--db", str(path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "calls table cannot be read" in result.stderr
