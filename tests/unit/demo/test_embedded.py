"""``demo.embedded``: serve's demo store follows its chain, and its traffic thread moves the chain's USDC."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from ccanalytics.demo.embedded import EmbeddedDemo

if TYPE_CHECKING:
    from pathlib import Path


class _Chain:
    """The demo chain's face to the embedded demo: its wallet's settings, and USDC moved out and in."""

    wallet_address = "0x" + "ab" * 20
    chain_id = 31337
    rpc_url = "http://127.0.0.1:1"
    usdc_address = "0x" + "cd" * 20

    def __init__(self) -> None:
        self.paid: list[int] = []
        self.deposited: list[int] = []
        self.moved = threading.Event()

    def pay(self, micro: int) -> str:
        self.paid.append(micro)
        self.moved.set()
        return "0x" + "00" * 32

    def deposit(self, *, usdc_micro: int) -> None:
        self.deposited.append(usdc_micro)


def _settings(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as con:
        return dict(con.execute("SELECT key, value FROM settings").fetchall())


def test_the_store_names_the_chains_wallet_and_the_demos_panel(tmp_path: Path) -> None:
    demo = EmbeddedDemo(tmp_path, _Chain(), panel_url="http://localhost:8866/voila/files/demo-panel.html", days=1)  # type: ignore[arg-type]
    settings = _settings(demo.path)
    assert settings["wallet_address"] == _Chain.wallet_address
    assert (settings["chain_id"], settings["rpc_url"]) == ("31337", _Chain.rpc_url)
    assert settings["usdc_address"] == _Chain.usdc_address
    assert settings["panel_url"] == "http://localhost:8866/voila/files/demo-panel.html"


def test_traffic_adds_calls_and_pays_for_them_on_the_chain_until_stopped(tmp_path: Path) -> None:
    chain = _Chain()
    demo = EmbeddedDemo(tmp_path, chain, speed=20_000, every_s=0.05, days=1)  # type: ignore[arg-type]
    with sqlite3.connect(demo.path) as con:
        before = con.execute("SELECT count(*), max(ts_ms) FROM calls").fetchone()
    demo.start()
    try:
        assert chain.moved.wait(timeout=30)
    finally:
        demo.stop()
    with sqlite3.connect(demo.path) as con:
        after = con.execute("SELECT count(*) FROM calls").fetchone()[0]
        paid = con.execute(
            "SELECT sum(price_micro) FROM calls WHERE ts_ms > ? AND role = 'buyer'", (before[1],)
        ).fetchone()[0]
    assert after > before[0]
    assert sum(chain.paid) == paid
    count = after
    time.sleep(0.2)
    with sqlite3.connect(demo.path) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == count  # stopped: nothing more
