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
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.chain.balances import LiveBalances
from ccanalytics.errors import StoreError
from ccanalytics.metrics.alerts import lookback_ms
from ccanalytics.metrics.compute import compute
from ccanalytics.metrics.history import HISTORY_MIN_MS, VIEWS_REACH_MS
from ccanalytics.metrics.ledger import REACH_MS, Ledger
from ccanalytics.metrics.views import RANGES
from ccanalytics.settings import parse_settings
from ccanalytics.store import cache as ledger_cache
from ccanalytics.store.bands import read_back
from ccanalytics.store.builder import Builder
from ccanalytics.store.follow import Cursor, HistoryChanged, Verifier, advance, intact, new_rows, still_there
from ccanalytics.store.history import judged, read_history, shelved
from ccanalytics.store.paused import collector_paused
from ccanalytics.store.reconciliation import latest_reconciliation
from ccanalytics.store.scan import Tables
from ccanalytics.store.small import SmallTables
from ccanalytics.store.sqlite import Source
from ccanalytics.units import DAY_MS, WEEK_MS, now_ms, parse_events, parse_now

if TYPE_CHECKING:
    import os
    from datetime import datetime

    from ccanalytics.metrics.snapshot import Snapshot
    from ccanalytics.store.bulk import Bulk

__all__ = ["Store", "open_store"]

# How far behind `now - WEEK` the horizon may fall before old rows are folded.
_SETTLE_SLACK_MS = 2 * DAY_MS
# Up to this many calls, a change is checked against the row count at once
# (a few ms); beyond, the count runs off the refresh path (see ``follow.Verifier``).
SYNC_CHECK_ROWS = 200_000
# A cache of the ledger is written after a full read, then at most this often;
# it is used for a day after that full read (see ``ccanalytics.store.cache``).
_CACHE_EVERY_MS = 5 * 60_000
CACHE_MAX_AGE_MS = DAY_MS
CHART_SPAN_MS = 49 * 3_600_000  # the 48 hourly buckets reach back at most 49 h


