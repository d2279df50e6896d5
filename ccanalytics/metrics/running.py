"""The default snapshot's windowed figures, read off running sums of the calls kept sorted by time.

The 24 h and 7 d windows, the previous 24 h and 7 d, and the chart's 48
hours all end at ``now`` (or a fixed distance before it).  ``Running`` keeps
the valid calls sorted by time (``rows``) and, per role, a frame of running
sums over them (``sums``: successes, latencies counted and the role's own
money, each the total up to and including its row, after a first row of
zeros).
A window ``[s, e)`` is then two binary searches: its calls are the rows
between the two positions, its sums the difference of the running sums
there — exact integers at any ``now``, forward or back, however the calls
arrived.  Every edge of every window and chart hour of both roles is found
in one query per refresh.

New calls go to their role's tail of counts (``tails``; series operations,
no query), summed onto the running sums every few dozen refreshes; an edge
inside the tail adds the tail's counts before it.  A call that arrives late
sorts again only the end it falls into or, older than the role's running
sums, makes them be summed again from that call on.  The latency sums, floats, are summed over each window's
slice (a sum over a contiguous slice, no query), as a from-scratch snapshot
sums them.  The percentiles are exact nearest-rank values of the window's
latencies, searched near the last refresh's answers (``percentiles``).

Pure polars, no I/O: the ledger hands it the valid calls it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.metrics import formulas, sketch
from ccanalytics.metrics.percentiles import GROUPS, kept_ranks
from ccanalytics.metrics.windows import AT, ENDS, ENDS_OF, MOVED, WINDOWS, EdgeSums
from ccanalytics.units import HOUR_MS

if TYPE_CHECKING:
    from ccanalytics.metrics.percentiles import Near

__all__ = ["COLUMNS", "WINDOWS", "Running", "Windowed", "before"]

REACH_MS = max(a for a, _ in WINDOWS.values())  # no window reaches further back
PERCENTILE_WINDOWS = ("24h", "previous_24h")
# The percentiles each of them shows (``compute.role_views``): the previous 24 h only its p95; the others are None.
_PERCENTILE_GROUPS = {"24h": GROUPS, "previous_24h": ((95,),)}
PERIODS = ("24h", "previous_24h", "previous_7d")  # the windows `figures` shows
COLUMNS = ("ts_ms", "role", "api_id", "status_code", "latency_ms", "price_micro", "revenue_micro")
_ROWS_SCHEMA = pl.Schema({name: TABLES["calls"].schema[name] for name in COLUMNS})  # the contract's dtypes
_MAX_CHUNKS = 32
_MAX_TAIL = 50_000  # calls in a role's tail before it is summed


# A role's running sums: each column the total of the rows up to and including this one.  The counts in 32 bits (a
# ledger holds far fewer calls); the role's own money only (``formulas.money_column``, all its figures show), in
# 64 bits while its totals fit them, else in 128 (2**63 - 1 per amount, data-contract.md: a sum never wraps).
def _sums_schema(role: str) -> pl.Schema:
    return pl.Schema(
        {
            "ts_ms": pl.Int64,
            "latency_ms": pl.Float64,
            "success": pl.UInt32,
            "latency_n": pl.UInt32,
            formulas.money_column(role): pl.Int64,
        }
    )


_SUMS_SCHEMA = {role: _sums_schema(role) for role in formulas.ROLES}
# The first row of every role's sums: before any call, all zero (a window's start never finds it).
_ZERO = {
    role: pl.DataFrame(dict(zip(schema, ([-(2**63)], [None], [0], [0], [0]), strict=True)), schema=schema)
    for role, schema in _SUMS_SCHEMA.items()
}
_COUNTED = {
    role: (
        pl.col("ts_ms"),
        pl.col("latency_ms"),
        formulas.succeeded().cast(pl.UInt32).alias("success"),
        pl.col("latency_ms").is_not_null().cast(pl.UInt32).alias("latency_n"),
        pl.col(formulas.money_column(role)).cast(pl.Int128),
    )
    for role in formulas.ROLES
}
_RUNNING = (pl.col("ts_ms"), pl.col("latency_ms"), pl.exclude("ts_ms", "latency_ms").cum_sum())
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
_ROLE_RATES_SCHEMA = pl.Schema({name: dtype for name, dtype in _RATES_SCHEMA.items() if name != "role"})
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


@dataclass(frozen=True)
class Running:
    """The valid calls sorted by time, each role's running sums over them, and the last ``now``."""

    rows: pl.DataFrame  # valid calls, sorted by ts_ms
    sums: dict[str, pl.DataFrame] = field(default_factory=dict)  # role -> running sums (_SUMS_SCHEMA)
    tails: dict[str, pl.DataFrame] = field(default_factory=dict)  # role -> its calls after its sums, counted not summed
    now: int | None = None  # the last `now` asked
    hints: dict[tuple[str, str], tuple[Near, ...] | None] = field(default_factory=dict)  # (role, window): kept_ranks
    late: int = 0  # calls added since the last `now` with a ts_ms before it
    behind: pl.DataFrame | None = None  # those calls' ts_ms, role and latency_ms (None: none)
    failed: pl.DataFrame | None = None  # the rows of the calls that did not succeed (sorted; None: not kept)

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
        parts = pl.collect_all(
            [_summed(_ZERO[role], rows.lazy().filter(_OF_ROLE[role]), role) for role in formulas.ROLES]
        )
        sums = {role: _joined(_ZERO[role], part) for role, part in zip(formulas.ROLES, parts, strict=True)}
        tails = {role: _counted(rows.clear(), role) for role in formulas.ROLES}
        return cls(rows=rows, sums=sums, tails=tails, failed=_failed(rows))

    def add(self, calls: pl.DataFrame) -> Running:
        """The state with more valid calls, appended to their role's tail (no query).

        A tail is summed into the running sums once it has grown (one query
        every few dozen refreshes); a call older than the role's last sums
        makes them be summed again from that call on.
        """
        if calls.is_empty():
            return self
        new = _sorted(calls, self.rows.schema)
        rows, first = self.rows, new["ts_ms"][0]
        last = rows["ts_ms"][-1] if rows.height else None
        # calls arrive a little out of order: only the end of the rows they fall into is sorted again
        rows = pl.concat([rows, new]) if last is None or first >= last else _merged(rows, new)
        sums, tails = dict(self.sums), dict(self.tails)
        roles = new["role"]
        one = roles.n_unique() == 1  # the usual refresh: calls of one role, no partition
        for (role,), calls_of_role in ({(roles[0],): new} if one else new.partition_by("role", as_dict=True)).items():
            frame, tail, part = sums[role], tails[role], _counted(calls_of_role, role)
            start = part["ts_ms"][0]
            if start >= frame["ts_ms"][-1]:  # after the role's sums: into its tail, in time order
                late = tail.height > 0 and start < tail["ts_ms"][-1]
                tail = _merged(tail, part) if late else pl.concat([tail, part])
                if tail.n_chunks() > _MAX_CHUNKS or tail.height > _MAX_TAIL:
                    frame, tail = _folded(frame, tail), tail.clear()
            else:  # before them: the role's sums from that call on, summed again from the merged rows
                keep = int(frame["ts_ms"].search_sorted(start, side="left"))
                counted = rows.slice(int(rows["ts_ms"].search_sorted(start, side="left"))).lazy()
                summed = _summed(frame.slice(keep - 1, 1), counted.filter(_OF_ROLE[role]), role).collect()
                frame, tail = _compacted(_joined(frame.slice(0, keep), summed)), tail.clear()
            sums[role], tails[role] = frame, tail
        behind, late = self.behind, 0
        if self.now is not None and first < self.now:
            early = new.filter(new["ts_ms"] < self.now).select("ts_ms", "role", "latency_ms")
            behind, late = early if behind is None else pl.concat([behind, early]), early.height
        failed, bad = self.failed, _failed(new)
        if failed is not None and bad.height:  # as the rows: only the end the new ones fall into sorted again
            failed = _compacted(_merged(failed, bad))
        return replace(
            self, rows=_compacted(rows), sums=sums, tails=tails, late=self.late + late, behind=behind, failed=failed
        )

    def settle(self, horizon: int) -> Running:
        """The state without the calls before ``horizon`` (those the windows at ``now`` hold stay)."""
        if self.now is not None:
            horizon = min(horizon, self.now - REACH_MS)
        start = int(self.rows["ts_ms"].search_sorted(horizon, side="left"))
        if not start:
            return self
        sums, tails = {}, dict(self.tails)
        for role, frame in self.sums.items():
            if tails[role].height:
                frame, tails[role] = _folded(frame, tails[role]), tails[role].clear()
            cut = int(frame["ts_ms"].search_sorted(horizon, side="left"))
            # the row before the cut becomes the first: its sums are those of every call dropped
            zero = _ZERO[role]
            base = frame.slice(cut - 1, 1).with_columns(ts_ms=zero["ts_ms"], latency_ms=zero["latency_ms"])
            sums[role] = pl.concat([base, frame.slice(cut)]) if cut > 1 else frame
        failed = self.failed
        failed = failed if failed is None else failed.slice(int(failed["ts_ms"].search_sorted(horizon, "left")))
        return replace(self, rows=self.rows.slice(start), sums=sums, tails=tails, failed=failed)

    def failed_calls(self, since: int, now: int) -> pl.DataFrame:
        """The rows of the calls in ``[since, now)`` that did not succeed (``formulas.succeeded``), sorted by time.

        Kept beside the rows (a few per thousand calls): the chart's errors without filtering two days of calls.

        Examples
        --------
        >>> calls = pl.DataFrame({"ts_ms": [1, 2, 3], "role": ["buyer"] * 3, "api_id": ["a"] * 3,
        ...     "status_code": [500, 200, 429], "latency_ms": [1.0, 2.0, 3.0], "price_micro": [0] * 3,
        ...     "revenue_micro": [0] * 3})
        >>> Running.of(calls).failed_calls(1, 3)["ts_ms"].to_list()
        [1]
        """
        failed = _failed(self.rows) if self.failed is None else self.failed
        lo, hi = before(failed["ts_ms"], since), before(failed["ts_ms"], now)
        return failed.slice(lo, hi - lo)

    def _entered(self, edge: EdgeSums, role: str, a: int, b: int) -> list[float]:
        """The latencies that entered the window ``(a, b)`` since the last ``now``: at its end, or late inside it."""
        assert self.now is not None
        entered, behind = edge.crossing(b), self.behind
        if behind is None:
            return entered
        ts, start, end = behind["ts_ms"], self.now - a, self.now - b
        inside = behind["latency_ms"].filter((behind["role"] == role) & (ts >= start) & (ts < end)).drop_nulls()
        return entered if inside.is_empty() else sorted(entered + inside.to_list())

    def moved(self, now: int, timezone: str) -> tuple[Running, Windowed]:
        """The state as of ``now``, and the figures ``compute.role_views`` shows, as Python values (``Windowed``).

        ``Windowed.frames`` gives them as frames: ``windows`` as
        ``formulas.windows``, ``call_rate`` as ``formulas.call_rate`` and
        ``figures`` as ``views.period_figures`` over the 24 h, the previous 24 h
        and the previous 7 d (percentiles for the first two), all at ``now``.

        Examples
        --------
        >>> hour = 3_600_000
        >>> calls = pl.DataFrame({"ts_ms": [hour, 2 * hour, 30 * hour], "role": ["seller"] * 3,
        ...     "api_id": ["a"] * 3, "status_code": [200, 502, 200], "latency_ms": [10.0, 20.0, None],
        ...     "price_micro": [5, 5, 5], "revenue_micro": [4, 4, 4]})
        >>> state, windowed = Running.of(calls).moved(26 * hour, "UTC")
        >>> windows, rates, figures = windowed.frames()
        >>> windows.filter(role="seller").select("calls_24h", "success_24h", "calls_7d", "revenue_micro_7d").row(0)
        (1, 0, 2, 8)
        >>> figures.select("period", "calls", "p50_latency_ms", "p95_latency_ms").rows()  # the previous 24 h: p95 only
        [('24h', 1, 20.0, 20.0), ('previous_24h', 1, None, 10.0)]
        """
        first = formulas.last_bucket_start(now, timezone) - (formulas.CHART_HOURS - 1) * HOUR_MS
        hours = [first + i * HOUR_MS for i in range(formulas.CHART_HOURS)]
        # the windows' ends at `now`, the chart hours, and the percentile windows' ends at the last `now`
        edges = [now - x for x in ENDS] + hours + ([] if self.now is None else [self.now - x for x in MOVED])
        needles = pl.Series(edges, dtype=pl.Int64)
        # each edge's position in each role's sums and tail: one query for both roles, one expression after the other
        found = pl.DataFrame().select_seq(
            (
                pl.lit(self.sums[role]["ts_ms"]).search_sorted(needles, side="left")
                + pl.lit(self.tails[role]["ts_ms"]).search_sorted(needles, side="left")
            ).alias(role)
            for role in formulas.ROLES
        )
        windows: list[dict[str, Any]] = []
        rates: dict[str, pl.DataFrame] = {}
        figures: list[dict[str, Any]] = []
        hints = {}
        for role in formulas.ROLES:
            edge, money = EdgeSums(self.sums[role], self.tails[role], found[role]), formulas.money_column(role)
            day, week = edge.tally(*ENDS_OF["24h"]), edge.tally(*ENDS_OF["7d"])
            wide: dict[str, Any] = {"role": role}
            for name, value in day.items():  # the role's own money only: all its figures show
                wide[f"{name}_24h"] = value
            latencies = {period: edge.latencies(*ENDS_OF[period]) for period in PERIODS}
            latency_sums = {period: values.sum() for period, values in latencies.items()}  # the 24 h's summed once
            wide["latency_sum_24h"] = latency_sums["24h"]
            for name in ("calls", money):
                wide[f"{name}_7d"] = week[name]
            windows.append(wide)
            # the chart hours' edges follow the windows' ends; the last hour ends at `now`
            calls, success = edge.between(range(len(ENDS), len(ENDS) + len(hours)), AT[0])
            rates[role] = pl.DataFrame(
                {"hour": hours, "success": success, "error": [n - ok for n, ok in zip(calls, success, strict=True)]},
                schema=_ROLE_RATES_SCHEMA,
            )
            for period in PERIODS:
                figure = edge.tally(*ENDS_OF[period])
                if not figure["calls"]:
                    continue
                values = latencies[period]
                picks: dict[int, float | None] = dict.fromkeys(sketch.PERCENTILES)
                if period in PERCENTILE_WINDOWS:
                    # room for the ranks to move: the latencies that crossed the window's ends, and late calls
                    a, b = WINDOWS[period]
                    # (the first `now`: room for a refresh's worth of calls, or its refresh searches again)
                    crossed = 1_000 if self.now is None else edge.crossed(a) + edge.crossed(b)
                    key = (role, period)
                    # moved forward by less than the window: its ends changed, and late calls came in
                    moving = self.now is not None and self.now <= now < self.now + a - b
                    picks, hints[key] = kept_ranks(
                        values,
                        figure["latency_n"],
                        self.hints.get(key),
                        (self._entered(edge, role, a, b), edge.crossing(a)) if moving else None,
                        room=16 + self.late + crossed,
                        groups=_PERCENTILE_GROUPS[period],
                    )
                row: dict[str, Any] = {"role": role, "period": period}
                row.update(figure)
                row["latency_sum"] = latency_sums[period]
                row.update((f"p{p}_latency_ms", value) for p, value in picks.items())
                figures.append(row)
        return replace(self, now=now, hints=hints, late=0, behind=None), Windowed(windows, rates, figures)


