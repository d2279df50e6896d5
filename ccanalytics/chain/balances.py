"""Live balances for a store: read from the chain off the caller's thread, kept briefly.

A dashboard never waits on an RPC endpoint longer than it chooses to
(``wait_s``): the read goes on in the background and the next refresh picks
it up.  Twenty tabs refreshing every second share one read every few seconds,
so a hosted endpoint is not flooded. Each read has a wall-clock deadline
(:mod:`ccanalytics.chain.rpc`), so the one chain thread is never held longer than
``READ_TIMEOUT_S``: a dripping endpoint cannot starve the reads after it.

The chain read itself is a seam (``LiveBalances(read=…)``, with the signature of
:func:`ccanalytics.chain.read_balances`), so everything here is tested with a
fake reader; only the reader's own tests need a JSON-RPC node.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ccanalytics.chain import ChainBalances, ChainError, ChainIdMismatch, read_balances
from ccanalytics.model import READING_NOTE, Balances
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    from collections.abc import Callable

    from ccanalytics.settings import Settings

__all__ = ["LiveBalances"]

FRESH_MS = 5_000  # a read younger than this is reused
READ_TIMEOUT_S = 5.0


class Reader(Protocol):
    """Reads one wallet's balances from a chain: :func:`ccanalytics.chain.read_balances` or a fake."""

    def __call__(
        self, rpc_url: str, wallet: str, usdc_address: str, chain_id: int, timeout_s: float = ...
    ) -> ChainBalances: ...


@dataclass(frozen=True)
class _Answer:
    """What one read of the chain gave: balances, or why there are none."""

    balances: Balances
    mismatch: str | None  # a data issue: the endpoint is on another chain
    at_ms: int


def _answer(read: Reader, clock: Callable[[], int], key: tuple[str, str, str, int]) -> _Answer:
    """One read of the chain, as balances or the one-line reason there are none."""
    rpc_url, wallet, usdc, chain_id = key
    try:
        got = read(rpc_url, wallet, usdc, chain_id, timeout_s=READ_TIMEOUT_S)
    except ChainIdMismatch as exc:
        rule = f"rpc_url is on chain {exc.actual}, not chain_id {exc.expected}"
        return _Answer(Balances(note=str(exc)), rule, clock())
    except ChainError as exc:
        return _Answer(Balances(note=str(exc)), None, clock())
    live = Balances(usdc_micro=got.usdc_micro, eth_wei=got.eth_wei, source="chain", as_of_ms=got.read_at_ms)
    return _Answer(live, None, clock())


class LiveBalances:
    """The latest chain read for one store's settings, refreshed in the background.

    Parameters
    ----------
    read
        Reads the chain (default :func:`ccanalytics.chain.read_balances`); it
        should raise only ``ChainError`` (a ``ChainIdMismatch`` becomes a data issue).
    clock
        Epoch milliseconds, for the freshness window (default: the current time).

    Examples
    --------
    >>> from ccanalytics.chain import ChainBalances
    >>> from ccanalytics.settings import parse_settings
    >>> def fake(rpc_url, wallet, usdc_address, chain_id, timeout_s=5.0):
    ...     return ChainBalances(usdc_micro=5_000_000, eth_wei=10**15, read_at_ms=1)
    >>> settings, _ = parse_settings({"rpc_url": "http://127.0.0.1:1", "chain_id": "8453",
    ...     "wallet_address": "0x" + "11" * 20, "usdc_address": "0x" + "22" * 20})
    >>> live = LiveBalances(read=fake)
    >>> live.get(settings, wait_s=None)[0].usdc_micro
    5000000
    >>> live.close()
    """

    def __init__(self, *, read: Reader = read_balances, clock: Callable[[], int] = now_ms) -> None:
        self._read = read
        self._clock = clock
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
            if last is not None and self._clock() - last.at_ms < FRESH_MS:
                return last.balances, last.mismatch
            pending = self._pending
            started = pending is None
            if pending is None:
                pending = self._pending = self._pool.submit(_answer, self._read, self._clock, key)
        if started:
            # Outside the lock: a read that failed at once runs the callback here, and it takes the lock.
            pending.add_done_callback(functools.partial(self._finished, key))
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