def open_store(
    path: str | os.PathLike[str],
    *,
    cache: bool = True,
    balances: LiveBalances | None = None,
    sync_check_rows: int = SYNC_CHECK_ROWS,
    cache_max_age_s: float = CACHE_MAX_AGE_MS / 1000,
    chunk_rows: int | None = None,
) -> Store:
    """Open a store read-only; a file that is not a store raises ``StoreError`` (one line).

    Parameters
    ----------
    path
        The control center's SQLite file.
    cache
        Keep what was learnt about a big store in the user's cache directory,
        so that opening it again is fast (see ``ccanalytics.store.cache``).
    balances
        Where live balances come from (default: a ``LiveBalances`` reading the
        chain the store's settings name); the caller closes one it passes.
    sync_check_rows
        Up to this many calls, a change is checked against the row count at
        once; beyond, the count runs in the background and the ledger is cached.
    cache_max_age_s
        A cached ledger is used until this long after the full read it came from.
    chunk_rows
        Calls per query of a full read (default: 50 000, or 5 000 on a
        rollback-journal store, whose writers each query makes wait).

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
    return Store(
        path,
        cache=cache,
        balances=balances,
        sync_check_rows=sync_check_rows,
        cache_max_age_s=cache_max_age_s,
        chunk_rows=chunk_rows,
    )


# How often a read that a writer's commits kept overtaking is tried again.
_ATTEMPTS = 8
# A rollback-journal store with rowids spanning at most this many is read in one transaction (well under 200 ms).
ONE_TRANSACTION_ROWS = 5_000


class Store(Tables):
    """One store, read-only.  Thread-safe; snapshots are incremental."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        cache: bool = True,
        balances: LiveBalances | None = None,
        sync_check_rows: int = SYNC_CHECK_ROWS,
        cache_max_age_s: float = CACHE_MAX_AGE_MS / 1000,
        chunk_rows: int | None = None,
    ) -> None:
        if sync_check_rows < 0 or not cache_max_age_s >= 0:
            raise ValueError("sync_check_rows and cache_max_age_s must not be negative")
        if chunk_rows is not None and chunk_rows < 1:
            raise ValueError("chunk_rows must be at least 1")
        self.path = Path(path).absolute()  # a notebook's %cd must not lose the store
        self._chunk_rows = chunk_rows
        self._lock = threading.RLock()
        self._source = Source(self.path, chunk_rows=self._chunk_rows)
        self._cache = cache
        self._sync_check_rows = sync_check_rows
        self._cache_max_age_ms = cache_max_age_s * 1000
        self._verifier = Verifier(self.path)
        self._builder = Builder(self.path)  # day ranges' next histories, off the refresh path
        self._own_live = balances is None  # closed with the store only when made here
        self._live = LiveBalances() if balances is None else balances
        self._reset()

    def _reset(self) -> None:
        self._version: int | None = None
        self._calls = Cursor()
        self._small = SmallTables()
        self._ledger: Ledger | None = None
        self._reach = getattr(self, "_reach", REACH_MS)  # how far back rows are kept (views widen it)
        self._consumers = getattr(self, "_consumers", False)  # whether first-seen consumers are kept (views)
        self._cached_at = 0
        self._built_ms = 0
        self._reconciliation: dict[str, Any] | None = None

    def close(self) -> None:
        if self._own_live:
            self._live.close()
        self._verifier.close()
        self._builder.close()
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
        with self._lock, collector_paused(self._ledger is not None):  # a warm refresh (``paused``)
            # A day range's settled history is kept as tallies, its edges read back (``bands``); without
            # rowids to read by, and for the hour ranges, the ledger keeps rows since the previous period.
            back = range is not None and RANGES[range].bucket == "1d" and self._source.shapes["calls"].has_rowid
            if range is not None:
                if not back:
                    self._reach = max(self._reach, 2 * RANGES[range].length_ms)
                if not self._consumers:  # views count new consumers: read the history again, keeping them
                    self._consumers, self._ledger = True, None
            self._catch_up(now_ms)
            settings, setting_issues = parse_settings(self._small.settings_raw)
            # A long error_spike_window_ms looks back before the chart (or range): keep those rows raw.
            span = CHART_SPAN_MS if range is None else max(CHART_SPAN_MS, RANGES[range].length_ms + DAY_MS)
            if back and lookback_ms(settings, span) <= VIEWS_REACH_MS:  # the settled history keeps the errors
                span = CHART_SPAN_MS
            if lookback_ms(settings, span) > self._reach:
                self._reach = lookback_ms(settings, span)
                self._catch_up(now_ms)
            balances, mismatch = self._live.get(settings, wait_s=chain_wait_s)
            if mismatch:
                setting_issues = [*setting_issues, mismatch]
            assert self._ledger is not None
            self._ledger, calls, totals = self._ledger.at(now_ms)
            self._ledger, windowed = self._ledger.windows_at(now_ms, settings.timezone)
            chart = failed = None  # the calls the chart's spike flags look at, when the running state holds them
            kept_history = range is not None and RANGES[range].length_ms >= HISTORY_MIN_MS  # (``history``)
            if range is None or kept_history:  # the rest reads a week and the chart's errors
                chart_since = now_ms - lookback_ms(settings, CHART_SPAN_MS)
                kept = self._ledger.running_calls(min(now_ms - WEEK_MS, chart_since), now_ms)
                calls = calls if kept is None else kept
                failed = self._ledger.running_failed(chart_since, now_ms)
                if failed is None:  # compute filters the chart's calls for their errors
                    chart = self._ledger.running_calls(chart_since, now_ms)
            seen = self._ledger.seen
            if range is not None and seen is not None and seen.pending:
                self._ledger = replace(self._ledger, seen=seen.merged())
            view = None
            if range is not None and kept_history:
                good_apis = self._small.frames["apis"].lazy().filter(pl.col("rule").is_null())
                reader = read_back(self._source, self._calls) if back else None
                later = self._builder.later(self._calls if back else None)
                self._ledger, view = self._ledger.view_at(
                    now_ms, settings, range, api, totals.names.lazy(), good_apis, reader, later
                )
            snapshot = compute(
                now=now_ms,
                settings=settings,
                calls=calls,
                totals=totals,
                facts=self._small.facts(now_ms, events),
                apis=self._small.frames["apis"],
                shape_issues=self._small.issues,
                setting_issues=setting_issues,
                balances=balances,
                range_name=range,
                api=api,
                seen=self._ledger.seen,
                texts=self._ledger.texts,
                horizon=self._ledger.horizon,
                windowed=windowed,
                view=view,
                chart_calls=chart,
                chart_failed=failed,
            )
            snapshot = replace(snapshot, reconciliation=self._reconciliation)  # read with the calls (``_read``)
            if self._calls.rows > self._sync_check_rows:
                self._verifier.start("calls", self._calls)
            return snapshot

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
                    unchanged = intact(self._source, "calls", self._calls)
            else:  # short queries: a rollback-journal writer never waits long
                unchanged = still_there(self._source, self._calls)
            if not unchanged:
                self._ledger = None
                self._version = None
            return unchanged

    # -- following the file -------------------------------------------------

    def _catch_up(self, now: int) -> None:
        if self._source.replaced():
            self._source.close()
            self._source = Source(self.path, chunk_rows=self._chunk_rows)
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
            except HistoryChanged:
                pass
            full, self._ledger, self._version = True, None, None
        else:
            raise StoreError(f"{self.path}: changed during every attempt to read it ({_ATTEMPTS}); try again")
        ledger = self._ledger
        assert ledger is not None
        if now - ledger.reach - ledger.horizon > _SETTLE_SLACK_MS:
            self._ledger = ledger.settle(now - ledger.reach - DAY_MS, self._read_rowids)

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
            self._reconciliation = latest_reconciliation(source.con, now)  # in the same state as the calls
            if not full and version == self._version:
                return True
            self._small.follow(source)
            if self._ledger is None and self._cache and source.wal:
                self._adopt_cache(now)
            new_calls = None
            if self._ledger is not None and self._ledger.covers(now, self._reach):
                big = self._calls.rows > self._sync_check_rows
                reset, rows = new_rows(source, "calls", self._calls, count=not big)
                if not reset:
                    new_calls = rows
            if new_calls is not None:
                if bulk is not None:
                    bulk.close()
            elif not full:
                raise HistoryChanged
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
            advance(self._calls, "calls", new_calls, reset=False)
            self._ledger = self._ledger.add(judged("calls", new_calls), self._read_rowids)
            self._maybe_save()
            self._version = version
            return True
        self._read_history(now, None, upto=upto)
        if still_there(source, self._calls):
            self._version = None  # appends during the read: the next refresh reads them
            self._maybe_save(force=True)
            return True
        return False

    def _read_rowids(self, rowids: list[int]) -> pl.DataFrame:
        """The calls with these rowids, as read (a views' ledger reads back request ids: ``metrics.recent``)."""
        return self._source.read_rowids("calls", rowids)

    def _read_history(self, now: int, bulk: Bulk | None, upto: int | None = None) -> None:
        """Read all calls into a new ledger (see ``history``)."""
        self._built_ms = now_ms()
        self._ledger = read_history(
            self._source, bulk, self._calls, now=now, reach=self._reach, consumers=self._consumers, upto=upto
        )

    # -- the cache between processes ----------------------------------------

    def _adopt_cache(self, now: int) -> None:
        """Start from the cached ledger when it was made from this very store."""
        cached = ledger_cache.load(self.path)
        if cached is None or not cached.fits(
            self._source, now, self._reach, consumers=self._consumers, max_age_ms=self._cache_max_age_ms
        ):
            return
        cursor = cached.cursor()
        if intact(self._source, "calls", cursor):  # checked at once, however big: a cache may be days old
            self._calls, self._ledger, self._built_ms = cursor, shelved(cached.ledger), cached.built_ms
        else:
            self._calls = Cursor()

    def _maybe_save(self, force: bool = False) -> None:
        moment = now_ms()
        # Small stores are read from scratch in milliseconds: not worth a file.
        if not self._cache or self._ledger is None or self._calls.rows <= self._sync_check_rows:
            return
        if force or moment - self._cached_at >= _CACHE_EVERY_MS:
            cached = ledger_cache.CachedLedger.of(self._ledger, self._source, self._calls, self._built_ms)
            ledger_cache.save(self.path, cached)
            self._cached_at = moment

    def _settings_pairs(self) -> dict[str, str | None]:
        with self._lock:
            return self._source.settings()
