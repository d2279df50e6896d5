"""The small tables (events, apis, balance_snapshots, backups) and the settings, kept whole in memory.

Each is followed by its rowids when nothing but appends happened (one query
tells: ``Source.states``), else read again whole.  A table that lacks a
required column or cannot be read is a data issue and reads as empty.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.errors import StoreError
from ccanalytics.metrics.compute import TableFacts, table_facts
from ccanalytics.model import DataIssue
from ccanalytics.store.follow import Cursor, advance, new_rows
from ccanalytics.store.history import judged
from ccanalytics.store.sqlite import RID

if TYPE_CHECKING:
    from ccanalytics.store.sqlite import Source

__all__ = ["CANNOT_BE_READ", "SMALL_TABLES", "SmallTables"]

SMALL_TABLES = ("events", "apis", "balance_snapshots", "backups")
CANNOT_BE_READ = "cannot be read"


class SmallTables:
    """The small tables' judged rows, their data issues and the raw settings, as last read.

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> from ccanalytics.store.sqlite import Source
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> create_store(path)
    >>> small = SmallTables()
    >>> small.follow(Source(path))
    >>> small.frames["apis"].columns[:3], small.issues, small.settings_raw
    (['_rid', 'api_id', 'name'], {}, {})
    """

    def __init__(self) -> None:
        self.frames: dict[str, pl.DataFrame] = {}
        self.issues: dict[str, DataIssue] = {}  # by table: why it reads as empty
        self.settings_raw: dict[str, str | None] = {}
        self._cursors = {table: Cursor() for table in SMALL_TABLES}
        self._states: dict[str, tuple | None] = {}
        self._generation = 0  # counts changes, for reusing their facts
        self._facts: TableFacts | None = None
        self._facts_key: tuple | None = None

    def follow(self, source: Source) -> None:
        """Catch up with the tables that changed and read the settings (inside the caller's transaction)."""
        states = source.states(SMALL_TABLES)
        for table in SMALL_TABLES:
            if states[table] is None or states[table] != self._states.get(table):
                self._follow(source, table)
                self._generation += 1
        self._states = states
        self.settings_raw = self._read_settings(source)

    def facts(self, now: int, events: int) -> TableFacts:
        """The small tables' facts, reused while neither they nor the rows `now` passes change."""
        facts, key = self._facts, (self._generation, events)
        if (
            facts is None
            or self._facts_key != key
            or now < facts.valid_from_ms
            or (facts.valid_until_ms is not None and now > facts.valid_until_ms)
        ):
            facts = self._facts = table_facts(self.frames, now, events_limit=events)
            self._facts_key = key
        return facts

    def _read_settings(self, source: Source) -> dict[str, str | None]:
        """The settings' raw pairs; a settings table that cannot be read is a data issue, as others are."""
        shape = source.shapes["settings"]
        self.issues.pop("settings", None)
        try:
            if shape.broken:
                raise StoreError(shape.broken)
            if shape.exists and shape.missing and (rows := source.count("settings")):
                self.issues["settings"] = DataIssue("settings", f"lacks column {shape.missing[0]}", rows)
            return source.settings()
        except StoreError:
            self.issues["settings"] = DataIssue("settings", CANNOT_BE_READ, 0)
            return {}

    def _follow(self, source: Source, table: str) -> None:
        shape = source.shapes[table]
        self.issues.pop(table, None)
        empty = judged(table, pl.DataFrame(schema={RID: pl.Int64, **TABLES[table].schema}))
        if not shape.usable:
            self.frames[table] = empty
            if shape.broken:
                self.issues[table] = DataIssue(table, CANNOT_BE_READ, 0)
                return
            count = source.count(table) if shape.exists else 0
            if count:
                self.issues[table] = DataIssue(table, f"lacks column {shape.missing[0]}", count)
            return
        try:
            reset, rows = new_rows(source, table, self._cursors[table])
        except StoreError:  # an optional table that cannot be read (a view over a broken one) is left out
            self.frames[table], self._cursors[table] = empty, Cursor()
            self.issues[table] = DataIssue(table, CANNOT_BE_READ, 0)
            return
        rows = judged(table, rows)
        advance(self._cursors[table], table, rows, reset)
        if reset or table not in self.frames:
            self.frames[table] = rows
        else:
            self.frames[table] = pl.concat([self.frames[table], rows])
