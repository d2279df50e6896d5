"""Live balances for a store: read from the chain off the caller's thread, kept briefly.

A dashboard never waits on an RPC endpoint longer than it chooses to
(``wait_s``): the read goes on in the background and the next refresh picks
it up.  Twenty tabs refreshing every second share one read every few seconds,
so a hosted endpoint is not flooded. Each read has a wall-clock deadline
(:mod:`ccanalytics.chain.rpc`), so the one chain thread is never held longer than
``READ_TIMEOUT_S``: a dripping endpoint cannot starve the reads after it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccanalytics.chain import ChainBalances, ChainError, ChainIdMismatch, read_balances
from ccanalytics.model import READING_NOTE, Balances
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    from ccanalytics.settings import Settings

__all__ = ["LiveBalances"]

FRESH_MS = 5_000  # a read younger than this is reused
READ_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class _Answer:
    """What one read of the chain gave: balances, or why there are none."""

    balances: Balances
    mismatch: str | None  # a data issue: the endpoint is on another chain
    at_ms: int


def _read(rpc_url: str, wallet: str, usdc: str, chain_id: int) -> _Answer:
    try:
        got: ChainBalances = read_balances(rpc_url, wallet, usdc, chain_id, timeout_s=READ_TIMEOUT_S)
    except ChainIdMismatch as exc:
        rule = f"rpc_url is on chain {exc.actual}, not chain_id {exc.expected}"
        return _Answer(Balances(note=str(exc)), rule, now_ms())
    except ChainError as exc:
        return _Answer(Balances(note=str(exc)), None, now_ms())
    live = Balances(usdc_micro=got.usdc_micro, eth_wei=got.eth_wei, source="chain", as_of_ms=got.read_at_ms)
    return _Answer(live, None, now_ms())


class LiveBalances:
    """The latest chain read for one store's settings, refreshed in the background."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccanalytics-chain")
        self._key: tuple | None = None
        self._last: _Answer | None = None
        self._pending: Future[_Answer] | None = None

    def get(self, settings: Settings, wait_s: float | None) -> tuple[Balances | None, str | None]:
        """Live balances (or a ``Balances`` with only a ``note``), and a chain-mismatch issue.

        Waits at most ``wait_s`` for a read in progress (``None``: until it ends).

        ``(None, None)`` when the store names no endpoint and wallet: balances
        then come from the store's snapshots.
        """
        if not (settings.rpc_url and settings.wallet_address and settings.usdc_address):
            return None, None
        key = (settings.rpc_url, settings.wallet_address, settings.usdc_address, settings.chain_id)
        with self._lock:
            if key != self._key:
                self._key, self._last, self._pending = key, None, None
            last = self._last
            if last is not None and now_ms() - last.at_ms < FRESH_MS:
                return last.balances, last.mismatch
            started = self._pending is None
            if started:
                self._pending = self._pool.submit(_read, *key)
            pending = self._pending
        if started:
            # Outside the lock: a read that failed at once runs the callback here, and it takes the lock.
            pending.add_done_callback(lambda done, k=key: self._finished(k, done))
        try:
            answer = pending.result(timeout=wait_s)
        except TimeoutError:
            if last is not None:
                return last.balances, last.mismatch
            return Balances(note=READING_NOTE), None
        return answer.balances, answer.mismatch

    def _finished(self, key: tuple, done: Future[_Answer]) -> None:
        with self._lock:
            if key == self._key and done is self._pending:
                self._last, self._pending = done.result(), None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
