"""The recorder's writer: one write connection, a bounded queue, batches off the request path.

``StoreWriter(path)`` (collect.md, "The writer") creates the store when it is
missing (WAL mode, the contract's schema), writes a ``startup`` event and
starts a writer thread. ``record(call)`` only appends to a bounded queue; the
thread commits the queue in batches of at most 200 calls, at least every
250 ms. A full queue drops its oldest calls, counts them and says so in an
``error`` event; a batch that cannot be written is logged, dropped and
counted the same way. Each batch is one SQLite transaction, so a crash loses
at most the batch being written and never leaves a partial row.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from ccanalytics.contract import USDC_BY_CHAIN, create_store
from ccanalytics.errors import CCError
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    import os
    from collections.abc import Mapping

__all__ = ["CALL_COLUMNS", "StoreWriter"]

log = logging.getLogger("ccanalytics.collect")

CALL_COLUMNS = (
    "request_id",
    "ts_ms",
    "role",
    "api_id",
    "api_name",
    "status_code",
    "latency_ms",
    "price_micro",
    "revenue_micro",
    "demo",
    "tx_hash",
    "delivery",
    "consumer",
)
_REQUIRED = ("request_id", "ts_ms", "role", "api_id", "status_code")
_DEFAULTS: dict[str, Any] = {"price_micro": 0, "revenue_micro": 0, "demo": 0}

BATCH_CALLS = 200
BATCH_S = 0.25
QUEUE_CALLS = 10_000


class StoreWriter:
    """The only write connection a recorder needs (collect.md, "The writer").

    Parameters
    ----------
    path
        The store; created with the contract's schema when missing (WAL mode).
    settings
        Key/value pairs written to the ``settings`` table at start
        (``wallet_address``, ``rpc_url``, ``chain_id``, ``usdc_address``, …).
    balance_every_minutes
        When given, a thread reads the wallet's USDC and ETH with web3 (from the
        store's ``rpc_url``, ``wallet_address``, ``chain_id``, ``usdc_address``)
        at start and then every so many minutes, and records a
        ``balance_snapshots`` row each time the read succeeds.
    queue_calls
        How many calls may wait; beyond, the oldest are dropped and counted.

    Examples
    --------
    >>> import tempfile, os, sqlite3
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> writer = StoreWriter(path, settings={"chain_id": "84532"})
    >>> call = {"request_id": "r1", "ts_ms": 1, "role": "seller", "api_id": "GET /a", "status_code": 200}
    >>> writer.record(call)
    >>> writer.record(call)  # the same request_id again adds nothing
    >>> writer.close()
    >>> writer.written, writer.duplicates
    (1, 1)
    >>> con = sqlite3.connect(path)
    >>> con.execute("SELECT count(*) FROM calls").fetchone()[0]
    1
    >>> [t for (t,) in con.execute("SELECT type FROM events ORDER BY id")]
    ['startup', 'shutdown']
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        settings: Mapping[str, object] | None = None,
        balance_every_minutes: float | None = None,
        queue_calls: int = QUEUE_CALLS,
    ) -> None:
        if queue_calls < 1:
            raise ValueError("queue_calls must be 1 or more")
        if balance_every_minutes is not None and not balance_every_minutes > 0:
            raise ValueError("balance_every_minutes must be more than 0")
        self.path = str(path)
        try:
            create_store(self.path)
            self._con = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._con.execute("PRAGMA busy_timeout = 5000")
            # Every commit reaches the disk: a crash (even of the machine) loses
            # at most the batch being written.
            self._con.execute("PRAGMA synchronous = FULL")
            self._columns = self._call_columns()
            self._write_settings(settings or {})
            self._insert_event(now_ms(), "startup", "info", "x402 recorder started")
        except sqlite3.Error as exc:
            raise CCError(f"{self.path}: cannot be written as a store ({exc})") from None
        self._calls: deque[tuple[Any, ...]] = deque()
        self._other: list[tuple[str, tuple[Any, ...]]] = []
        self._cond = threading.Condition()
        self._queue_calls = queue_calls
        self._closing = False
        self._closed = False
        self._flushing = False
        self._writing = False
        self.dropped = 0  # calls lost to a full queue
        self.failed = 0  # calls lost to a batch that could not be written
        self.written = 0  # calls committed as new rows
        self.duplicates = 0  # calls not written: their request_id was already in the store (collect.md)
        self._unreported = 0  # dropped calls no event has reported yet
        self._unwritten = 0  # calls of failed batches no event has reported yet
        self._error = ""
        self._thread = threading.Thread(target=self._run, name="ccanalytics-writer", daemon=True)
        self._thread.start()
        self._balances: threading.Thread | None = None
        self._stop_balances = threading.Event()
        if balance_every_minutes is not None:
            self._balances = threading.Thread(
                target=self._read_balances_every,
                args=(balance_every_minutes * 60.0,),
                name="ccanalytics-balances",
                daemon=True,
            )
            self._balances.start()
        atexit.register(self.close)

    # -- the request path ----------------------------------------------------

    def record(self, call: Mapping[str, Any]) -> None:
        """Queue one call (a mapping of ``calls`` columns); never blocks, never touches the disk.

        ``request_id``, ``ts_ms``, ``role``, ``api_id`` and ``status_code`` are
        required (``ValueError`` otherwise); the other columns default as in
        the contract. A call whose ``request_id`` is already stored is ignored.
        """
        missing = [name for name in _REQUIRED if call.get(name) is None]
        if missing:
            raise ValueError(f"a call needs {', '.join(missing)}")
        row = tuple(call.get(name, _DEFAULTS.get(name)) for name in CALL_COLUMNS)
        with self._cond:
            if self._closed:
                self.failed += 1
                log.warning("ccanalytics: a call was recorded after the writer closed; dropped")
                return
            if len(self._calls) >= self._queue_calls:
                self._calls.popleft()
                self.dropped += 1
                self._unreported += 1
            self._calls.append(row)
            if len(self._calls) >= BATCH_CALLS:
                self._cond.notify_all()

    def event(self, type: str, severity: str, message: str, ts_ms: int | None = None) -> None:
        """Queue one ``events`` row (``severity`` is ``info``, ``warning`` or ``error``)."""
        if severity not in ("info", "warning", "error"):
            raise ValueError("severity must be info, warning or error")
        self._queue_other("event", (now_ms() if ts_ms is None else ts_ms, type, severity, message))

    def register_api(self, api_id: str, name: str, price_micro: int) -> None:
        """Queue an ``apis`` row: the API is active at this price (its first registration time is kept)."""
        self._queue_other("api", (api_id, name, int(price_micro), now_ms()))

    def balance(self, usdc_micro: int, eth_wei: int, ts_ms: int | None = None) -> None:
        """Queue a ``balance_snapshots`` row."""
        self._queue_other("balance", (now_ms() if ts_ms is None else ts_ms, int(usdc_micro), str(int(eth_wei))))

    def _queue_other(self, kind: str, row: tuple[Any, ...]) -> None:
        with self._cond:
            if self._closed:
                log.warning("ccanalytics: a %s was recorded after the writer closed; dropped", kind)
                return
            self._other.append((kind, row))

    # -- the writer thread ---------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                deadline = time.monotonic() + BATCH_S
                while len(self._calls) < BATCH_CALLS and not self._closing and not self._flushing:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = [self._calls.popleft() for _ in range(min(BATCH_CALLS, len(self._calls)))]
                other, self._other = self._other, []
                lost, self._unreported = self._unreported, 0
                unwritten, self._unwritten = self._unwritten, 0
                self._writing = bool(batch or other or lost or unwritten)
            if self._writing:
                self._write(batch, other, lost, unwritten)
            with self._cond:
                self._writing = False
                # Reports of losses ride on the next write; they never keep the writer from stopping.
                idle = not self._calls and not self._other
                if idle:
                    self._flushing = False
                self._cond.notify_all()
                if self._closing and idle:
                    return

    def _write(
        self, batch: list[tuple[Any, ...]], other: list[tuple[str, tuple[Any, ...]]], lost: int, unwritten: int
    ) -> None:
        con = self._con
        inserted = 0
        try:
            con.execute("BEGIN IMMEDIATE")
            if batch:
                present = [i for i, name in enumerate(CALL_COLUMNS) if name in self._columns]
                names = ", ".join(CALL_COLUMNS[i] for i in present)
                marks = ", ".join("?" for _ in present)
                inserted = con.executemany(
                    f"INSERT INTO calls ({names}) SELECT {marks} "
                    "WHERE NOT EXISTS (SELECT 1 FROM calls WHERE request_id = ?)",
                    [(*(row[i] for i in present), row[0]) for row in batch],
                ).rowcount  # the rows inserted: a request_id already there adds nothing
            for kind, row in other:
                if kind == "event":
                    self._insert_event(*row)
                elif kind == "api":
                    self._upsert_api(*row)
                else:
                    con.execute("INSERT INTO balance_snapshots (ts_ms, usdc_micro, eth_wei) VALUES (?, ?, ?)", row)
            if lost:
                self._insert_event(
                    now_ms(), "error", "error", f"x402 recorder: {lost} calls were lost (its queue was full)"
                )
            if unwritten:
                message = f"x402 recorder: {unwritten} calls were lost (the store could not be written: {self._error})"
                self._insert_event(now_ms(), "error", "error", message)
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            with self._cond:
                self.failed += len(batch)
                self._unreported += lost
                self._unwritten += unwritten + len(batch)
                self._error = " ".join(str(exc).split())[:200]
            log.warning("ccanalytics: could not write %d calls to %s (%s); dropped", len(batch), self.path, exc)
            return
        self.written += inserted
        self.duplicates += len(batch) - inserted

    # -- SQL -------------------------------------------------------------------

    def _call_columns(self) -> set[str]:
        columns = {row[1].lower() for row in self._con.execute("PRAGMA table_info(calls)")}
        lacking = [name for name in _REQUIRED if name not in columns]
        if lacking:
            raise sqlite3.OperationalError(f"its calls table lacks {', '.join(lacking)}")
        return columns

    def _insert_event(self, ts_ms: int, type: str, severity: str, message: str) -> None:
        self._con.execute(
            "INSERT INTO events (ts_ms, type, severity, message) VALUES (?, ?, ?, ?)", (ts_ms, type, severity, message)
        )

    def _upsert_api(self, api_id: str, name: str, price_micro: int, ts_ms: int) -> None:
        con = self._con
        updated = con.execute(
            "UPDATE apis SET name = ?, price_micro = ?, active = 1 WHERE api_id = ?", (name, price_micro, api_id)
        ).rowcount
        if not updated:
            con.execute(
                "INSERT INTO apis (api_id, name, price_micro, registered_ms, active) VALUES (?, ?, ?, ?, 1)",
                (api_id, name, price_micro, ts_ms),
            )

    def _write_settings(self, settings: Mapping[str, object]) -> None:
        con = self._con
        con.execute("BEGIN IMMEDIATE")
        for key, value in settings.items():
            con.execute("DELETE FROM settings WHERE key = ?", (key,))
            con.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (key, None if value is None else str(value)))
        con.execute("COMMIT")

    # -- balances ------------------------------------------------------------

    def _read_balances_every(self, every_s: float) -> None:
        failing = False
        while not self._stop_balances.is_set():
            try:
                read = self._read_balances()
            except CCError as exc:
                if not failing:  # once per outage, not every few minutes
                    log.warning("ccanalytics: no balance snapshot: %s", exc)
                failing = True
            else:
                failing = False
                self.balance(read.usdc_micro, read.eth_wei, ts_ms=read.read_at_ms)
            self._stop_balances.wait(every_s)

    def _read_balances(self) -> Any:
        from ccanalytics.chain import ChainError, read_balances

        with sqlite3.connect(self.path, timeout=5) as con:
            pairs = dict(con.execute("SELECT key, value FROM settings ORDER BY rowid"))
        if not pairs.get("rpc_url") or not pairs.get("wallet_address"):
            raise ChainError("the store's settings need rpc_url and wallet_address")
        chain_id = int(pairs.get("chain_id") or 8453)
        usdc = pairs.get("usdc_address") or USDC_BY_CHAIN.get(chain_id)
        if usdc is None:
            raise ChainError(f"the store's settings need usdc_address for chain {chain_id}")
        return read_balances(pairs["rpc_url"], pairs["wallet_address"], usdc, chain_id)

    # -- closing ---------------------------------------------------------------

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Commit every call queued so far now; return whether that finished within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._flushing = True
            self._cond.notify_all()
            while self._calls or self._other or self._writing:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then a ``shutdown`` event, and close. Safe to call twice."""
        self._stop_balances.set()
        with self._cond:
            if self._closed:
                return
            self._other.append(("event", (now_ms(), "shutdown", "info", "x402 recorder stopped")))
            self._closing = True
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("ccanalytics: the writer did not finish within %g s", timeout_s)
        else:
            self._con.close()
        atexit.unregister(self.close)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<StoreWriter {self.path!r}>"