@dataclass(frozen=True)
class Windowed:
    """The windowed figures at one ``now`` as Python values, as ``compute.role_views`` reads them (``Running.moved``).

    Building frames of these few dozen values only for ``compute`` to read
    them back costs more than the figures: ``frames`` builds them when asked.
    """

    windows: list[dict[str, Any]]  # a row per role, as ``formulas.windows``'s
    call_rate: dict[str, pl.DataFrame]  # per role, the chart hours (``hour``, ``success``, ``error``)
    figures: list[dict[str, Any]]  # rows as ``views.period_figures``'s, percentiles as ``Running.moved`` says

    @property
    def hours(self) -> pl.Series:
        """The chart's hours (the same for both roles)."""
        return self.call_rate[formulas.ROLES[0]]["hour"]

    def frames(self) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """``(windows, call_rate, figures)`` as frames (see ``Running.moved``)."""
        role = pl.lit(None, pl.String).alias("role")
        rates = [frame.select(role.fill_null(r), *frame.columns) for r, frame in self.call_rate.items()]
        return (
            pl.DataFrame(self.windows, schema=_WIDE_SCHEMA),
            pl.concat(rates) if rates else pl.DataFrame(schema=_RATES_SCHEMA),
            pl.DataFrame(self.figures, schema=_FIGURES_SCHEMA),
        )


