"""``store.file``: what cannot be a store is refused in one line, before SQLite sees it."""

from __future__ import annotations

import sqlite3

import pytest

from ccanalytics.errors import StoreError
from ccanalytics.store.file import check_file, one_line, uri

MAGIC = b"SQLite format 3\x00"


def a_store(path):
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 50)
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory, not a SQLite store"),
        (lambda p: p.write_bytes(b""), "is empty (0 bytes), not a SQLite store"),
        (lambda p: p.write_text("hello, I am not a database\n" * 10), "is not a SQLite database"),
        (
            lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20),
            "is truncated (36 bytes, less than a SQLite header)",
        ),
    ],
)
def test_what_is_no_store_is_named_in_one_line(tmp_path, make, reason):
    path = tmp_path / "store.db"
    make(path)
    with pytest.raises(StoreError) as caught:
        check_file(path)
    assert str(caught.value) == f"{path}: {reason}"


def test_a_store_cut_short_is_truncated_and_a_whole_one_passes(tmp_path):
    whole = a_store(tmp_path / "whole.db")
    check_file(whole)
    cut = tmp_path / "cut.db"
    cut.write_bytes(whole.read_bytes()[:4096])
    with pytest.raises(StoreError, match=r"cut.db: is truncated \(4096 of \d+ bytes\)"):
        check_file(cut)


def test_the_uri_is_read_only_and_quotes_the_path(tmp_path):
    path = tmp_path / "a store?#.db"
    assert uri(path).startswith("file:/") and uri(path).endswith("/a%20store%3F%23.db?mode=ro")
    a_store(path)
    con = sqlite3.connect(uri(path), uri=True)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        con.execute("INSERT INTO t VALUES (1)")
    con.close()


def test_one_line_keeps_the_first_line_only():
    assert (
        one_line(sqlite3.DatabaseError("database disk image is malformed\nmore")) == "database disk image is malformed"
    )
    assert one_line(RuntimeError("  ")) == "RuntimeError"
