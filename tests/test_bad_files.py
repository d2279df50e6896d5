"""A file that is not a store gets one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys

import pytest

import ccanalytics as cc
from ccanalytics.contract import create_store


def snapshot_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccanalytics.cli", "snapshot", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _full_store(path):
    create_store(path)
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, 'buyer', 'a', 200)",
        [(f"r{i}", 1_700_000_000_000 + i) for i in range(3000)],
    )
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def _truncated(path):
    _full_store(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _no_calls(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, ts_ms INTEGER)")
    con.commit()
    con.close()


def _calls_without_status(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE calls (request_id TEXT PRIMARY KEY, ts_ms INTEGER, role TEXT, api_id TEXT)")
    con.commit()
    con.close()


BAD_FILES = {
    "missing": (lambda p: None, "no such file"),
    "zero bytes": (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "text": (lambda p: p.write_text("request_id,ts_ms\nr1,1\n"), "is not a SQLite database"),
    "truncated": (_truncated, "truncated"),
    "no calls table": (_no_calls, "has no calls table"),
    "calls lacks a column": (_calls_without_status, "calls table lacks column status_code"),
    "directory": (lambda p: p.mkdir(), "is a directory"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_gives_one_line_naming_the_file(tmp_path, case):
    make, problem = BAD_FILES[case]
    path = tmp_path / "store.db"
    make(path)
    result = snapshot_cli("--db", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"ccanalytics: {path}: ")
    assert problem in lines[0]


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_raises_store_error_in_python(tmp_path, case):
    make, problem = BAD_FILES[case]
    path = tmp_path / "store.db"
    make(path)
    with pytest.raises(cc.StoreError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        cc.open_store(path).snapshot(now=1_800_000_000_000)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--now", "yesterday"], "now must be ISO-8601"),
        (["--now", "2026-11-25T12:00:00"], "with a time zone"),
        (["--events", "-1"], "--events must be 0 or more"),
    ],
)
def test_bad_arguments_give_one_line(tmp_path, args, message):
    path = tmp_path / "store.db"
    create_store(path)
    result = snapshot_cli("--db", str(path), *args)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_snapshot_leaves_the_store_bytes_unchanged(tmp_path):
    path = tmp_path / "store.db"
    _full_store(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    result = snapshot_cli("--db", str(path), "--now", "1700000001000")
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_snapshot_works_on_a_read_only_file(tmp_path):
    path = tmp_path / "store.db"
    _full_store(path)
    path.chmod(0o444)
    store = cc.open_store(path)
    assert store.snapshot(now=1_700_000_001_000).buyer.total_calls == 1000
