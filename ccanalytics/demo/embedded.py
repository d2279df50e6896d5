"""The embedded demo of ``ccanalytics serve``: a fresh demo store, a demo chain holding its wallet, live traffic.

Every few seconds a thread adds the calls that "happened" since the last tick
(``append_traffic``) and moves the USDC they cost on the in-process chain, so
the page's balances and figures move as a real node's would.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
from typing import TYPE_CHECKING

from ccanalytics.demo import write_demo
from ccanalytics.demo.traffic import append_traffic
from ccanalytics.errors import CCError
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    from pathlib import Path

    from ccanalytics.chain.demochain import DemoChain

__all__ = ["TRAFFIC_EVERY_S", "TRAFFIC_SCALE", "EmbeddedDemo"]

TRAFFIC_EVERY_S = 2.0
# The live traffic follows the history's own rhythm (×1): faster, the current hour would dwarf the
# chart's 48 hours within minutes. CCANALYTICS_DEMO_SPEED multiplies it (a livelier demo, or tests).
TRAFFIC_SCALE = 1.0


class EmbeddedDemo:
    """A fresh demo store, an in-process chain holding its wallet, and live traffic."""

    def __init__(
        self,
        folder: Path,
        chain: DemoChain,
        seed: int = 0,
        speed: float = TRAFFIC_SCALE,
        panel_url: str | None = None,
        every_s: float = TRAFFIC_EVERY_S,
        days: int = 30,
    ) -> None:
        self.path = folder / "demo.db"
        self.chain = chain
        self._since = now_ms()
        write_demo(
            self.path,
            seed=seed,
            days=days,
            now_ms=self._since,
            wallet_address=chain.wallet_address,
            chain_id=chain.chain_id,
            rpc_url=chain.rpc_url,
            usdc_address=chain.usdc_address,
        )
        if panel_url:
            # The demo's links lead to a page saying it is the demo, served by this server.
            with contextlib.closing(sqlite3.connect(self.path)) as con, con:
                con.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('panel_url', ?)", (panel_url,))
        self.speed = speed
        self.every_s = every_s
        self._rng = random.Random(seed + 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._traffic, name="ccanalytics-demo-traffic", daemon=True)

    def start(self) -> EmbeddedDemo:
        self._thread.start()
        return self

    def _traffic(self) -> None:
        while not self._stop.wait(self.every_s):
            moment = now_ms()
            try:
                append_traffic(
                    self.path,
                    now_ms=moment,
                    since_ms=self._since,
                    rng=self._rng,
                    scale=self.speed,
                    on_paid_calls=lambda _count, total: self.chain.pay(total),
                    on_deposit=lambda amount: self.chain.deposit(usdc_micro=amount),
                )
            except CCError:
                continue  # a busy store or a wallet too poor to pay: the next tick tries again
            self._since = moment

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
