"""The default snapshot's windowed figures, read off running sums of the calls kept sorted by time.

The 24 h and 7 d windows, the previous 24 h and 7 d, and the chart's 48
hours all end at ``now`` (or a fixed distance before it).  ``Running`` keeps
the valid calls sorted by time (``rows``) and, per role, a frame of running
sums over them (``sums``: successes, latencies counted, price and revenue,
each the total up to and including its row, after a first row of zeros).
A window ``[s, e)`` is then two binary searches: its calls are the rows
between the two positions, its sums the difference of the running sums
there — exact integers at any ``now``, forward or back, however the calls
arrived.  Every edge of every window and chart hour of both roles is found
in one search per role and read in one gather per column.

New calls are appended with their running sums; a call that arrives late (a
``ts_ms`` before the last one kept) makes the sums after it be summed again,
from that call on.  The latency sums, floats, are summed over each window's
slice (a sum over a contiguous slice, no query), as a from-scratch snapshot
sums them.  The percentiles are exact nearest-rank values of the window's
latencies, searched near the last refresh's answers (``percentiles``).

Pure polars, no I/O: the ledger hands it the valid calls it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.metrics import formulas, sketch
from ccanalytics.metrics.percentiles import nearest_rank
from ccanalytics.units import DAY_MS, HOUR_MS, WEEK_MS

if TYPE_CHECKING:
    from ccanalytics.metrics.percentiles import Hint

__all__ = ["COLUMNS", "WINDOWS", "Running"]

# window name -> (a, b): the window at `t` is [t - a, t - b)
WINDOWS = {
    "24h": (DAY_MS, 0),
    "7d": (WEEK_MS, 0),
    "previous_24h": (2 * DAY_MS, DAY_MS),
    "previous_7d": (2 * WEEK_MS, WEEK_MS),
}
REACH_MS = max(a for a, _ in WINDOWS.values())  # no window reaches further back
PERCENTILE_WINDOWS = ("24h", "previous_24h")
PERIODS = ("24h", "previous_24h", "previous_7d")  # the windows `figures` shows
COLUMNS = ("ts_ms", "role", "api_id", "status_code", "latency_ms", "price_micro", "revenue_micro")
_ROWS_SCHEMA = pl.Schema({name: TABLES["calls"].schema[name] for name in COLUMNS})  # the contract's dtypes
_MAX_CHUNKS = 32

# A role's running sums: each column the total of the rows up to and including this one.
_SUMS = ("success", "latency_n", "price_micro", "revenue_micro")
_SUMS_SCHEMA = pl.Schema(
    {
        "ts_ms": pl.Int64,
        "latency_ms": pl.Float64,
        "success": pl.Int64,
        "latency_n": pl.Int64,
        # money sums in Int128: 2**63 - 1 per amount (data-contract.md), a sum never wraps
        "price_micro": pl.Int128,
        "revenue_micro": pl.Int128,
    }
)
# The first row of every role's sums: before any call, all zero (a window's start never finds it).
_ZERO = pl.DataFrame(
    {
        "ts_ms": [-(2**63)],
        "latency_ms": [None],
        "success": [0],
        "latency_n": [0],
        "price_micro": [0],
        "revenue_micro": [0],
    },
    schema=_SUMS_SCHEMA,
)
_COUNTED = (
    pl.col("ts_ms"),
    pl.col("latency_ms"),
    formulas.succeeded().cast(pl.Int64).alias("success"),
    pl.col("latency_ms").is_not_null().cast(pl.Int64).alias("latency_n"),
    pl.col("price_micro").cast(pl.Int128),
    pl.col("revenue_micro").cast(pl.Int128),
)
_RUNNING = (pl.col("ts_ms"), pl.col("latency_ms"), *(pl.col(name).cum_sum() for name in _SUMS))
_OF_ROLE = {role: pl.col("role") == role for role in formulas.ROLES}

_WIDE_SCHEMA = pl.Schema(
    {
        "role": pl.String,
        "calls_24h": pl.Int64,
        "success_24h": pl.Int64,
        "latency_sum_24h": pl.Float64,
        "latency_n_24h": pl.Int64,
        "price_micro_24h": pl.Int128,
        "revenue_micro_24h": pl.Int128,
        "calls_7d": pl.Int64,
        "price_micro_7d": pl.Int128,
        "revenue_micro_7d": pl.Int128,
    }
)
_RATES_SCHEMA = pl.Schema({"role": pl.String, "hour": pl.Int64, "success": pl.Int64, "error": pl.Int64})
_FIGURES_SCHEMA = pl.Schema(
    {
        "role": pl.String,
        "period": pl.String,
        "calls": pl.Int64,
        "success": pl.Int64,
        "latency_sum": pl.Float64,
        "latency_n": pl.Int64,
        "price_micro": pl.Int128,
        "revenue_micro": pl.Int128,
        **{f"p{p}_latency_ms": pl.Float64 for p in sketch.PERCENTILES},
    }
)
# The edges searched at `now`, as offsets before it: the windows' ends first, then the chart hours.
_ENDS = sorted({x for pair in WINDOWS.values() for x in pair}, reverse=True)  # 2w, 1w, 2d, 1d, 0
_AT = {x: i for i, x in enumerate(_ENDS)}
_MOVED = (0, DAY_MS, 2 * DAY_MS)  # the ends of the percentile windows, also searched at the last `now`
_ENDS_OF = {window: (_AT[a], _AT[b]) for window, (a, b) in WINDOWS.items()}  # a window's edges in the search


@dataclass(frozen=True)
class Running:
    """The valid calls sorted by time, each role's running sums over them, and the last ``now``."""

    rows: pl.DataFrame  # valid calls, sorted by ts_ms
    sums: dict[str, pl.DataFrame] = field(default_factory=dict)  # role -> running sums (_SUMS_SCHEMA)
    now: int | None = None  # the last `now` asked
    hints: dict[tuple[str, str], tuple[Hint, ...] | None] = field(default_factory=dict)  # (role, window)
    late: int = 0  # calls added since the last `now` with a ts_ms before it
    pending: dict[str, tuple[int, pl.LazyFrame]] = field(default_factory=dict)  # role -> (sums kept, new sums)

    @classmethod
    def of(cls, calls: pl.DataFrame) -> Running:
        """A state of these valid calls.

        Examples
        --------
        >>> calls = pl.DataFrame({"ts_ms": [5, 1], "role": ["buyer", "seller"], "api_id": ["a", "a"],
        ...     "status_code": [200, 500], "latency_ms": [1.0, None], "price_micro": [1, 2], "revenue_micro": [0, 1]})
        >>> Running.of(calls).rows["ts_ms"].to_list()
        [1, 5]
        """
        rows = _sorted(calls)
        parts = pl.collect_all([_summed(_ZERO, rows.lazy().filter(_OF_ROLE[role])) for role in formulas.ROLES])
        sums = {role: pl.concat([_ZERO, part]) for role, part in zip(formulas.ROLES, parts, strict=True)}
        return cls(rows=rows, sums=sums)

    def add(self, calls: pl.DataFrame) -> Running:
        """The state with more valid calls; a late one makes its role's sums after it be summed again.

        The new running sums are planned here and computed by the next ``at``,
        in the query that searches the windows' edges.
        """
        if calls.is_empty():
            return self
        state = self._summed_up()[0] if self.pending else self
        new = _sorted(calls)
        rows, first = state.rows, new["ts_ms"][0]
        last = rows["ts_ms"][-1] if rows.height else None
        if last is None or first >= last:
            rows = pl.concat([rows, new])
        else:  # merge only the tail the new calls fall into: calls arrive a little out of order
            cut = int(rows["ts_ms"].search_sorted(first, side="right"))
            rows = pl.concat([rows.slice(0, cut), rows.slice(cut).merge_sorted(new, key="ts_ms")])
        pending = {}
        for role in formulas.ROLES:
            sums = state.sums[role]
            if sums["ts_ms"][-1] <= first:  # after every call of the role: only the new ones are summed
                keep, counted = sums.height, new.lazy()
            else:  # the role's sums from the first new call on, summed again from the merged rows
                keep = int(sums["ts_ms"].search_sorted(first, side="left"))
                counted = rows.slice(int(rows["ts_ms"].search_sorted(first, side="left"))).lazy()
            pending[role] = (keep, _summed(sums.slice(keep - 1, 1), counted.filter(_OF_ROLE[role])))
        late = 0 if state.now is None or first >= state.now else int(new["ts_ms"].search_sorted(state.now, side="left"))
        return replace(state, rows=_compacted(rows), pending=pending, late=state.late + late)

    def _summed_up(self, needles: pl.Series | None = None) -> tuple[Running, dict[str, pl.Series]]:
        """The state with its pending sums computed, and each role's positions of ``needles`` (one query)."""
        plans, searches = [], []
        for role in formulas.ROLES:
            keep, part = self.pending.get(role, (self.sums[role].height, None))
            if part is not None:
                plans.append(part)
            if needles is not None:  # the position in the kept sums plus that in the new ones
                kept = pl.lit(self.sums[role]["ts_ms"].slice(0, keep)).search_sorted(needles, side="left")
                at = kept if part is None else kept + pl.col("ts_ms").search_sorted(needles, side="left")
                searches.append((pl.LazyFrame() if part is None else part).select(at.alias(role)))
        done = pl.collect_all([*plans, *searches])
        sums, parts = dict(self.sums), iter(done[: len(plans)])
        for role, (keep, _) in self.pending.items():
            sums[role] = _compacted(pl.concat([sums[role].slice(0, keep), next(parts)]))
        found = {frame.columns[0]: frame.to_series() for frame in done[len(plans) :]}
        return replace(self, sums=sums, pending={}), found

    def settle(self, horizon: int) -> Running:
        """The state without the calls before ``horizon`` (those the windows at ``now`` hold stay)."""
        if self.now is not None:
            horizon = min(horizon, self.now - REACH_MS)
        start = int(self.rows["ts_ms"].search_sorted(horizon, side="left"))
        if not start:
            return self
        state = self._summed_up()[0] if self.pending else self
        sums = {}
        for role, frame in state.sums.items():
            cut = int(frame["ts_ms"].search_sorted(horizon, side="left"))
            # the row before the cut becomes the first: its sums are those of every call dropped
            base = frame.slice(cut - 1, 1).with_columns(ts_ms=_ZERO["ts_ms"], latency_ms=_ZERO["latency_ms"])
            sums[role] = pl.concat([base, frame.slice(cut)]) if cut > 1 else frame
        return replace(state, rows=state.rows.slice(start), sums=sums)

    def at(self, now: int, timezone: str) -> tuple[Running, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """The state as of ``now``, and the frames ``compute.role_views`` shows.

        Returns ``(state, windows, call_rate, figures)``: ``windows`` as
        ``formulas.windows``, ``call_rate`` as ``formulas.call_rate`` and
        ``figures`` as ``views.period_figures`` over the 24 h, the previous 24 h
        and the previous 7 d (percentiles for the first two), all at ``now``.

        Examples
        --------
        >>> hour = 3_600_000
        >>> calls = pl.DataFrame({"ts_ms": [hour, 2 * hour, 30 * hour], "role": ["seller"] * 3,
        ...     "api_id": ["a"] * 3, "status_code": [200, 502, 200], "latency_ms": [10.0, 20.0, None],
        ...     "price_micro": [5, 5, 5], "revenue_micro": [4, 4, 4]})
        >>> state, windows, rates, figures = Running.of(calls).at(26 * hour, "UTC")
        >>> windows.filter(role="seller").select("calls_24h", "success_24h", "calls_7d", "revenue_micro_7d").row(0)
        (1, 0, 2, 8)
        >>> figures.select("period", "calls", "p50_latency_ms").rows()
        [('24h', 1, 20.0), ('previous_24h', 1, 10.0)]
        """
        first = formulas.last_bucket_start(now, timezone) - (formulas.CHART_HOURS - 1) * HOUR_MS
        hours = [first + i * HOUR_MS for i in range(formulas.CHART_HOURS)]
        # the windows' ends at `now`, the chart hours, and the percentile windows' ends at the last `now`
        edges = [now - x for x in _ENDS] + hours + ([] if self.now is None else [self.now - x for x in _MOVED])
        state, found = self._summed_up(pl.Series(edges, dtype=pl.Int64))
        wide: dict[str, list] = {name: [] for name in _WIDE_SCHEMA}
        rates: dict[str, list] = {name: [] for name in _RATES_SCHEMA}
        figures: dict[str, list] = {name: [] for name in _FIGURES_SCHEMA}
        hints = {}
        for role in formulas.ROLES:
            edge = _Edges(state.sums[role], found[role])
            day, week = edge.tally(*_ENDS_OF["24h"]), edge.tally(*_ENDS_OF["7d"])
            wide["role"].append(role)
            for name in ("calls", "success", "latency_n", "price_micro", "revenue_micro"):
                wide[f"{name}_24h"].append(day[name])
            wide["latency_sum_24h"].append(edge.latencies(*_ENDS_OF["24h"]).sum())
            for name in ("calls", "price_micro", "revenue_micro"):
                wide[f"{name}_7d"].append(week[name])
            # the chart hours' edges follow the windows' ends; the last hour ends at `now`
            for i, hour in enumerate(hours):
                start = len(_ENDS) + i
                bucket = edge.tally(start, start + 1 if i + 1 < len(hours) else _AT[0])
                rates["role"].append(role)
                rates["hour"].append(hour)
                rates["success"].append(bucket["success"])
                rates["error"].append(bucket["calls"] - bucket["success"])
            for period in PERIODS:
                figure = edge.tally(*_ENDS_OF[period])
                if not figure["calls"]:
                    continue
                values = edge.latencies(*_ENDS_OF[period])
                picks: dict[int, float | None] = dict.fromkeys(sketch.PERCENTILES)
                if period in PERCENTILE_WINDOWS:
                    # room for the ranks to move: the latencies that crossed the window's ends, and late calls
                    a, b = WINDOWS[period]
                    crossed = 0 if self.now is None else edge.crossed(a) + edge.crossed(b)
                    key = (role, period)
                    picks, hints[key] = nearest_rank(
                        values, figure["latency_n"], self.hints.get(key), room=16 + self.late + crossed
                    )
                figures["role"].append(role)
                figures["period"].append(period)
                for name in ("calls", *_SUMS):
                    figures[name].append(figure[name])
                figures["latency_sum"].append(values.sum())
                for p, value in picks.items():
                    figures[f"p{p}_latency_ms"].append(value)
        return (
            replace(state, now=now, hints=hints, late=0),
            pl.DataFrame(wide, schema=_WIDE_SCHEMA),
            pl.DataFrame(rates, schema=_RATES_SCHEMA),
            pl.DataFrame(figures, schema=_FIGURES_SCHEMA),
        )


class _Edges:
    """A role's sums at the edges searched (``at``: positions in its sums, ``sums``: the totals before them)."""

    def __init__(self, frame: pl.DataFrame, found: pl.Series) -> None:
        self.frame, self.at = frame, found.to_list()
        self.sums = frame[list(_SUMS)][found - 1].to_dict(as_series=False)  # the row before each edge

    def tally(self, i: int, j: int) -> dict[str, int]:
        """The calls between edges ``i`` and ``j``: their count and sums."""
        return {"calls": self.at[j] - self.at[i], **{name: self.sums[name][j] - self.sums[name][i] for name in _SUMS}}

    def latencies(self, i: int, j: int) -> pl.Series:
        """The latencies of the calls between edges ``i`` and ``j`` (a slice, nulls included)."""
        return self.frame["latency_ms"].slice(self.at[i], self.at[j] - self.at[i])

    def crossed(self, x: int) -> int:
        """The latencies between ``now - x`` and the last ``now - x`` (searched last, in ``_MOVED``'s order)."""
        n = self.sums["latency_n"]
        return abs(n[_AT[x]] - n[len(n) - len(_MOVED) + _MOVED.index(x)])


def _sorted(calls: pl.DataFrame) -> pl.DataFrame:
    """The calls' ``COLUMNS`` in the contract's dtypes, sorted by time (no query when they already are)."""
    rows = calls[list(COLUMNS)]
    if rows.schema != _ROWS_SCHEMA:
        rows = rows.cast(_ROWS_SCHEMA)
    return rows if rows["ts_ms"].is_sorted() else rows.sort("ts_ms")


def _compacted(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame in fewer pieces once appends made many: the small ones at the end joined, or all when they add up."""
    if frame.n_chunks() <= _MAX_CHUNKS:
        return frame
    lengths = frame.get_column(frame.columns[0]).chunk_lengths()
    big = max(i for i, length in enumerate(lengths) if 2 * length >= max(lengths))
    head = sum(lengths[: big + 1])  # up to the last big piece: left as it is
    if 4 * (frame.height - head) > head:
        return frame.rechunk()
    return pl.concat([frame.slice(0, head), frame.slice(head).rechunk()], rechunk=False)


def _summed(base: pl.DataFrame, calls: pl.LazyFrame) -> pl.LazyFrame:
    """The running sums of these calls (sorted by time), continuing those of the one-row ``base``."""
    return pl.concat([base.lazy(), calls.select(*_COUNTED)]).select(*_RUNNING).slice(1)
