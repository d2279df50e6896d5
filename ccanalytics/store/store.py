"""A store: one control center's SQLite file, followed incrementally.

``open_store(path)`` checks the file and opens it read-only.  Each
``snapshot()`` first catches up with the file — reading only rows added since
the last call (SQLite rowids), re-reading everything when rows were deleted
or replaced or the file itself was swapped — then computes the numbers from
the ledger (old calls tallied, recent calls as rows).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
from polars.io.plugins import register_io_source

from ccanalytics.chain.balances import LiveBalances
from ccanalytics.contract import TABLES, first_broken_rule
from ccanalytics.errors import StoreError
from ccanalytics.metrics import formulas
from ccanalytics.metrics.alerts import lookback_ms
from ccanalytics.metrics.compute import TableFacts, compute, table_facts
from ccanalytics.metrics.ledger import REACH_MS, Ledger
from ccanalytics.metrics.snapshot import Snapshot
from ccanalytics.metrics.views import RANGES
from ccanalytics.model import DataIssue
from ccanalytics.settings import parse_settings
from ccanalytics.store import cache as ledger_cache
from ccanalytics.store.reconciliation import latest_reconciliation
from ccanalytics.store.sqlite import RID, Bulk, Source
from ccanalytics.units import DAY_MS, now_ms, parse_events, parse_now

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator
    from datetime import datetime

__all__ = ["Store", "open_store"]

SMALL_TABLES = ("events", "apis", "balance_snapshots", "backups")
CANNOT_BE_READ = "cannot be read"
# How far behind `now - WEEK` the horizon may fall before old rows are folded.
_SETTLE_SLACK_MS = 2 * DAY_MS
# Up to this many calls, a change is checked against the row count at once
# (a few ms); beyond, the count runs off the refresh path (see _Verifier).
SYNC_CHECK_ROWS = 200_000
# A cache of the ledger is written after a full read, then at most this often;
# it is used for a day after that full read (see ``ccanalytics.store.cache``).
_CACHE_EVERY_MS = 5 * 60_000
CACHE_MAX_AGE_MS = DAY_MS
CHART_SPAN_MS = 49 * 3_600_000  # the 48 hourly buckets reach back at most 49 h


def open_store(path: str | os.PathLike[str], *, cache: bool = True) -> Store:
    """Open a store read-only; a file that is not a store raises ``StoreError`` (one line).

    With ``cache`` (the default) what was learnt about a big store is kept in
    the user's cache directory, so that opening it again is fast (see ``ccanalytics.store.cache``).

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> create_store(path)
    >>> store = open_store(path)
    >>> store.snapshot(now=1795608000000).to_dict()["banners"]["empty_state"]
    True
    >>> store.calls.collect().height
    0
    """
    return Store(path, cache=cache)


@dataclass
class _Cursor:
    """How far a table has been read: the greatest rowid, how many rows, the last row."""

    top: int | None = None  # None: no row read yet (rowids may be negative)
    rows: int = 0
    last: tuple | None = None


def _intact(source: Source, table: str, cursor: _Cursor) -> bool:
    """Whether the rows a cursor has read are all still there, the last one unchanged.

    Counts the whole table: cheap for a small one, a background job for a big one.
    """
    if cursor.top is None:
        return source.count(table) == cursor.rows
    below = source.count(table) - source.count_after(table, cursor.top)
    return below == cursor.rows and (cursor.last is None or source.row_at(table, cursor.top) == cursor.last)


def _still_there(source: Source, cursor: _Cursor) -> bool:
    """Whether every row a read in short queries counted is still there, the last one unchanged.

    Counted in short queries too: a rollback-journal writer never waits long.
    """
    if cursor.top is None:
        return True
    below = source.count_upto("calls", cursor.top)
    return below == cursor.rows and source.row_at("calls", cursor.top) == cursor.last


class _HistoryChanged(Exception):
    """Rows read before are gone or changed: the calls must be read in full."""


# How often a read that a writer's commits kept overtaking is tried again.
_ATTEMPTS = 8
# A rollback-journal store with rowids spanning at most this many is read in one transaction (well under 200 ms).
ONE_TRANSACTION_ROWS = 5_000


def _judged(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(rule=first_broken_rule(TABLES[table]))


def _latest_named(calls: pl.LazyFrame) -> pl.LazyFrame:
    """The rowids of the valid named calls at each API's latest named time (ties kept)."""
    named = calls.filter(pl.col("rule").is_null() & pl.col("api_name").is_not_null())
    return _at_latest_time(named.select("api_id", "ts_ms", RID))


