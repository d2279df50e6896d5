"""History for views.md's ranges of a day or more (24h, 7d, 30d, 90d): the middle summed once, edges from rows.

A day range's window ``[now − R, now)`` and its previous period
``[now − 2R, now − R)`` move with ``now``, but between two refreshes almost
all of them stays put.  A ``History`` is built from the ledger's rows at a
moment ``built`` (b) and answers for every ``now`` in ``[b, b + SPAN_MS)``:

- the window is ``[now − R, b − R + SPAN)`` (rows of the band at R), the
  fixed middle ``[b − R + SPAN, b)``, and ``[b, now)``;
- the previous period is ``[now − 2R, b − 2R + SPAN)`` (rows of the band at
  2R), its fixed middle ``[b − 2R + SPAN, b − R)``, and ``[b − R, now − R)``
  (rows of the band at R).

The middles are kept as tallies and latency sketches per (role, api_id), the
series as counts per (role, api_id, local day), the window middle's consumers
as sorted 64-bit keys with their calls and revenue plus its ten top consumers
(overall and per API), and every consumer's first seller call before ``b``.
The two bands keep their rows (``SPAN_MS`` of calls each).  A refresh then sums
only the band rows and the *new* calls: those at or after ``b`` and those added
after the build with an earlier time (late calls) — so counts, sums and
consumers stay exact, and percentiles come from the merged sketches (within
0.5 %, views.md allows 1 %).

Rows outside the middle only add to a consumer's calls and revenue, so the
window's ten top consumers are among the middle's ten and the consumers of
those rows; a consumer's first call can only move earlier, so ``new_consumers``
is the count of first calls in the window before ``b`` (a binary search),
corrected for the consumers of the new calls.

Pure polars, no I/O: the ledger hands it its rows (see ``ledger.Ledger.view_at``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.metrics import formulas, sketch
from ccanalytics.metrics.alerts import spike_flags, spike_flags_by_group
from ccanalytics.metrics.consumers import keyed
from ccanalytics.metrics.edges import Edges, Move, coarse, group, merged_firsts, merged_outside
from ccanalytics.metrics.middle import MiddleConsumers
from ccanalytics.metrics.past import COLUMNS, Past, whole_days
from ccanalytics.metrics.recent import plain
from ccanalytics.metrics.sketch import grouped_percentiles
from ccanalytics.metrics.texts import Texts
from ccanalytics.metrics.views import RANGES, breakdown_rows, bucket_starts, iso_texts, view_dict
from ccanalytics.units import HOUR_MS

if TYPE_CHECKING:
    from ccanalytics.metrics.consumers import FirstSeen
    from ccanalytics.settings import Settings

__all__ = ["HISTORY_MIN_MS", "SPAN_MS", "VIEWS_REACH_MS", "WINDOW_REACH_MS", "History"]

SPAN_MS = 6 * HOUR_MS  # how long a history answers; its bands hold this much of calls each
HISTORY_MIN_MS = 4 * SPAN_MS  # the ranges this long or longer keep a history (24h, 7d, 30d, 90d); 1h is summed
# How far before its horizon a ledger keeps the settled history (``quarters``): a 90d view's previous period,
# and its window for the consumers.
VIEWS_REACH_MS = 2 * RANGES["90d"].length_ms
WINDOW_REACH_MS = RANGES["90d"].length_ms
_BY = ("period", "role", "api_id")


def _valid(recent: pl.DataFrame) -> pl.LazyFrame:
    return plain(keyed(recent.lazy()).filter(pl.col("rule").is_null()).select(COLUMNS))


def _rows(recent: pl.DataFrame, since: int) -> pl.DataFrame:
    """The valid rows of ``recent`` from row ``since`` on."""
    rows = keyed(recent.slice(since))
    rule = rows["rule"]
    if rule.null_count() == rule.len():  # the usual case: no broken row, no filter
        return plain(rows.select(COLUMNS))
    return plain(rows.filter(rule.is_null()).select(COLUMNS))


def _periods(calls: pl.LazyFrame, periods: dict[str, tuple[int, int]]) -> pl.LazyFrame:
    """The calls of the (disjoint) periods, each with its ``period``."""
    ts, label = pl.col("ts_ms"), pl.lit(None, pl.String)
    for name, (start, end) in periods.items():
        label = pl.when(ts.is_between(start, end, closed="left")).then(pl.lit(name)).otherwise(label)
    return calls.with_columns(period=label).filter(pl.col("period").is_not_null())


def _day_counts(calls: pl.LazyFrame, starts: list[int], end: int) -> pl.LazyFrame:
    """Per (role, api_id, start): successes and errors of the calls in ``[starts[0], end)``."""
    # Each call's bucket by a binary search among the starts: no sort of the calls (a copy of them).
    edges = pl.lit(pl.Series(starts, dtype=pl.Int64))
    start = edges.gather(edges.search_sorted(pl.col("ts_ms"), side="right") - 1)
    return (
        formulas.window(calls, starts[0], end)
        .group_by("role", "api_id", start=start)
        .agg(success=formulas.succeeded().sum().cast(pl.Int64), error=(~formulas.succeeded()).sum().cast(pl.Int64))
    )


@dataclass(frozen=True)
class History:
    """The fixed middles of one day range at ``built``, its bands' rows, and the consumers' first calls."""

    range_name: str
    timezone: str
    spike_window: int  # the error-spike window it kept errors for
    built: int
    known: int  # rows of the ledger's `recent` at the build: later ones are new
    horizon: int  # the ledger's horizon and settled calls at the build: another one, another history
    settled_calls: int
    tallies: pl.DataFrame  # period, role, api_id, figures: the middles
    sketch: pl.DataFrame  # period, role, api_id, key, n: the middles
    days: pl.DataFrame  # role, api_id, start, success, error: calls before `built`
    errors: pl.DataFrame  # role, api_id, ts_ms: failed calls before `built`, from the spike window before the series
    band: pl.DataFrame  # the calls of both bands
    future: pl.DataFrame  # the calls at or after `built` that existed at the build
    middle: tuple[int, int]  # the window's fixed middle
    past: Past | None = field(compare=False)  # the settled calls it was built from (None: all were rows)
    consumers: dict[str | None, MiddleConsumers] = field(default_factory=dict, compare=False)  # per API, when asked
    spikes: dict[tuple, list[bool]] = field(default_factory=dict, compare=False)  # flags of buckets over, by API
    edges: dict[str | None, Edges] = field(default_factory=dict, compare=False)  # the last view's figures, by API
    tails: dict[tuple, pl.DataFrame] = field(default_factory=dict, compare=False)  # errors before the build, by API
    grids: dict[tuple, pl.DataFrame] = field(default_factory=dict, compare=False)  # the series before the build

    @classmethod
    def of(
        cls,
        recent: pl.DataFrame,
        seen: FirstSeen,
        *,
        horizon: int,
        settled_calls: int,
        now: int,
        timezone: str,
        range_name: str,
        spike_window: int,
        past: Past | None = None,
        texts: Texts | None = None,
    ) -> History:
        """The history of ``range_name`` at ``now`` from the ledger's rows (``recent``) and first calls (``seen``).

        Without ``past`` (the settled calls' quarters and a way to read their
        rows back), ``recent`` must hold every call since ``now − 2R``;
        ``texts`` are those of its consumers (when it is keyed).
        """
        length, b = RANGES[range_name].length_ms, now
        ts = pl.col("ts_ms")
        # A plan, not a frame: each query below filters the kept rows itself, and no copy of them all is held
        # through the build (its peak).  The queries run one after the other: at once, each held its own copy.
        rows, future = _valid(recent).filter(ts < b), _valid(recent).filter(ts >= b).collect()
        periods = {"window": (b - length + SPAN_MS, b), "previous": (b - 2 * length + SPAN_MS, b - length)}
        bands = [(b - 2 * length, b - 2 * length + SPAN_MS), (b - length, b - length + SPAN_MS)]
        whole: dict[str, tuple[int, int]] = {}
        before = rows
        if past is not None:  # the settled part: whole days summed, the hours at the ends read back
            reads = list(bands)
            for name, (start, end) in periods.items():
                inner = whole_days(start, end)
                if inner is None:
                    reads.append((start, end))
                else:
                    whole[name] = inner
                    reads += [(start, inner[0]), (inner[1], end)]
            before = pl.concat([before, past.rows(reads).lazy()])
        middles = _periods(before, periods)
        starts = bucket_starts(b, timezone, RANGES[range_name])
        in_band = pl.lit(False)
        for start, end in bands:
            in_band = in_band | ts.is_between(start, end, closed="left")
        since = max(starts[0] - spike_window, -(2**62))
        day_tallies, day_sketches = past.days(whole) if past is not None else (None, None)
        recent_days = _day_counts(rows, starts, b)
        tallies, sketches, days, errors, band = (
            query.collect()
            for query in [
                formulas.merge_tallies(
                    formulas.tally(middles, by=_BY), *([] if day_tallies is None else [day_tallies]), by=_BY
                ),
                sketch.merge_sketches(
                    sketch.sketch(middles, by=_BY), *([] if day_sketches is None else [day_sketches]), by=_BY
                ),
                recent_days if past is None else pl.concat([recent_days, past.day_counts(starts, b)]),
                pl.concat(
                    [
                        rows.filter(~formulas.succeeded() & (ts >= since)).select("role", "api_id", "ts_ms"),
                        *([] if past is None else [past.errors(since, b)]),
                    ]
                ),
                before.filter(in_band).sort("ts_ms"),
            ]
        )
        middle = (b - length + SPAN_MS, b)
        texts = Texts.of_rows(recent) if texts is None else texts
        everyone = MiddleConsumers.of(
            rows, seen.merged(), middle=middle, since=b - length, api=None, past=past, texts=texts
        )
        built = (range_name, timezone, spike_window, b, recent.height, horizon, settled_calls)
        return cls(*built, tallies, sketches, days, errors, band, future, middle, past, {None: everyone})

    def answers(
        self, now: int, timezone: str, range_name: str, spike_window: int, horizon: int, settled_calls: int, rows: int
    ) -> bool:
        """Whether this history gives the view at ``now`` for a ledger in this state."""
        if (self.range_name, self.timezone, self.spike_window, self.horizon, self.settled_calls) != (
            range_name,
            timezone,
            spike_window,
            horizon,
            settled_calls,
        ) or not (self.built <= now < self.built + SPAN_MS and rows >= self.known):
            return False
        range_ = RANGES[range_name]
        kept = set(bucket_starts(self.built, timezone, range_))
        return all(s in kept or s >= self.built for s in bucket_starts(now, timezone, range_))

    def view(
        self,
        recent: pl.DataFrame,
        now: int,
        api: str | None,
        names: pl.LazyFrame,
        apis: pl.LazyFrame,
        settings: Settings,
        seen: FirstSeen,
        texts: Texts | None = None,
    ) -> dict[str, Any]:
        """The ``view`` object at ``now`` (spike flags included).

        ``recent``, ``seen`` and ``texts`` are the ledger's rows, first calls
        and its rows' consumers' texts now (without ``texts``: from ``recent``).
        The figures of the last view of ``api`` are moved forward (``edges``)
        when ``now`` did not move back.
        """
        range_ = RANGES[self.range_name]
        length = range_.length_ms
        seen = seen.merged()
        texts = Texts.of_rows(recent) if texts is None else texts
        middle = self._middle(api, recent, seen, texts)

        def planned(edges: Edges, since: int, extra: pl.LazyFrame | None = None) -> Move | None:
            rows = _rows(recent, since)
            return edges.plan(
                rows, recent.height, now, built=self.built, span=SPAN_MS, timezone=self.timezone, range_=range_,
                extra=extra,
            )  # fmt: skip

        edges = self.edges.get(api)
        plan = None if edges is None else planned(edges, edges.height)
        if plan is None:
            edges, extra = Edges.start(api, now, self.known, self.band, self.future, self.tallies, self.sketch, length)
            plan = planned(edges, self.known, extra)
            assert plan is not None  # nothing leaves at the start
        before = plan.edges  # its consumers not moved yet
        # The moved tallies, sketch and counts and what the view shows from them, in one polars call (a call
        # costs more than these few rows); then the consumers of the calls that moved, looked up in the middle.
        fine = grouped_percentiles(plan.sketch, percentiles=(95,))
        by_role = grouped_percentiles(plan.sketch.select(coarse(pl.col("grp")), "key", "n").sort("grp", "key"))
        figures = (
            plan.tallies.group_by("period", "role")
            .agg(*formulas.sums(_BY))
            .with_columns(grp=group(by_api=False))
            .join(by_role, on="grp", how="left")
            .drop("grp")
        )
        tallied = (
            plan.tallies.filter(pl.col("period") == "window")
            .with_columns(grp=group())
            .join(fine, on="grp", how="left")
            .drop("grp")
        )
        mine = pl.lit(True) if api is None else pl.col("api_id") == api
        series = self._series(api, plan.counts, plan.starts, mine)
        queries = [*plan.queries(), plan.outside, plan.firsts, figures, breakdown_rows(tallied, names, apis), series]
        *moved, changed, firsts, figures_now, breakdown, buckets = pl.collect_all(queries, engine="in-memory")
        outside = merged_outside(before.outside, changed, middle.looked_up)
        start = now - length
        # The consumers of the new calls: each one's first call before them (`seen` too).
        firsts = merged_firsts(before.firsts, middle.first_before(firsts, seen) if firsts.height else firsts)
        moves = middle.first_moves(firsts.lazy(), start, now).collect(engine="in-memory")
        top = middle.top_of(outside, texts, self.past, (start, self.middle[0]))
        self.edges[api] = edges = plan.done(*moved).with_consumers(outside, firsts)
        consumers = (middle.count_of(outside), middle.new_count(moves, start), top)
        view = view_dict(range_, api, now, figures_now, buckets, breakdown, consumers)
        for role, flags in self._spike_flags(api, plan.starts, now, edges.failed, settings).items():
            for bucket, flag in zip(view[role]["series"], flags, strict=True):
                bucket["spike"] = flag
        return view

    def _spike_flags(
        self, api: str | None, starts: list[int], now: int, failed: pl.DataFrame, settings: Settings
    ) -> dict[str, list[bool]]:
        """Per role, the spike flags: those of the buckets over before the build kept, unless a late error came.

        A bucket's flag depends only on the errors in it and in the spike
        window before it, so the buckets ending before ``built`` keep theirs
        while no error before ``built`` arrives; the rest are computed from
        the errors since the spike window before them (``failed``: the new
        calls that failed).
        """
        fixed = sum(1 for nxt in starts[1:] if nxt <= self.built)  # buckets that ended before the build
        late = bool(failed.height) and failed["ts_ms"].min() < self.built  # type: ignore[operator]
        role = pl.col("role")
        flags: dict[str, list[bool]] = {}
        for name in formulas.ROLES if fixed else ():
            key = (api, name, tuple(starts[: fixed + 1]), settings.error_spike_errors)
            if late or key not in self.spikes:
                old = self._errors(api, -(2**63))
                errors = pl.concat([old.filter(role == name)["ts_ms"], failed.filter(role == name)["ts_ms"]])
                self.spikes[key] = spike_flags(starts[:fixed], starts[fixed], errors.sort(), settings).to_list()
            flags[name] = list(self.spikes[key])
        tail = self._errors(api, starts[fixed] - settings.error_spike_window_ms)
        if failed.height:
            tail = pl.concat([tail, failed.select(tail.columns)])
        last = spike_flags_by_group(
            dict.fromkeys(formulas.ROLES, starts[fixed:]), now, tail["ts_ms"], settings, groups=tail["role"]
        )
        return {name: flags.get(name, []) + last[name].to_list() for name in formulas.ROLES}

    def _errors(self, api: str | None, since: int) -> pl.DataFrame:
        """The failed calls before the build (``role``, ``ts_ms``) of ``api`` since ``since``, kept for later."""
        key = (api, since)
        if key not in self.tails:
            mine = pl.col("ts_ms") >= since
            if api is not None:
                mine = mine & (pl.col("api_id") == api)
            self.tails.clear()  # one at a time: a new day's tail replaces the last
            self.tails[key] = self.errors.filter(mine).select("role", "ts_ms")
        return self.tails[key]

    def _series(self, api: str | None, new: pl.LazyFrame, starts: list[int], mine: pl.Expr) -> pl.LazyFrame:
        """Per (role, start): the buckets' successes and errors, from the counts of the new calls (``new``).

        The counts before the build on the buckets' grid are kept for the next refresh (they change daily).
        """
        key = (api, tuple(starts))
        if key not in self.grids:
            grid = pl.LazyFrame({"role": formulas.ROLES}).join(
                pl.LazyFrame({"start": pl.Series(starts, dtype=pl.Int64)}), how="cross"
            )
            before = self.days.lazy().filter(mine).group_by("role", "start").agg(pl.col("success", "error").sum())
            self.grids.clear()
            self.grids[key] = (
                grid.join(before, on=["role", "start"], how="left")
                .with_columns(pl.col("success", "error").fill_null(0), text=iso_texts(pl.col("start")))
                .sort("role", "start")
                .collect()
            )
        since = new.rename({"success": "new_success", "error": "new_error"})
        return (
            self.grids[key]
            .lazy()
            .join(since, on=["role", "start"], how="left", maintain_order="left")
            .select(
                "role",
                start="text",  # as the view shows it
                success=pl.col("success") + pl.col("new_success").fill_null(0),
                error=pl.col("error") + pl.col("new_error").fill_null(0),
            )
        )

    def _middle(self, api: str | None, recent: pl.DataFrame, seen: FirstSeen, texts: Texts) -> MiddleConsumers:
        """The middle's consumers of ``api`` (None: every API), computed the first time they are asked."""
        if api not in self.consumers:
            before = _valid(recent.slice(0, self.known)).filter(pl.col("ts_ms") < self.built)
            since = self.built - RANGES[self.range_name].length_ms
            self.consumers[api] = MiddleConsumers.of(
                before, seen, middle=self.middle, since=since, api=api, past=self.past, texts=texts
            )
        return self.consumers[api]
