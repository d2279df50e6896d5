"""What a store knows about its calls, kept small: old history tallied, recent rows raw.

Every window the default dashboard shows (24 h, 7 d, the previous 24 h and
7 d, the 48 chart hours) lies within the last two weeks (``reach``; a ranged
view of views.md widens it to its previous period), and every all-time figure
is mergeable.  So calls older than the ``horizon`` are folded into ``Totals`` —
tallies per (role, api_id), the latest name of each API, bad-row counts, a
latency sketch per (role, api_id) and each consumer's first seller call per
API: small however long the history — and only calls since the horizon are
kept as rows.  A ledger answers for any ``now`` with ``now - reach >= horizon``.

The all-time totals at ``now`` are kept too (``present``, as of ``upto``): a
later ``now`` only adds the few rows whose time it passes, and new rows are
added to them directly, so a refresh costs the new rows, not the week.

Pure polars, no I/O: the store feeds it the clean rows it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.metrics import formulas, merge, sketch
from ccanalytics.metrics.buckets import Buckets, by_group
from ccanalytics.metrics.consumers import KEY, PREFIX, FirstSeen, keyed
from ccanalytics.metrics.history import VIEWS_REACH_MS, WINDOW_REACH_MS, History
from ccanalytics.metrics.past import Past
from ccanalytics.metrics.quarters import Quarters, Reader
from ccanalytics.metrics.recent import RID, compact, like, named_once, plain, texts, with_request_ids
from ccanalytics.metrics.running import REACH_MS as RUNNING_REACH_MS
from ccanalytics.metrics.running import Running, Windowed
from ccanalytics.metrics.running import _compacted as compacted
from ccanalytics.metrics.successor import Build, Later, Successor, due, taken
from ccanalytics.metrics.texts import Texts
from ccanalytics.units import DAY_MS, WEEK_MS

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

    from ccanalytics.metrics.recent import Read
    from ccanalytics.settings import Settings

__all__ = ["REACH_MS", "RECENT_SCHEMA", "Ledger", "Totals"]

# How far back the default snapshot looks: the seller's previous 7 d starts at now - 14 d.
REACH_MS = 2 * WEEK_MS

# The calls' columns a recent row keeps (the contract's dtypes), and the rule it breaks.
RECENT_SCHEMA: dict[str, PolarsDataType] = {
    **{
        name: TABLES["calls"].schema[name]
        for name in (
            "ts_ms",
            "role",
            "api_id",
            "api_name",
            "request_id",
            "status_code",
            "latency_ms",
            "price_micro",
            "revenue_micro",
            "consumer",
        )
    },
    "rule": pl.String,
}
_WITHOUT_CONSUMERS = {name: dtype for name, dtype in RECENT_SCHEMA.items() if name != "consumer"}
# The views' recent rows: some texts as categories, no request ids (``recent``), the consumer keyed
# (``consumers.keyed``).
_VIEWS_SCHEMA = compact({**_WITHOUT_CONSUMERS, KEY: pl.UInt64, PREFIX: pl.UInt64})
_ISSUES_SCHEMA = {"rule": pl.String, "rows": pl.Int64}
_MAX_CHUNKS = 32  # rechunk the recent rows beyond this many appended pieces
_EAGER_ROWS = 20_000  # up to this many rows, totals are moved with eager operations (see ``Totals.plus``)
_MAX_AHEAD = 50_000  # beyond this many rows after `upto`, the recent rows are filtered again instead


@dataclass(frozen=True)
class Totals:
    """All-time aggregates of a set of calls: mergeable by addition."""

    tallies: pl.DataFrame  # per (role, api_id), valid calls
    names: pl.DataFrame  # per api_id, the latest named valid call
    issues: pl.DataFrame  # per rule, bad rows
    sketch: pl.DataFrame  # per (role, api_id, key): latency counts (``sketch``; with `buckets`, a key's rows summed)
    # per (role, api_id), the sketch as Python values with its p95 found (``buckets``): moved by the new counts
    # while the totals are merged eagerly, None when it must be read from the sketch again (``with_p95``)
    buckets: dict[tuple[str, str], Buckets] | None = None

    @classmethod
    def empty(cls) -> Totals:
        return cls(
            tallies=formulas.empty_tally().collect(),
            names=formulas.empty_names().collect(),
            issues=pl.DataFrame(schema=_ISSUES_SCHEMA),
            sketch=sketch.empty_sketch().collect(),
        )

    @property
    def p95(self) -> dict[tuple[str, str], float | None] | None:
        """Per (role, api_id), the all-time p95 (``alltime.p95_query``'s figures), when ``buckets`` are kept."""
        return None if self.buckets is None else {group: b.p95 for group, b in self.buckets.items() if b.total}

    def with_p95(self) -> Totals:
        """The totals with ``buckets`` read from the sketch (once: later merges move them)."""
        return self if self.buckets is not None else replace(self, buckets=by_group(self.sketch))

    def plus(self, rows: pl.DataFrame) -> Totals:
        """These totals with more rows counted: only what the rows can change is merged again.

        A refresh's few rows are merged with eager operations (``merge``); a
        chunk of a full read, with one lazy plan per total, which scales.
        """
        if rows.is_empty():
            return self
        if rows.height > _EAGER_ROWS:
            return self._plus_lazily(rows)
        rule = rows["rule"]
        good = rows if rule.null_count() == rows.height else rows.filter(rule.is_null())
        tallies, names, issues, sketches, buckets = self.tallies, self.names, self.issues, self.sketch, self.buckets
        # with `buckets` kept, the sketch is read only when asked for: its new counts are appended
        moved = None if good.is_empty() else merge.moved_by_one_api(tallies, names, sketches, good, buckets is not None)
        if moved is None and not good.is_empty():  # calls of several APIs: one group_by
            moved = merge.moved_by_groups(tallies, names, sketches, good)
        if moved is not None:
            tallies, names, sketches, counts = moved
            if buckets is not None:
                buckets = {**buckets}
                for group, (keys, ns) in counts.items():
                    buckets[group] = buckets.get(group, Buckets.empty()).plus(keys, ns)
        elif not good.is_empty():  # a call without a role or api_id: merged in general
            buckets = None
            tallies = merge.tallies_with(tallies, good)
            if good["api_name"].null_count() < good.height:
                names = merge.names_with(names, good)
            if good["latency_ms"].null_count() < good.height:
                sketches = merge.sketch_with(sketches, good)
        if good.height < rows.height:
            issues = merge.issues_with(issues, rows)
        return Totals(tallies, names, issues, sketches, buckets)

    def _plus_lazily(self, rows: pl.DataFrame) -> Totals:
        good = rows.lazy().filter(pl.col("rule").is_null())
        tallies, names, issues, sketches = pl.collect_all(
            [
                formulas.merge_tallies(self.tallies.lazy(), formulas.tally(good)),
                formulas.latest_names(pl.concat([self.names.lazy(), good.select(self.names.columns)])),
                pl.concat([self.issues.lazy(), formulas.issue_counts(rows.lazy())])
                .group_by("rule")
                .agg(pl.col("rows").sum()),
                sketch.merge_sketches(self.sketch.lazy(), sketch.sketch(good)),
            ]
        )
        return Totals(tallies, names, issues, sketches)


@dataclass(frozen=True)
class Ledger:
    """Calls before ``horizon`` as totals; later calls as rows; the totals at ``upto``."""

    horizon: int
    settled: Totals
    recent: pl.DataFrame
    upto: int | None = None
    present: Totals | None = None  # settled + recent rows with ts_ms < upto
    reach: int = REACH_MS  # how far before `now` the rows must go
    seen: FirstSeen | None = None  # first seller calls before the horizon; None: not kept (no view asked)
    running: Running | None = None  # the default snapshot's windows, moved by each refresh (built when first asked)
    histories: tuple[History, ...] = ()  # the day ranges' views asked lately (``history``), newest first
    running_from: int | None = None  # `running` holds the calls from here on (None: all the rows)
    # with `present`: the recent rows it does not count yet (ts_ms >= upto, or late ones added since `upto`)
    ahead: pl.DataFrame | None = None
    quarters: Quarters | None = None  # the day ranges' settled history (``quarters``); kept with `seen`
    successors: tuple[Successor, ...] = ()  # the day ranges' next histories, built elsewhere (``successor``)
    texts: Texts | None = None  # the texts of the keyed recent rows' consumers; None: the rows keep theirs, or none

    @classmethod
    def empty(cls, horizon: int, reach: int = REACH_MS, consumers: bool = False) -> Ledger:
        """No calls yet; ``consumers``: keep when each consumer was first seen (for views)."""
        # Without views nothing counts consumers: their long texts are not kept.
        recent = pl.DataFrame(schema=_VIEWS_SCHEMA if consumers else _WITHOUT_CONSUMERS)
        seen = FirstSeen.empty(cut=horizon - WINDOW_REACH_MS) if consumers else None
        quarters = Quarters.empty(horizon - VIEWS_REACH_MS, horizon - WINDOW_REACH_MS) if consumers else None
        texts = Texts.empty() if consumers else None
        return cls(
            horizon=horizon, settled=Totals.empty(), recent=recent, reach=reach, seen=seen, quarters=quarters,
            texts=texts,
        )  # fmt: skip

    def covers(self, now: int, reach: int | None = None) -> bool:
        """Whether every window at ``now`` (``reach`` back, default the ledger's) lies after the horizon."""
        return now - (self.reach if reach is None else reach) >= self.horizon

    def add(self, rows: pl.DataFrame, read: Read | None = None) -> Ledger:
        """The ledger with more clean call rows (with their ``rule``) added.

        Rows without a valid time are always reported; they can never be recent.
        A views' ledger keeps no ``request_id`` (``recent.named_once``): ``read``
        reads back the rows with these rowids (the store's), for a tie of names
        with a row added before.
        """
        ts = pl.col("ts_ms")
        given = rows  # with their rowids, for the quarters
        texts = self.texts
        if texts is not None:  # the consumers' texts kept aside, their keys in the rows
            texts = texts.plus(rows.select("ts_ms", "role", "consumer", "rule").filter(ts >= self.horizon))
            rows = keyed(rows.select(*RECENT_SCHEMA, *([RID] if RID in rows.columns else [])))
        ids = "request_id" not in self.recent.columns  # the views' rows: each call's rowid instead
        if ids and RID not in rows.columns:
            rows = rows.with_columns(pl.lit(None, pl.Int64).alias(RID))
        picked = [*self.recent.columns, "request_id"] if ids else self.recent.columns
        rows = pl.DataFrame([rows[name] for name in picked])  # no query: only columns picked
        times = rows["ts_ms"]
        if times.null_count() == 0 and (rows.is_empty() or times.min() >= self.horizon):  # type: ignore[operator]
            old, new = rows.clear(), rows  # the usual refresh: every row is recent
        else:
            old, new = rows.filter(ts.is_null() | (ts < self.horizon)), rows.filter(ts >= self.horizon)
        kept = self.recent
        if ids:
            new, kept = named_once(new, kept, read)
        recent = pl.concat([kept, like(new.select(kept.columns) if ids else new, kept.schema)])
        if recent.n_chunks() > _MAX_CHUNKS:  # the refreshes' small pieces joined, not all the rows copied
            recent = compacted(recent)
        present, ahead = self.present, self.ahead
        if present is not None and self.upto is not None:
            waiting = None if ahead is None else _bounded(pl.concat([ahead, new]))
            if waiting is not None:  # late ones too: the next `at` counts them with the rest, in one merge
                present, ahead = present.plus(old), waiting
            else:
                counted, later = _split(new, self.upto)
                present = present.plus(pl.concat([old, counted]))
                ahead = None if ahead is None else _bounded(pl.concat([ahead, later]))
        seen = None if self.seen is None else self.seen.plus(old)
        timed = old if old.is_empty() else old.filter(ts.is_not_null())
        quarters = None if self.quarters is None else self.quarters.plus(timed, given)
        rule = new["rule"]
        valid = new if rule.null_count() == new.height else new.filter(rule.is_null())
        running = None if self.running is None else self.running.add(valid)
        return replace(
            self,
            settled=self.settled.plus(old),
            recent=recent,
            present=present,
            ahead=ahead,
            seen=seen,
            running=running,
            quarters=quarters,
            texts=texts,
        )

    def settle(self, horizon: int, read: Read | None = None) -> Ledger:
        """The same calls, with those before a later ``horizon`` folded into the settled totals.

        ``read`` reads back rows by rowid, as for ``add``: a views' ledger's
        settled names keep their ``request_id`` (``recent.with_request_ids``).
        """
        if horizon <= self.horizon:
            return self
        ts = pl.col("ts_ms")
        # `present` counts the rows before `upto`; it stays right only if none of
        # the rows leaving `recent` lie after it.
        keep = self.upto is not None and self.upto >= horizon
        leaving = texts(self.recent.filter(ts < horizon))
        present = self.present if keep else None
        if "request_id" not in self.recent.columns:
            leaving = with_request_ids(leaving, read)
            if present is not None:  # its names may be the leaving rows' (without request_id): now with it
                present = replace(present, names=_named(present.names, leaving))
        cut = (
            None
            if self.running is None or self.running.now is None
            else min(horizon, self.running.now - RUNNING_REACH_MS)
        )
        return replace(
            self,
            horizon=horizon,
            settled=self.settled.plus(leaving),
            seen=None if self.seen is None else self.seen.plus(leaving).aged(horizon - WINDOW_REACH_MS),
            recent=self.recent.filter(ts >= horizon),
            upto=self.upto if keep else None,
            present=present,
            running=None if self.running is None else self.running.settle(horizon),
            running_from=max(horizon if cut is None else cut, self.running_from or -(2**63)),
            histories=(),
            successors=(),
            quarters=None
            if self.quarters is None
            else self.quarters.plus(leaving).trimmed(horizon - VIEWS_REACH_MS, horizon - WINDOW_REACH_MS),
            texts=None if self.texts is None else self.texts.trimmed(horizon),
        )

    def at(self, now: int) -> tuple[Ledger, pl.LazyFrame, Totals]:
        """The valid recent calls that exist at ``now`` and the all-time totals at ``now``.

        Returns the ledger with its ``present`` totals moved to ``now`` as well,
        so that the next call pays only for what changed in between.
        """
        ts = pl.col("ts_ms")
        ahead: pl.DataFrame | None
        if self.present is not None and self.upto is not None and now >= self.upto:
            if self.ahead is not None:  # the few rows not counted yet
                entering, ahead = _split(self.ahead, now)
            else:
                entering = texts(self.recent.filter(ts.is_between(self.upto, now, closed="left")))
                ahead = _bounded(texts(self.recent.filter(ts >= now)))
            present = self.present.plus(entering)
        else:
            present = self.settled.plus(texts(self.recent.filter(ts < now)))
            ahead = _bounded(texts(self.recent.filter(ts >= now)))
        present = present.with_p95()  # queried once; later refreshes move it with the totals
        calls = plain(formulas.existing(self.recent.lazy(), now).filter(pl.col("rule").is_null()))
        return replace(self, upto=now, present=present, ahead=ahead), calls, present

    def windows_at(self, now: int, timezone: str) -> tuple[Ledger, Windowed]:
        """The windowed figures at ``now`` (see ``running.Running.moved``), and the ledger whose state moved there.

        The running state holds the calls its windows can reach (a day more),
        not every row a ranged view keeps; it is built again when ``now``
        moves back before them.
        """
        running, start = self.running, self.running_from
        if running is None or (start is not None and now - RUNNING_REACH_MS < start):
            start = max(self.horizon, now - RUNNING_REACH_MS - DAY_MS)
            ts = pl.col("ts_ms")
            running = Running.of(self.recent.filter(pl.col("rule").is_null() & (ts >= start)))
        running, windowed = running.moved(now, timezone)
        return replace(self, running=running, running_from=start), windowed

    def running_calls(self, since: int, now: int) -> pl.LazyFrame | None:
        """The valid calls in ``[since, now)`` of the running state's rows (sorted), if it holds them.

        Columns as ``running.COLUMNS``; None when the state is not built or
        starts after ``since``.  Cheaper than filtering every kept row when a
        ranged view keeps months of them.  A plan, not a slice: a default
        refresh seldom reads it (``compute``), so it costs nothing until read.
        """
        running = self.running
        if running is None or not self._holds(since):
            return None
        return plain(running.rows.lazy().filter(pl.col("ts_ms").is_between(since, now, closed="left")))

    def running_failed(self, since: int, now: int) -> pl.DataFrame | None:
        """The valid calls in ``[since, now)`` that did not succeed, as ``running_calls`` (``Running.failed_calls``)."""
        if self.running is None or not self._holds(since):
            return None
        return plain(self.running.failed_calls(since, now))

    def _holds(self, since: int) -> bool:
        """Whether the running state holds every valid call from ``since`` on."""
        start = self.running_from
        return since >= max(self.horizon, start if start is not None else since)

    def view_at(
        self,
        now: int,
        settings: Settings,
        range_name: str,
        api: str | None,
        names: pl.LazyFrame,
        apis: pl.LazyFrame,
        reader: Reader | None = None,
        later: Later | None = None,
    ) -> tuple[Ledger, dict[str, Any]]:
        """A day range's ``view`` at ``now`` (see ``history.History``), and the ledger that keeps its history.

        The ledger must keep consumers' first calls (``seen``), and either its
        settled history (``quarters``) with a ``reader`` of the store's rows,
        or rows since ``now − 2R``.  With ``later``, the next history is built
        elsewhere before this one's span ends (``successor``).
        """
        assert self.seen is not None
        state = (settings.timezone, range_name, settings.error_spike_window_ms, self.horizon)
        settled = int(self.settled.tallies["calls"].sum())

        def answers(history: History) -> bool:
            return history.answers(now, *state, settled, self.recent.height)

        kept = [h for h in self.histories if answers(h)]
        ledger, successors = self, self.successors
        if kept:
            history = kept[0]
        elif (ready := taken(successors, range_name, answers)) is not None:
            # Its reader's connection was the builder's: rows read back later (another API's consumers) use this one.
            history = (
                ready
                if ready.past is None or reader is None
                else replace(ready, past=replace(ready.past, reader=reader))
            )
        else:
            if self.quarters is not None and reader is not None:
                ledger = replace(self, quarters=self.quarters.merged())
            history = ledger._build(now, settings, range_name, settled)(reader)
        # A successor is kept until a later history of its range is in use.
        successors = tuple(s for s in successors if s.range_name != range_name or s.built > history.built)
        if later is not None and due(history, now) and all(s.range_name != range_name for s in successors):
            build = ledger._build(now, settings, range_name, settled)
            successors = (*successors, Successor(range_name, now, later(build)))
        others = tuple(h for h in self.histories if h.range_name != range_name)[:1]  # at most two ranges kept
        view = history.view(self.recent, now, api, names, apis, settings, self.seen, self.texts)
        return replace(ledger, histories=(history, *others), successors=successors), view

    def _build(self, now: int, settings: Settings, range_name: str, settled: int) -> Build:
        """The build of a day range's history at ``now`` from this ledger, given a reader of the store's rows."""
        assert self.seen is not None
        seen, quarters, texts = self.seen, self.quarters, self.texts

        def build(reader: Reader | None) -> History:
            past = None if quarters is None or reader is None else Past(quarters.merged(), reader, self.horizon)
            return History.of(
                self.recent, seen, horizon=self.horizon, settled_calls=settled, now=now, timezone=settings.timezone,
                range_name=range_name, spike_window=settings.error_spike_window_ms, past=past, texts=texts,
            )  # fmt: skip

        return build


def _named(names: pl.DataFrame, leaving: pl.DataFrame) -> pl.DataFrame:
    """``names`` whose ``request_id`` is missing given it from the ``leaving`` rows of their API and time."""
    if names["request_id"].null_count() == 0:
        return names
    found = leaving.filter(pl.col("request_id").is_not_null()).select("api_id", "ts_ms", found="request_id")
    filled = names.join(found, on=["api_id", "ts_ms"], how="left", maintain_order="left")
    return filled.with_columns(pl.coalesce("request_id", "found").alias("request_id")).drop("found")


def _split(rows: pl.DataFrame, at: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows before ``at`` and the rows from ``at`` on (no row without a time); no filter when one side is empty."""
    times = rows["ts_ms"]
    if rows.is_empty() or times.min() >= at:  # type: ignore[operator]
        return rows.clear(), rows
    if times.max() < at:  # type: ignore[operator]
        return rows, rows.clear()
    ts = pl.col("ts_ms")
    return rows.filter(ts < at), rows.filter(ts >= at)


def _bounded(ahead: pl.DataFrame) -> pl.DataFrame | None:
    """The rows after ``upto`` to keep beside the present totals, unless too many (then they are filtered again)."""
    return ahead if ahead.height <= _MAX_AHEAD else None
