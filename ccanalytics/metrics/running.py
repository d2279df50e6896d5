"""The default snapshot's windowed figures as running state, moved forward by each refresh.

The 24 h and 7 d windows, the previous 24 h and 7 d, and the chart's 48
hours all end at ``now`` (or a fixed distance before it).  Between two
refreshes few calls enter a window and few leave it, so ``Running`` keeps
each window's tally, the hourly counts of the chart, and the sorted latencies
of the two windows whose percentiles are shown, and a move from ``then`` to
``now`` adds the calls that entered and subtracts those that left: for a
window ``[t − a, t − b)`` that is ``+[then − b, now − b)`` and
``−[then − a, now − a)`` (the signs swap when ``now`` moves backward).  The
calls are kept sorted by time (``rows``), so each band is a slice found by
binary search, and every band of a move is summed in one lazy plan.

A call that arrives late (its ``ts_ms`` before the state's ``now``) is added
to the windows that contained it at that ``now`` when it arrives; later moves
then treat it as any other call.  Latency sums are floats: each move adds to
a bound of their rounding error, and a window whose bound exceeds 1e-11 of
its sum is summed again from its rows, so averages stay within 1e-9 of a
from-scratch snapshot.

Pure polars, no I/O: the ledger hands it the valid calls it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.metrics import formulas, sketch
from ccanalytics.units import DAY_MS, HOUR_MS, WEEK_MS

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
HOURS = "hours"  # the chart's target: [first bucket, now), per hour
COLUMNS = ("ts_ms", "role", "api_id", "status_code", "latency_ms", "price_micro", "revenue_micro")
_SUMS = ("calls", "success", "error", "latency_sum", "latency_n", "price_micro", "revenue_micro")
_STATE_SCHEMA = pl.Schema(
    {
        "role": pl.String,
        "target": pl.String,
        "hour": pl.Int64,
        **{name: pl.Float64 if name == "latency_sum" else pl.Int64 for name in _SUMS},
        # money sums in Int128: 2**63 - 1 per amount (data-contract.md), a sum never wraps
        "price_micro": pl.Int128,
        "revenue_micro": pl.Int128,
        "drift": pl.Float64,
    }
)
_ROWS_SCHEMA = pl.Schema({name: TABLES["calls"].schema[name] for name in COLUMNS})  # the contract's dtypes
_EPS = 2.0**-52
_DRIFT_LIMIT = 1e-11
_MAX_CHUNKS = 32


@dataclass(frozen=True)
class _Band:
    """Rows ``[start, end)`` of ``rows`` (or of the late rows) counted ``sign`` times into ``target``."""

    start: int
    end: int
    sign: int
    target: str
    late: bool = False


@dataclass(frozen=True)
class Running:
    """The windows' tallies, the chart's hours and the latencies at ``now`` (None: not yet moved)."""

    rows: pl.DataFrame  # valid calls, sorted by ts_ms
    now: int | None = None
    timezone: str | None = None
    first_hour: int | None = None  # the chart's first bucket at `now`
    state: pl.DataFrame | None = None  # per (role, target, hour): _SUMS and drift
    latencies: dict[tuple[str, str], pl.Series] | None = None  # (role, window): sorted latencies
    late: pl.DataFrame | None = None  # rows added since `now` with ts_ms < now

    @classmethod
    def of(cls, calls: pl.DataFrame) -> Running:
        """A state of these valid calls, not yet at any ``now``.

        Examples
        --------
        >>> calls = pl.DataFrame({"ts_ms": [5, 1], "role": ["buyer", "seller"], "api_id": ["a", "a"],
        ...     "status_code": [200, 500], "latency_ms": [1.0, None], "price_micro": [1, 2], "revenue_micro": [0, 1]})
        >>> Running.of(calls).rows["ts_ms"].to_list()
        [1, 5]
        """
        return cls(rows=calls.lazy().select(*COLUMNS).cast(_ROWS_SCHEMA).sort("ts_ms").collect())

    def add(self, calls: pl.DataFrame) -> Running:
        """The state with more valid calls; those before ``now`` are counted at the next move."""
        if calls.is_empty():
            return self
        new = calls.lazy().select(*COLUMNS).cast(_ROWS_SCHEMA).sort("ts_ms").collect()
        rows, first = self.rows, new["ts_ms"][0]
        last = rows["ts_ms"][-1] if rows.height else None
        if last is None or (first is not None and first >= last):
            rows = pl.concat([rows, new])
            if rows.n_chunks() > _MAX_CHUNKS:
                rows = rows.rechunk()
        else:  # merge only the tail the new calls fall into: calls arrive a little out of order
            cut = int(rows["ts_ms"].search_sorted(first, side="right"))
            rows = pl.concat([rows.slice(0, cut), rows.slice(cut).merge_sorted(new, key="ts_ms")])
            if rows.n_chunks() > _MAX_CHUNKS:
                rows = rows.rechunk()
        late = self.late
        if self.now is not None and first is not None and first < self.now:
            early = new.slice(0, int(new["ts_ms"].search_sorted(self.now, side="left")))
            late = early if late is None else pl.concat([late, early])
        return replace(self, rows=rows, late=late)

    def settle(self, horizon: int) -> Running:
        """The state without the calls before ``horizon`` that no window at ``now`` still holds.

        The next move subtracts the calls leaving the windows at ``now``: they stay until then.
        """
        if self.now is not None:
            horizon = min(horizon, self.now - REACH_MS)
        start = int(self.rows["ts_ms"].search_sorted(horizon, side="left"))
        return replace(self, rows=self.rows.slice(start)) if start else self

    def at(self, now: int, timezone: str) -> tuple[Running, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """The state moved to ``now``, and the frames ``compute.role_views`` shows.

        Returns ``(state, windows, call_rate, figures)``: ``windows`` as
        ``formulas.windows``, ``call_rate`` as ``formulas.call_rate`` and
        ``figures`` as ``views.period_figures`` over the 24 h, the previous 24 h
        and the previous 7 d, all at ``now``.
        """
        first = formulas.last_bucket_start(now, timezone) - (formulas.CHART_HOURS - 1) * HOUR_MS
        moved, frames, drifted = self._moved(now, timezone, first, self._bands(now, timezone, first))
        if drifted:
            fresh = replace(self, state=None, latencies=None, now=None, late=None)
            moved, frames, _ = fresh._moved(now, timezone, first, None)
        return moved, *frames

    def _bands(self, now: int, timezone: str, first: int) -> list[_Band] | None:
        """The bands that move the state from its ``now`` to this one; None: start from scratch."""
        then, then_first = self.now, self.first_hour
        if self.state is None or then is None or then_first is None:
            return None
        if timezone != self.timezone or (first - then_first) % HOUR_MS:
            return None  # another grid of chart hours
        bands: list[_Band] = []
        if self.late is not None:  # late rows: into the windows that held them at `then`
            for target, (a, b) in WINDOWS.items():
                bands.append(_Band(then - a, then - b, 1, target, late=True))
            bands.append(_Band(then_first, then, 1, HOURS, late=True))
        sign = 1 if now >= then else -1
        lo, hi = min(then, now), max(then, now)
        for target, (a, b) in WINDOWS.items():
            bands += [_Band(lo - b, hi - b, sign, target), _Band(lo - a, hi - a, -sign, target)]
        bands.append(_Band(lo, hi, sign, HOURS))
        if first != then_first:
            bands.append(_Band(min(first, then_first), max(first, then_first), -1 if first > then_first else 1, HOURS))
        return bands

    def _moved(
        self, now: int, timezone: str, first: int, bands: list[_Band] | None
    ) -> tuple[Running, tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame], bool]:
        """The moved state, its frames, and whether its float sums drifted (all in one ``collect_all``)."""
        scratch = bands is None
        if bands is None:
            bands = _scratch_bands(now, first)
        bands = [band for band in bands if band.start < band.end]
        # Every edge in one binary search; each band of `rows` is then a slice.
        edges = [edge for band in bands if not band.late for edge in (band.start, band.end)]
        found = self.rows["ts_ms"].search_sorted(pl.Series(edges, dtype=pl.Int64), side="left").to_list()
        at = dict(zip(edges, found, strict=True))
        pieces = []
        for band in bands:
            if band.late:
                assert self.late is not None
                rows = self.late.lazy().filter(pl.col("ts_ms").is_between(band.start, band.end, closed="left"))
            elif at[band.end] > at[band.start]:
                rows = self.rows.slice(at[band.start], at[band.end] - at[band.start]).lazy()
            else:
                continue
            pieces.append(rows.with_columns(target=pl.lit(band.target), sign=pl.lit(band.sign, pl.Int64)))
        empty = pl.LazyFrame(schema={**_ROWS_SCHEMA, "target": pl.String, "sign": pl.Int64})
        moving = pl.concat([empty, *pieces])
        state = pl.DataFrame(schema=_STATE_SCHEMA) if scratch or self.state is None else self.state
        step = _step(state.lazy(), moving, first)
        new_state, wide, rates, tallied, drifted, plus, minus = pl.collect_all(
            [step, *_shown(step, first), _drifted(step), *_latencies(moving)]
        )
        latencies = {} if scratch or self.latencies is None else dict(self.latencies)
        entering = plus.partition_by("role", "target", as_dict=True, include_key=False)
        leaving = minus.partition_by("role", "target", as_dict=True, include_key=False)
        for role in formulas.ROLES:
            for window in PERCENTILE_WINDOWS:
                current = latencies.get((role, window), pl.Series("latency_ms", [], pl.Float64))
                latencies[(role, window)] = _moved_values(
                    current, entering.get((role, window)), leaving.get((role, window))
                )
        moved = replace(
            self, now=now, timezone=timezone, first_hour=first, state=new_state, latencies=latencies, late=None
        )
        return moved, (wide, rates, _with_percentiles(tallied, latencies)), bool(drifted.item())


def _shown(step: pl.LazyFrame, first: int) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    """What ``role_views`` reads, from the moved state: the windows, the chart hours, the periods' tallies."""
    windows = step.filter(pl.col("target") != HOURS)
    roles = pl.LazyFrame({"role": formulas.ROLES})
    day = windows.filter(pl.col("target") == "24h").select(
        "role", *(pl.col(n).alias(f"{n}_24h") for n in _SUMS if n != "error")
    )
    week = windows.filter(pl.col("target") == "7d").select(
        "role", calls_7d="calls", price_micro_7d="price_micro", revenue_micro_7d="revenue_micro"
    )
    wide = roles.join(day, on="role", how="left").join(week, on="role", how="left").fill_null(0)
    hours = pl.LazyFrame({"hour": [first + i * HOUR_MS for i in range(formulas.CHART_HOURS)]})
    counts = step.filter(pl.col("target") == HOURS).select("role", "hour", "success", "error")
    rates = (
        roles.join(hours, how="cross")
        .join(counts, on=["role", "hour"], how="left")
        .with_columns(pl.col("success", "error").fill_null(0))
        .sort("role", "hour")
    )
    tallied = windows.filter(
        pl.col("target").is_in(["24h", "previous_24h", "previous_7d"]) & (pl.col("calls") > 0)
    ).select("role", period="target", **{n: n for n in _SUMS if n != "error"})
    return wide, rates, tallied