def _detached(small: pl.DataFrame) -> pl.DataFrame:
    """A copy of a few rows that owns its memory.

    A frame filtered from a big one can keep the big one's buffers alive (its
    strings are views into them): kept for the whole read, a few rows per
    chunk held every chunk (7 MB each).
    """
    return pl.DataFrame(small.to_dict(as_series=False), schema=small.schema)


def _at_latest_time(rows: pl.LazyFrame) -> pl.LazyFrame:
    return rows.filter(pl.col("ts_ms") == pl.col("ts_ms").max().over("api_id"))


class _Verifier:
    """Counts a big table's rows in a background thread, off the refresh path.

    Appends are seen at once; a row deleted (or replaced) in the middle of a
    big history only changes the count, and counting ten million rows takes
    longer than a whole refresh may.  So the count runs here, after a refresh,
    and the next refresh rebuilds when it disagreed.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccanalytics-verify")
        self._pending: Future[bool] | None = None

    def start(self, table: str, cursor: _Cursor) -> None:
        if self._pending is None or self._pending.done():
            self._pending = self._pool.submit(self._check, table, _Cursor(cursor.top, cursor.rows, cursor.last))

    def _check(self, table: str, cursor: _Cursor) -> bool:
        try:
            source = Source(self._path)
        except StoreError:
            return False
        try:
            if source.wal:
                with source.transaction():
                    return _intact(source, table, cursor)
            # A rollback-journal store: short queries, none of which makes a writer wait long.
            # A commit between them may show as a difference: the store is then read again.
            below = 0 if cursor.top is None else source.count_upto(table, cursor.top)
            return below == cursor.rows and (
                cursor.top is None or cursor.last is None or source.row_at(table, cursor.top) == cursor.last
            )
        except StoreError:
            return False
        finally:
            source.close()

    def disagreed(self) -> bool:
        """Whether a finished count disagreed with what had been read (the answer is used once)."""
        pending = self._pending
        if pending is None or not pending.done():
            return False
        self._pending = None
        return not pending.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Store:
    """One store, read-only.  Thread-safe; snapshots are incremental."""

    def __init__(self, path: str | os.PathLike[str], *, cache: bool = True) -> None:
        self.path = Path(path).absolute()  # a notebook's %cd must not lose the store
        self._lock = threading.RLock()
        self._source = Source(self.path)
        self._cache = cache
        self._verifier = _Verifier(self.path)
        self._live = LiveBalances()
        self._reset()

    def _reset(self) -> None:
        self._version: int | None = None
        self._cursors = {table: _Cursor() for table in TABLES}
        self._frames: dict[str, pl.DataFrame] = {}
        self._shape_issues: dict[str, DataIssue] = {}
        self._settings_raw: dict[str, str | None] = {}
        self._ledger: Ledger | None = None
        self._reach = getattr(self, "_reach", REACH_MS)  # how far back rows are kept (views widen it)
        self._consumers = getattr(self, "_consumers", False)  # whether first-seen consumers are kept (views)
        self._cached_at = 0
        self._built_ms = 0
        self._table_facts: TableFacts | None = None
        self._facts_key: tuple | None = None
        self._states: dict[str, tuple | None] = {}
        self._small_generation = 0

    def close(self) -> None:
        self._live.close()
        self._verifier.close()
        self._source.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {str(self.path)!r}>"

    # -- the snapshot -------------------------------------------------------

    def snapshot(
        self,
        now: int | datetime | str | None = None,
        events: int = 50,
        *,
        chain_wait_s: float | None = None,
        range: str | None = None,  # the spec's word, though a builtin's name
        api: str | None = None,
    ) -> Snapshot:
        """Every number of the Dashboard at ``now`` (default: the current time).

        ``now`` is a timezone-aware ``datetime``, epoch milliseconds or ISO-8601
        text; ``events`` is how many events to list.  When the store names an
        RPC endpoint, balances are read live from the chain; the read gives up
        after 5 s, and ``chain_wait_s`` waits less (a dashboard's refresh then
        shows the last answer and the next refresh the new one).  Without an
        answer, balances come from the store's snapshots and
        ``balances.note`` says why.  ``range`` (``1h``, ``24h``, ``7d``,
        ``30d``, ``90d``) adds views.md's ranged ``view``, limited to one
        ``api_id`` with ``api``.
        """
        now_ms = parse_now(now)
        events = parse_events(events)
        if range is not None and range not in RANGES:
            raise ValueError(f"range must be one of {', '.join(RANGES)}")
        if api is not None and range is None:
            raise ValueError("api needs a range")
        with self._lock:
            if range is not None:
                self._reach = max(self._reach, 2 * RANGES[range].length_ms)
                if not self._consumers:  # views count new consumers: read the history again, keeping them
                    self._consumers, self._ledger = True, None
            self._catch_up(now_ms)
            settings, setting_issues = parse_settings(self._settings_raw)
            # A long error_spike_window_ms looks back before the chart (or range): keep those rows raw.
            span = CHART_SPAN_MS if range is None else max(CHART_SPAN_MS, RANGES[range].length_ms + DAY_MS)
            if lookback_ms(settings, span) > self._reach:
                self._reach = lookback_ms(settings, span)
                self._catch_up(now_ms)
            balances, mismatch = self._live.get(settings, wait_s=chain_wait_s)
            if mismatch:
                setting_issues = [*setting_issues, mismatch]
            assert self._ledger is not None
            self._ledger, calls, totals = self._ledger.at(now_ms)
            self._ledger, windowed = self._ledger.windows_at(now_ms, settings.timezone)
            seen = self._ledger.seen
            if range is not None and seen is not None and seen.pending:
                self._ledger = replace(self._ledger, seen=seen.merged())
            snapshot = compute(
                now=now_ms,
                settings=settings,
                calls=calls,
                totals=totals,
                facts=self._facts(now_ms, events),
                apis=self._frames["apis"],
                shape_issues=self._shape_issues,
                setting_issues=setting_issues,
                balances=balances,
                balance_snapshots=self._frames["balance_snapshots"],
                range_name=range,
                api=api,
                seen=self._ledger.seen,
                horizon=self._ledger.horizon,
                windowed=windowed,
            )
            with self._source.transaction():
                snapshot = replace(snapshot, reconciliation=latest_reconciliation(self._source.con, now_ms))
            calls_cursor = self._cursors["calls"]
            if calls_cursor.rows > SYNC_CHECK_ROWS:
                self._verifier.start("calls", calls_cursor)
            return snapshot

    def _facts(self, now: int, events: int) -> TableFacts:
        """The small tables' facts, reused while neither they nor the rows `now` passes change."""
        facts, key = self._table_facts, (self._small_generation, events)
        if (
            facts is None
            or self._facts_key != key
            or now < facts.valid_from_ms
            or (facts.valid_until_ms is not None and now > facts.valid_until_ms)
        ):
            facts = self._table_facts = table_facts(
                {t: self._frames[t] for t in SMALL_TABLES}, now, events_limit=events
            )
            self._facts_key = key
        return facts

    def verify(self) -> bool:
        """Check now that every row read is still in the store; re-read it when not.

        Returns whether nothing had changed underneath.  Snapshots do this by
        themselves (at once for small stores, in the background for big ones).
        """
        with self._lock:
            if self._ledger is None:
                return True
            if self._source.wal:
                with self._source.transaction():
                    intact = _intact(self._source, "calls", self._cursors["calls"])
            else:  # short queries: a rollback-journal writer never waits long
                intact = _still_there(self._source, self._cursors["calls"])
            if not intact:
                self._ledger = None
                self._version = None
            return intact

    # -- following the file -------------------------------------------------

    def _catch_up(self, now: int) -> None:
        if self._source.replaced():
            self._source.close()
            self._source = Source(self.path)
            self._reset()
        if self._verifier.disagreed():
            self._ledger = None
        full = self._ledger is None or not self._ledger.covers(now, self._reach)
        for attempt in range(_ATTEMPTS):
            if attempt:
                time.sleep(min(0.02 * 2**attempt, 0.5))
            try:
                if self._read(now, full=full):
                    break
            except _HistoryChanged:
                pass
            full, self._ledger, self._version = True, None, None
        else:
            raise StoreError(f"{self.path}: changed during every attempt to read it ({_ATTEMPTS}); try again")
        ledger = self._ledger
        assert ledger is not None
        if now - ledger.reach - ledger.horizon > _SETTLE_SLACK_MS:
            self._ledger = ledger.settle(now - ledger.reach - DAY_MS)

    def _read(self, now: int, *, full: bool) -> bool:
        """Catch up with the file in one state of it; False when a writer overtook a full read.

        Everything happens in one read transaction, except a full read of a
        big rollback-journal store: there a transaction makes writers wait, so
        the calls up to the greatest rowid seen in it are read afterwards in
        short queries, and then checked to be all still there (appends are
        fine: they are read by the next refresh).  A WAL store's full read goes
        through ADBC (``Bulk``), in transactions begun on this one's state.
        """
        source = self._source
        with source.transaction(bulk=full and source.wal) as bulk:
            version = source.data_version()
            if not full and version == self._version:
                return True
            states = source.states(SMALL_TABLES)
            for table in SMALL_TABLES:
                if states[table] is None or states[table] != self._states.get(table):
                    self._follow_small(table)
                    self._small_generation += 1
            self._states = states
            self._settings_raw = self._read_settings()
            if self._ledger is None and self._cache and source.wal:
                self._adopt_cache(now)
            new_calls = None
            if self._ledger is not None and self._ledger.covers(now, self._reach):
                big = self._cursors["calls"].rows > SYNC_CHECK_ROWS
                reset, rows = self._new_rows("calls", count=not big)
                if not reset:
                    new_calls = rows
            if new_calls is not None:
                if bulk is not None:
                    bulk.close()
            elif not full:
                raise _HistoryChanged
            elif source.wal or source.span("calls") <= ONE_TRANSACTION_ROWS:
                # Inside this transaction (its read lock also keeps the state a Bulk reads: see ``sqlite.Bulk``).
                try:
                    self._read_history(now, bulk)
                finally:
                    if bulk is not None:
                        bulk.close()
                self._version = version
                self._maybe_save(force=True)
                return True
            else:
                upto = source.max_rowid("calls")
        if new_calls is not None:  # judged and added once the read lock is released
            assert self._ledger is not None
            self._advance("calls", new_calls, reset=False)
            self._ledger = self._ledger.add(_judged("calls", new_calls))
            self._maybe_save()
            self._version = version
            return True
        self._read_history(now, None, upto=upto)
        cursor = self._cursors["calls"]
        if _still_there(source, cursor):
            self._version = None  # appends during the read: the next refresh reads them
            self._maybe_save(force=True)
            return True
        return False

    def _read_settings(self) -> dict[str, str | None]:
        """The settings' raw pairs; a settings table that cannot be read is a data issue, as others are."""
        shape = self._source.shapes["settings"]
        self._shape_issues.pop("settings", None)
        try:
            if shape.broken:
                raise StoreError(shape.broken)
            if shape.exists and shape.missing and (rows := self._source.count("settings")):
                self._shape_issues["settings"] = DataIssue("settings", f"lacks column {shape.missing[0]}", rows)
            return self._source.settings()
        except StoreError:
            self._shape_issues["settings"] = DataIssue("settings", CANNOT_BE_READ, 0)
            return {}

    def _new_rows(self, table: str, count: bool = True) -> tuple[bool, pl.DataFrame]:
        """Rows added since the last read, or (True, all rows) when history changed."""
        source, cursor = self._source, self._cursors[table]
        # Appends leave the row count explained by the new rows and the last row
        # read as it was (SQLite reuses the greatest rowid once its row is gone).
        # Deletes, replaced rows and a swapped table fail one of these checks.
        # An UPDATE in place of an older row passes both: see docs/design.md.
        if source.shapes[table].has_rowid and cursor.top is not None:
            new = source.read(table, after_rowid=cursor.top)
            counted = not count or cursor.rows + new.height == source.count(table)
            if counted and (cursor.last is None or source.row_at(table, cursor.top) == cursor.last):
                return False, new
        return True, source.read(table)

    def _advance(self, table: str, rows: pl.DataFrame, reset: bool) -> None:
        cursor = self._cursors[table]
        if reset:
            cursor.top, cursor.rows, cursor.last = None, 0, None
        cursor.rows += rows.height
        top = rows[RID].max() if rows.height else None
        if top is not None and (cursor.top is None or top > cursor.top):  # type: ignore[operator]
            cursor.top = top  # type: ignore[assignment]
            cursor.last = rows.select(RID, *TABLES[table].schema).row(rows[RID].arg_max())  # type: ignore[arg-type]

    def _follow_small(self, table: str) -> None:
        shape = self._source.shapes[table]
        self._shape_issues.pop(table, None)
        empty = _judged(table, pl.DataFrame(schema={RID: pl.Int64, **TABLES[table].schema}))
        if not shape.usable:
            self._frames[table] = empty
            if shape.broken:
                self._shape_issues[table] = DataIssue(table, CANNOT_BE_READ, 0)
                return
            rows = self._source.count(table) if shape.exists else 0
            if rows:
                self._shape_issues[table] = DataIssue(table, f"lacks column {shape.missing[0]}", rows)
            return
        try:
            reset, rows = self._new_rows(table)
        except StoreError:  # an optional table that cannot be read (a view over a broken one) is left out
            self._frames[table], self._cursors[table] = empty, _Cursor()
            self._shape_issues[table] = DataIssue(table, CANNOT_BE_READ, 0)
            return
        rows = _judged(table, rows)
        self._advance(table, rows, reset)
        if reset or table not in self._frames:
            self._frames[table] = rows
        else:
            self._frames[table] = pl.concat([self._frames[table], rows])

    def _read_history(self, now: int, bulk: Bulk | None, upto: int | None = None) -> None:
        """Read all calls: those before the horizon into totals, the others as rows.

        The long texts of old calls are not read (``texts_from``): of them only
        each API's latest name matters, and those few rows are fetched whole at
        the end.  That keeps a first read of ten million calls within memory.
        A table without rowids is read whole, texts and all.
        """
        source = self._source
        ledger = Ledger.empty(horizon=now - self._reach - DAY_MS, reach=self._reach, consumers=self._consumers)
        self._built_ms = now_ms()
        self._advance("calls", pl.DataFrame(schema={RID: pl.Int64}), reset=True)
        spare = source.shapes["calls"].has_rowid
        named = [pl.LazyFrame(schema={"api_id": pl.String, "ts_ms": pl.Int64, RID: pl.Int64})]
        texts_from = ledger.horizon if spare else None
        for chunk in source.read_chunks("calls", bulk, texts_from=texts_from, upto=upto):
            self._advance("calls", chunk, reset=False)
            rows = _judged("calls", chunk)
            ledger = ledger.add(rows)
            if spare:
                latest = _latest_named(rows.lazy().filter(pl.col("ts_ms") < ledger.horizon)).collect()
                named.append(_detached(latest).lazy())
        if spare:
            latest = _at_latest_time(pl.concat(named)).collect()
            rows = source.read_rowids("calls", latest[RID].to_list(), bulk)
            names = formulas.latest_names(rows.lazy()).collect()
            ledger = replace(ledger, settled=replace(ledger.settled, names=names))
        self._ledger = ledger
        cursor = self._cursors["calls"]
        if cursor.top is not None:
            cursor.last = source.row_at("calls", cursor.top, bulk)  # with its real texts

    # -- the cache between processes ----------------------------------------

    def _adopt_cache(self, now: int) -> None:
        """Start from the cached ledger when it was made from this very store."""
        cached = ledger_cache.load(self.path)
        source = self._source
        if (
            cached is None
            or tuple(cached.identity) != source.identity
            or cached.schema != source.schema_sql
            or not cached.ledger.covers(now, self._reach)
            or (self._consumers and cached.ledger.seen is None)
            or now_ms() - cached.built_ms > CACHE_MAX_AGE_MS
        ):
            return
        cursor = self._cursors["calls"]
        cursor.top, cursor.rows = cached.top, cached.rows
        cursor.last = tuple(cached.last) if cached.last is not None else None
        if _intact(source, "calls", cursor):  # checked at once, however big: a cache may be days old
            self._ledger, self._built_ms = cached.ledger, cached.built_ms
        else:
            self._cursors["calls"] = _Cursor()

    def _maybe_save(self, force: bool = False) -> None:
        if not self._cache or self._ledger is None:
            return
        cursor = self._cursors["calls"]
        moment = now_ms()
        # Small stores are read from scratch in milliseconds: not worth a file.
        if cursor.rows <= SYNC_CHECK_ROWS or (not force and moment - self._cached_at < _CACHE_EVERY_MS):
            return
        cached = ledger_cache.CachedLedger(
            ledger=self._ledger,
            identity=list(self._source.identity),
            schema=self._source.schema_sql,
            top=cursor.top,
            rows=cursor.rows,
            last=list(cursor.last) if cursor.last is not None else None,
            built_ms=self._built_ms,
        )
        ledger_cache.save(self.path, cached)
        self._cached_at = moment

    # -- the tables, for ad-hoc queries -------------------------------------

    def _scan(self, table: str) -> pl.LazyFrame:
        """A lazy scan of a table's valid rows (those that keep the contract).

        A table with ``ts_ms`` gains ``ts`` first: that moment as a datetime in
        the store's time zone (its ``timezone`` setting, UTC when absent or invalid).
        """
        contract = TABLES[table].full_schema
        path = self.path
        local = None
        if "ts_ms" in contract:
            with self._lock:
                try:
                    pairs = self._source.settings()
                except StoreError:  # an unreadable settings table is UTC, as in a snapshot
                    pairs = {}
            zone = parse_settings(pairs)[0].timezone
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
        with self._lock:
            pairs = self._source.settings()
        return pl.LazyFrame(
            {"key": list(pairs), "value": list(pairs.values())}, schema={"key": pl.String, "value": pl.String}
        )
