"""``ccanalytics.demo``: ``write_demo`` writes a new, reproducible demo store (a buyer and seller node)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest

import ccanalytics.demo as demo
from ccanalytics.errors import CCError
from ccanalytics.units import DAY_MS

if TYPE_CHECKING:
    from pathlib import Path

NOW_MS = 1_795_608_000_000  # a whole minute: 2026-11-25T12:00:00Z


def dump(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as con:
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("calls", "events", "balance_snapshots", "apis", "backups", "settings")
        }


def test_the_public_names() -> None:
    assert demo.__all__ == ["DEMO_WALLET", "TIMEOUT_MS", "append_traffic", "write_demo"]
    assert demo.DEMO_WALLET.startswith("0x") and len(demo.DEMO_WALLET) == 42


def test_two_days_of_a_node_that_buys_and_sells_every_row_before_now(tmp_path: Path) -> None:
    path = tmp_path / "demo.db"
    demo.write_demo(path, seed=1, days=2, now_ms=NOW_MS, timezone="Asia/Tokyo")
    tables = dump(path)
    with sqlite3.connect(path) as con:
        roles = {r for (r,) in con.execute("SELECT DISTINCT role FROM calls")}
        first, last = con.execute("SELECT min(ts_ms), max(ts_ms) FROM calls").fetchone()
        settings = dict(con.execute("SELECT key, value FROM settings"))
    assert roles == {"buyer", "seller"}
    assert first >= NOW_MS - 2 * DAY_MS and last < NOW_MS
    assert all(row[1] < NOW_MS for row in tables["events"])
    assert settings["timezone"] == "Asia/Tokyo"
    assert settings["wallet_address"] == demo.DEMO_WALLET
    assert settings["chain_id"] == "84532"
    assert "rpc_url" not in settings  # written only when given
    assert tables["balance_snapshots"] and tables["backups"]


def test_the_same_seed_and_now_give_identical_tables(tmp_path: Path) -> None:
    demo.write_demo(tmp_path / "a.db", seed=7, days=1, now_ms=NOW_MS)
    demo.write_demo(tmp_path / "b.db", seed=7, days=1, now_ms=NOW_MS)
    demo.write_demo(tmp_path / "c.db", seed=8, days=1, now_ms=NOW_MS)
    assert dump(tmp_path / "a.db") == dump(tmp_path / "b.db")
    assert dump(tmp_path / "a.db")["calls"] != dump(tmp_path / "c.db")["calls"]


def test_no_backups_when_asked(tmp_path: Path) -> None:
    demo.write_demo(tmp_path / "demo.db", days=1, now_ms=NOW_MS, backup_age_days=None)
    assert dump(tmp_path / "demo.db")["backups"] == []


def test_an_existing_file_or_no_days_is_one_line_and_nothing_written(tmp_path: Path) -> None:
    existing = tmp_path / "mine.db"
    existing.write_bytes(b"precious")
    with pytest.raises(CCError, match="already exists"):
        demo.write_demo(existing, now_ms=NOW_MS)
    assert existing.read_bytes() == b"precious"
    with pytest.raises(CCError, match="days must be at least 1, not 0"):
        demo.write_demo(tmp_path / "new.db", days=0, now_ms=NOW_MS)
    assert not (tmp_path / "new.db").exists()
