"""``ccanalytics ingest`` at its limits: huge text values, JSON containers in text columns, a full disk."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import polars as pl
import pytest

from ccanalytics.contract import create_store
from ccanalytics.ingest import MAX_TEXT_CHARS, IngestResult, ingest_file
from tests.test_ingest import calls, count, refusal, stored, write

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.mark.parametrize("fmt", ["csv", "ndjson", "parquet"])
def test_a_huge_text_value_refuses_its_row(tmp_path: Path, fmt: str) -> None:
    names = ["Search", "x" * 10_000_000, "y" * MAX_TEXT_CHARS]
    file = write(calls(api_name=names), tmp_path / f"calls.{fmt}")
    unit = "row" if fmt == "parquet" else "line"
    at = 2 if fmt == "parquet" else 3 if fmt == "csv" else 2
    assert refusal(tmp_path / "store.db", file) == f"{unit} {at}: api_name is longer than {MAX_TEXT_CHARS} characters"


def test_a_text_value_at_the_limit_is_stored_whole(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    file = write(calls(api_name=["y" * MAX_TEXT_CHARS]), tmp_path / "calls.ndjson")
    assert ingest_file(db, file) == IngestResult(added=1, skipped=0)
    assert stored(db)["api_name"].to_list() == ["y" * MAX_TEXT_CHARS]


def test_an_ndjson_object_in_a_text_column_is_refused_like_a_parquet_list(tmp_path: Path) -> None:
    ndjson = tmp_path / "calls.ndjson"
    ndjson.write_text(
        '{"request_id": "a", "ts_ms": 1, "role": "buyer", "api_id": "x", "status_code": 200}\n'
        '{"request_id": "b", "ts_ms": 2, "role": "buyer", "api_id": {"id": "x"}, "status_code": 200}\n'
        '{"request_id": "c", "ts_ms": 3, "role": "buyer", "api_id": ["x"], "status_code": 200}\n'
    )
    parquet = write(
        pl.DataFrame(
            {"request_id": ["a", "b"], "ts_ms": [1, 2], "role": ["buyer"] * 2, "api_id": [["x"], ["x"]]}
        ).with_columns(status_code=pl.lit(200)),
        tmp_path / "calls.parquet",
    )
    assert refusal(tmp_path / "n.db", ndjson) == "line 2: api_id is missing; line 3: api_id is missing"
    assert refusal(tmp_path / "p.db", parquet) == "row 1: api_id is missing; row 2: api_id is missing"


def test_an_ndjson_string_that_looks_like_json_is_kept(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    file = tmp_path / "calls.ndjson"
    file.write_text(
        '{"request_id": "a", "ts_ms": 1, "role": "buyer", "api_id": "x", "status_code": 200, "api_name": "{beta}"}\n'
        '{"request_id": "b", "ts_ms": 2, "role": "buyer", "api_id": "x", "status_code": 200, "api_name": {"n": 1}}\n'
    )
    assert ingest_file(db, file) == IngestResult(added=2, skipped=0)
    assert stored(db)["api_name"].to_list() == ["{beta}", None]  # an object is no name, as in Parquet


# -- a full disk --------------------------------------------------------------------------------------


def _mount(*args: str) -> subprocess.CompletedProcess:
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    return subprocess.run([*sudo, *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (root, or passwordless sudo, mounts it), nearly full."""
    where = tmp_path / "disk"
    where.mkdir()
    mounted = _mount("mount", "-t", "tmpfs", "-o", f"size=1m,uid={os.getuid()}", "tmpfs", str(where))
    if mounted.returncode != 0:
        pytest.fail(f"a full disk needs a small tmpfs (root or `sudo -n mount`): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        _mount("umount", str(where))


def test_ingest_on_a_full_disk_says_so_and_keeps_the_store(small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "cc.db"
    create_store(db)
    assert ingest_file(db, write(calls(), tmp_path / "first.csv")) == IngestResult(added=3, skipped=0)
    filler = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(filler, b"\0" * 4096)
    except OSError:
        pass
    os.ftruncate(filler, os.fstat(filler).st_size - 32 * 1024)  # a little room: the copy fills it
    os.close(filler)
    n = 20_000
    big = calls(request_id=[f"big-{i:06d}-{'p' * 30}" for i in range(n)], ts_ms=list(range(1, n + 1)))
    file = write(big, tmp_path / "big.csv")
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "ingest", "--db", str(db), str(file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"ccanalytics: {file}: refused, nothing added: the disk is full (SQLITE_FULL); the store is unchanged"
    )
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    assert count(db) == 3
    shutil.copy(db, tmp_path / "copy.db")  # a whole, readable file