def _with_percentiles(tallied: pl.DataFrame, latencies: dict[tuple[str, str], pl.Series]) -> pl.DataFrame:
    """The periods' tallies with the nearest-rank percentiles of their sorted latencies (None: no latency)."""
    picks: dict[str, list] = {"role": [], "period": [], **{name: [] for name in _PCT_SCHEMA}}
    for (role, window), values in latencies.items():
        n = values.len()
        picks["role"].append(role)
        picks["period"].append(window)
        for nn in sketch.PERCENTILES:
            picks[f"p{nn}_latency_ms"].append(values[max((n * nn + 99) // 100 - 1, 0)] if n else None)
    schema = {"role": pl.String, "period": pl.String, **_PCT_SCHEMA}
    return tallied.join(pl.DataFrame(picks, schema=schema), on=["role", "period"], how="left")


_PCT_SCHEMA = {f"p{nn}_latency_ms": pl.Float64 for nn in sketch.PERCENTILES}


def _scratch_bands(now: int, first: int) -> list[_Band]:
    bands = [_Band(now - a, now - b, 1, target) for target, (a, b) in WINDOWS.items()]
    return [*bands, _Band(first, now, 1, HOURS)]


def _step(state: pl.LazyFrame, moving: pl.LazyFrame, first: int) -> pl.LazyFrame:
    """The state plus the signed tallies of the moving rows, per (role, target, hour)."""
    sign, ok = pl.col("sign"), formulas.succeeded()
    hour = (
        pl.when(pl.col("target") == HOURS)
        .then(first + (pl.col("ts_ms") - first) // HOUR_MS * HOUR_MS)
        .otherwise(pl.lit(None, pl.Int64))
    )
    lat = pl.col("latency_ms")
    delta = (
        moving.with_columns(hour=hour)
        .group_by("role", "target", "hour")
        .agg(
            calls=sign.sum(),
            success=(sign * ok.cast(pl.Int64)).sum(),
            error=(sign * (~ok).cast(pl.Int64)).sum(),
            latency_sum=(sign * lat).sum().cast(pl.Float64),
            latency_n=(sign * lat.is_not_null().cast(pl.Int64)).sum(),
            price_micro=(sign * pl.col("price_micro").cast(pl.Int128)).sum(),
            revenue_micro=(sign * pl.col("revenue_micro").cast(pl.Int128)).sum(),
            # what adding this band's latency sum to the state may round away
            drift=(lat.abs().sum() * _EPS).cast(pl.Float64),
        )
        .select(*_STATE_SCHEMA)
    )
    merged = (
        pl.concat([state.select(*_STATE_SCHEMA), delta.cast(_STATE_SCHEMA)])
        .group_by("role", "target", "hour")
        .agg(*(pl.col(n).sum() for n in _SUMS), pl.col("drift").sum())
    )
    last = first + (formulas.CHART_HOURS - 1) * HOUR_MS
    keep = (pl.col("target") != HOURS) | pl.col("hour").is_between(first, last)
    return merged.filter(keep).with_columns(drift=pl.col("drift") + pl.col("latency_sum").abs() * _EPS)


def _latencies(moving: pl.LazyFrame) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The latencies entering and leaving the percentile windows; those leaving with ``k``, their copy number."""
    shown = moving.filter(pl.col("target").is_in(PERCENTILE_WINDOWS) & pl.col("latency_ms").is_not_null())
    plus = shown.filter(pl.col("sign") > 0).select("role", "target", "latency_ms")
    minus = (
        shown.filter(pl.col("sign") < 0)
        .select("role", "target", "latency_ms")
        .sort("latency_ms")
        .with_columns(k=pl.int_range(pl.len(), dtype=pl.UInt32).over("role", "target", "latency_ms"))
    )
    return plus, minus


def _drifted(step: pl.LazyFrame) -> pl.LazyFrame:
    """One value: whether some window's latency sum may be further than 1e-11 of its value from the exact sum."""
    windows = step.filter((pl.col("target") != HOURS) & (pl.col("latency_n") > 0))
    return windows.select((pl.col("drift") > _DRIFT_LIMIT * pl.col("latency_sum")).any())


def _moved_values(current: pl.Series, plus: pl.DataFrame | None, minus: pl.DataFrame | None) -> pl.Series:
    """Sorted latencies with ``plus`` added and ``minus`` (sorted, with copy numbers ``k``) removed, as multisets.

    Examples
    --------
    >>> minus = pl.DataFrame({"latency_ms": [1.0, 3.0], "k": [0, 0]}, schema_overrides={"k": pl.UInt32})
    >>> _moved_values(pl.Series([1.0, 1.0, 3.0]), pl.DataFrame({"latency_ms": [2.5]}), minus).to_list()
    [1.0, 2.5]
    """
    values = current
    if plus is not None and plus.height:
        values = pl.concat([values, plus["latency_ms"]]).sort()
    if minus is None or not minus.height:
        return values
    # The k-th copy of a value v to remove sits k places after v's first position.
    at = values.search_sorted(minus["latency_ms"], side="left") + minus["k"]
    keep = pl.Series([True]).extend_constant(True, values.len() - 1).scatter(at, False)
    return values.filter(keep)