def before(times: pl.Series, at: int) -> int:
    """How many of these sorted times (no nulls) lie before ``at``: where ``at`` would go, counted by a mask.

    A comparison and a sum are direct Series operations; ``search_sorted`` is
    a query (on a few thousand failed calls, the query costs more).

    Examples
    --------
    >>> before(pl.Series([1, 2, 2, 5]), 2), before(pl.Series([1, 2, 2, 5]), 6)
    (1, 4)
    """
    return int((times < at).sum())


def _sorted(calls: pl.DataFrame, kept: pl.Schema | None = None) -> pl.DataFrame:
    """The calls' ``COLUMNS`` in the dtypes of the ``kept`` rows, sorted by time (no query when they already are).

    Without ``kept``, in the contract's dtypes, but for categories: the views'
    rows keep their names as categories (``recent``), and are not copied.
    """
    rows = calls[list(COLUMNS)]
    if kept is not None and rows.schema != kept:
        rows = rows.cast(kept)
    elif kept is None and rows.schema != _ROWS_SCHEMA:
        rows = rows.cast({name: d for name, d in _ROWS_SCHEMA.items() if rows.schema[name] != pl.Categorical})
    return rows if rows["ts_ms"].is_sorted() else rows.sort("ts_ms")


def _failed(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows whose call did not succeed (not ``formulas.succeeded``), by a Series mask: no query."""
    status = rows["status_code"]
    low = status.min()
    if low is None or (low >= 200 and status.max() <= 299):  # type: ignore[operator]  # every call succeeded
        return rows.clear()
    failed = (status < 200) | (status > 299)
    return rows.filter(failed) if failed.any() else rows.clear()


def _counted(calls: pl.DataFrame, role: str) -> pl.DataFrame:
    """Each call's counts for the role's running sums (``success`` 0 or 1, its money in Int128), in series operations.

    A call's ``latency_n`` is whether its latency is not null: counted from
    the latencies themselves where needed, not kept.
    """
    status, money = calls["status_code"], formulas.money_column(role)
    return pl.DataFrame(
        {
            "ts_ms": calls["ts_ms"],
            "latency_ms": calls["latency_ms"],
            "success": ((status >= 200) & (status <= 299)).cast(pl.UInt32),  # formulas.succeeded
            money: calls[money].cast(pl.Int128),
        }
    )


def _folded(frame: pl.DataFrame, tail: pl.DataFrame) -> pl.DataFrame:
    """The running sums with the tail's counts summed onto them."""
    latency_n = pl.col("latency_ms").is_not_null().cast(pl.UInt32)
    counts = tail.lazy().with_columns(latency_n=latency_n).select(*frame.columns)
    last = frame.slice(frame.height - 1, 1).lazy()
    summed = pl.concat([last, counts], how="vertical_relaxed").select(*_RUNNING).slice(1)
    return _compacted(_joined(frame, summed.collect()))


def _joined(frame: pl.DataFrame, summed: pl.DataFrame) -> pl.DataFrame:
    """Running sums and the ones that follow them, as one frame: the money in 64 bits while every total fits."""
    money = summed.columns[-1]
    totals = summed[money]
    if totals.dtype == pl.Int128 and (totals.is_empty() or (totals.min() >= -(2**63) and totals.max() < 2**63)):  # type: ignore[operator]
        summed = summed.with_columns(totals.cast(pl.Int64))
    return pl.concat([frame, summed], how="vertical_relaxed")


def _merged(frame: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Two frames sorted by time as one: only the end of ``frame`` the new rows fall into is sorted again."""
    cut = int(frame["ts_ms"].search_sorted(new["ts_ms"][0], side="right"))
    return pl.concat([frame.slice(0, cut), pl.concat([frame.slice(cut), new]).sort("ts_ms", maintain_order=True)])


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


def _summed(base: pl.DataFrame, calls: pl.LazyFrame, role: str) -> pl.LazyFrame:
    """The role's running sums of these calls (sorted by time), continuing those of the one-row ``base``."""
    counted = calls.select(*_COUNTED[role])
    return pl.concat([base.lazy(), counted], how="vertical_relaxed").select(*_RUNNING).slice(1)
