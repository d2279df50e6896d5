"""Big reads through ADBC's SQLite driver, straight into polars (see ``Bulk`` for when it is safe)."""

from __future__ import annotations

import queue
import threading
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.errors import StoreError
from ccanalytics.store.file import BUSY_MS, one_line, uri

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["COPIES", "TURN_WAIT_S", "Bulk", "turn"]

# Held while a Bulk opens and closes its connections, and by the background threads that read the store with
# Python's copy of SQLite (``follow.Verifier``, ``builder.Builder``) while they read: see ``Bulk``.
COPIES = threading.Lock()
TURN_WAIT_S = 1.0  # how long a background thread waits for a Bulk to open or close


@contextmanager
def turn() -> Iterator[None]:
    """Hold ``COPIES`` for a background thread's read; ``TimeoutError`` after ``TURN_WAIT_S``."""
    if not COPIES.acquire(timeout=TURN_WAIT_S):
        raise TimeoutError("a full read is opening or closing the store")
    try:
        yield
    finally:
        COPIES.release()


class Bulk:
    """Connections for big reads through ADBC's SQLite driver, straight into polars.

    With ``transaction`` (a WAL store) each connection holds one read
    transaction for its whole life, begun before the caller's transaction
    (``Source.transaction`` checks that nothing was committed in between), so
    every chunk sees the same state.

    ADBC's driver carries its own copy of SQLite, and two copies in one
    process share POSIX locks without knowing it: when one copy releases a
    lock the other still counts on, it is gone for both (sqlite.org,
    "How To Corrupt", 2.2.1).  So a Bulk is only read from while the
    caller's transaction, on Python's copy, holds the same state's read lock
    (WAL), and never on a rollback-journal store, whose locks are on the
    file itself: there the source's own connection reads (``read_chunks``).

    The same blindness makes a copy that opens the store's ``-shm`` file
    first think it is alone and cut the file short while the other copy has
    it mapped: a thread of the other copy that reads it then dies of SIGBUS
    (a count of the ``Verifier``, or another store on the same file, while
    a full read began).  So a Bulk holds ``COPIES`` while it opens and
    while it closes its connections, and such threads hold it while they read.
    """

    def __init__(self, path: Path, *, transaction: bool, connections: int = 2) -> None:
        self.path = path
        self.transaction = transaction
        self._open: list = []
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        with COPIES:
            self._connect(connections)

    def _connect(self, connections: int) -> None:
        import adbc_driver_manager._lib as adbc
        import adbc_driver_sqlite

        try:
            for _ in range(connections):
                database = adbc_driver_sqlite.connect(uri(self.path))
                connection = adbc.AdbcConnection(database)
                self._open.append((database, connection))
                self._update(connection, f"PRAGMA busy_timeout = {BUSY_MS}")
                if self.transaction:
                    self._update(connection, "BEGIN")
                    self._run(connection, "SELECT count(*) FROM sqlite_master")
                self._free.put(connection)
        except BaseException:
            self._close()
            raise

    def _update(self, connection: object, sql: str) -> None:
        import adbc_driver_manager._lib as adbc

        with adbc.AdbcStatement(connection) as statement:
            statement.set_sql_query(sql)
            statement.execute_update()

    def _run(self, connection: object, sql: str) -> pl.DataFrame:
        import adbc_driver_manager._lib as adbc

        with adbc.AdbcStatement(connection) as statement:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            return pl.DataFrame(stream)

    def frame(self, sql: str) -> pl.DataFrame:
        """One query's rows; a store error (malformed pages, a lock held too long) raises ``StoreError``.

        A polars ``ComputeError`` over a value of an unexpected type is left
        to the caller, which reads the range again with the cleaning SQL.
        """
        from adbc_driver_manager import Error as AdbcError

        connection = self._free.get()
        try:
            return self._run(connection, sql)
        except AdbcError as exc:
            raise StoreError(f"{self.path}: cannot read the store ({one_line(exc)})") from None
        except pl.exceptions.ComputeError as exc:
            if "Type mismatch" in str(exc):
                raise
            raise StoreError(f"{self.path}: cannot read the store ({one_line(exc)})") from None
        finally:
            self._free.put(connection)

    def close(self) -> None:
        with COPIES:
            self._close()

    def _close(self) -> None:
        for database, connection in reversed(self._open):
            with suppress(Exception):  # closing a read-only connection cannot lose anything
                connection.close()
                database.close()
        self._open = []
