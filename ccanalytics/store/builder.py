"""Building a day range's next history in a background thread (``metrics.successor``), with its own connection.

A history's build reads a few hours of old calls back from the store (its
bands, ``bands.read_back``); run here, it opens its own ``Source`` and reads
only the rows the ledger had read when the build was handed over (a copy of
the cursor), so the refreshes meanwhile keep the store's connection, and the
history built is the one the ledger of that moment would have built.  polars
releases the GIL while it computes, so the refresh path stays responsive.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from ccanalytics.store.bands import read_back
from ccanalytics.store.bulk import turn
from ccanalytics.store.follow import Cursor
from ccanalytics.store.sqlite import Source

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from ccanalytics.metrics.history import History
    from ccanalytics.metrics.successor import Build, Later

__all__ = ["THREAD_NAME", "Builder"]

THREAD_NAME = "ccanalytics-history"


class Builder:
    """Runs histories' builds one at a time in a thread of its own."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)

    def later(self, cursor: Cursor | None) -> Later:
        """A ``Later`` for the ledger: with ``cursor``, the build reads the store's rows up to it (a copy)."""
        kept = None if cursor is None else Cursor(cursor.top, cursor.rows, cursor.last)

        def later(build: Build) -> Future[History]:
            return self._pool.submit(self._run, build, kept)

        return later

    def _run(self, build: Build, cursor: Cursor | None) -> History:
        if cursor is None:
            return build(None)
        # Never while a full read opens the store through ADBC's SQLite (``bulk.turn``). A build that
        # waited too long fails (TimeoutError): the refresh that wants it builds it itself (``successor.taken``).
        with turn():
            source = Source(self._path)
        read = read_back(source, cursor)

        def read_in_turn(*span: int) -> pl.DataFrame:
            with turn():
                return read(*span)

        try:
            return build(read_in_turn)
        finally:
            source.close()

    def close(self) -> None:
        """Stop building (a build under way is abandoned)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
