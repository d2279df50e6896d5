"""Lazy scans of a store's tables for ad-hoc queries: the valid rows, read in chunks when collected.

Each collection opens its own read-only connection, so a scan can outlive the
refresh that made it and run in any thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
from polars.io.plugins import register_io_source

from ccanalytics.contract import TABLES, first_broken_rule
from ccanalytics.errors import StoreError
from ccanalytics.settings import parse_settings
from ccanalytics.store.sqlite import Source

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["Tables", "scan"]


def scan(path: Path, table: str, zone: str | None) -> pl.LazyFrame:
    """A lazy scan of a table's valid rows (those that keep the contract).

    A table with ``ts_ms`` gains ``ts`` first when ``zone`` is given: that
    moment as a datetime in that time zone.

    Examples
    --------
    >>> import tempfile, os
    >>> from pathlib import Path
    >>> from ccanalytics.contract import create_store
    >>> path = Path(tempfile.mkdtemp()) / "store.db"
    >>> create_store(path)
    >>> scan(path, "events", "UTC").collect().columns
    ['ts', 'id', 'ts_ms', 'type', 'severity', 'message']
    """
    contract = TABLES[table].full_schema
    local = None
    if zone is not None and "ts_ms" in contract:
        local = pl.col("ts_ms").cast(pl.Datetime("ms", "UTC")).dt.convert_time_zone(zone).alias("ts")
        schema = {"ts": pl.Datetime("ms", zone), **contract}
    else:
        schema = dict(contract)

    def rows(
        with_columns: list[str] | None,
        predicate: pl.Expr | None,
        n_rows: int | None,
        batch_size: int | None,
    ) -> Iterator[pl.DataFrame]:
        source = Source(path)
        try:
            if not source.shapes[table].usable:
                return
            left = n_rows
            for chunk in source.read_chunks(table, chunk_rows=max(batch_size or 0, 100_000), descriptive=True):
                valid = chunk.filter(first_broken_rule(TABLES[table]).is_null()).select(*contract)
                if local is not None:
                    valid = valid.select(local, pl.all())
                if predicate is not None:
                    valid = valid.filter(predicate)
                if with_columns is not None:
                    valid = valid.select(with_columns)
                if left is not None:
                    valid = valid.head(left)
                    left -= valid.height
                yield valid
                if left is not None and left <= 0:
                    return
        finally:
            source.close()

    return register_io_source(rows, schema=schema, explain_name=f"ccanalytics {table}")


class Tables:
    """A store's tables as lazy scans of their valid rows, for ad-hoc queries (a ``Store`` is one).

    A subclass gives ``path`` and the settings' raw pairs (``_settings_pairs``).
    """

    path: Path

    def _settings_pairs(self) -> dict[str, str | None]:
        raise NotImplementedError

    def _scan(self, table: str) -> pl.LazyFrame:
        """A lazy scan of a table's valid rows (those that keep the contract).

        A table with ``ts_ms`` gains ``ts`` first: that moment as a datetime in
        the store's time zone (its ``timezone`` setting, UTC when absent or invalid).
        """
        zone = None
        if "ts_ms" in TABLES[table].full_schema:
            try:
                pairs = self._settings_pairs()
            except StoreError:  # an unreadable settings table is UTC, as in a snapshot
                pairs = {}
            zone = parse_settings(pairs)[0].timezone
        return scan(self.path, table, zone)

    @property
    def calls(self) -> pl.LazyFrame:
        """The valid rows of ``calls`` (future rows included), with ``tx_hash``, ``delivery`` and ``consumer``.

        ``ts`` leads: ``ts_ms`` as a datetime in the store's time zone.
        """
        return self._scan("calls")

    @property
    def events(self) -> pl.LazyFrame:
        """The valid rows of ``events``, as a lazy scan."""
        return self._scan("events")

    @property
    def apis(self) -> pl.LazyFrame:
        """The valid rows of ``apis``, as a lazy scan."""
        return self._scan("apis")

    @property
    def balance_snapshots(self) -> pl.LazyFrame:
        """The valid rows of ``balance_snapshots``, as a lazy scan."""
        return self._scan("balance_snapshots")

    @property
    def backups(self) -> pl.LazyFrame:
        """The valid rows of ``backups``, as a lazy scan."""
        return self._scan("backups")

    @property
    def settings(self) -> pl.LazyFrame:
        """The ``settings`` key/value pairs as stored (values as text)."""
        pairs = self._settings_pairs()
        return pl.LazyFrame(
            {"key": list(pairs), "value": list(pairs.values())}, schema={"key": pl.String, "value": pl.String}
        )
