"""``ccanalytics.collect``: the recorder's public names, and that none of them needs x402."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import ccanalytics.collect as collect
from ccanalytics.collect.buyer import x402_buyer
from ccanalytics.collect.seller import x402_seller
from ccanalytics.collect.writer import StoreWriter

if TYPE_CHECKING:
    from pathlib import Path


def test_the_public_names_are_the_modules_ones() -> None:
    assert collect.__all__ == ["StoreWriter", "x402_buyer", "x402_seller"]
    assert (collect.StoreWriter, collect.x402_buyer, collect.x402_seller) == (StoreWriter, x402_buyer, x402_seller)


def test_a_writer_from_the_package_records_a_call(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with collect.StoreWriter(path) as writer:
        writer.record({"request_id": "r1", "ts_ms": 1, "role": "seller", "api_id": "GET /a", "status_code": 200})
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT request_id, role, api_id FROM calls").fetchall() == [("r1", "seller", "GET /a")]


def test_importing_collect_loads_no_x402() -> None:
    code = "import sys, ccanalytics.collect; print(any(m.split('.')[0] == 'x402' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
