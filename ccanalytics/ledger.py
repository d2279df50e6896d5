"""What a store knows about its calls, kept small: old history tallied, recent rows raw.

Every window the dashboard shows (24 h, 7 d, the 48 chart hours) lies within
the last week, and every all-time figure is a sum.  So calls older than the
``horizon`` are folded into tallies per (role, api_id) — a few hundred rows
however long the history — and only calls since the horizon are kept as rows.
A ledger answers for any ``now`` with ``now - WEEK >= horizon``.

Pure polars, no I/O: the store feeds it the clean rows it reads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from ccanalytics import metrics
from ccanalytics.units import WEEK_MS

__all__ = ["Ledger"]

RECENT_SCHEMA = {
    "ts_ms": pl.Int64,
    "role": pl.String,
    "api_id": pl.String,
    "api_name": pl.String,
    "request_id": pl.String,
    "status_code": pl.Int64,
    "latency_ms": pl.Float64,
    "price_micro": pl.Int64,
    "revenue_micro": pl.Int64,
    "rule": pl.String,
}
_ISSUES_SCHEMA = {"rule": pl.String, "rows": pl.Int64}


def issue_counts(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Bad rows per broken rule (``rule``, ``rows``)."""
    return rows.filter(pl.col("rule").is_not_null()).group_by("rule").agg(rows=pl.len().cast(pl.Int64))


def _merge_issues(*counts: pl.LazyFrame) -> pl.LazyFrame:
    return pl.concat(counts).group_by("rule").agg(pl.col("rows").sum())


@dataclass(frozen=True)
class Ledger:
    """Calls before ``horizon`` as tallies, names and issue counts; later calls as rows."""

    horizon: int
    tallies: pl.DataFrame
    names: pl.DataFrame
    issues: pl.DataFrame
    recent: pl.DataFrame

    @classmethod
    def empty(cls, horizon: int) -> Ledger:
        return cls(
            horizon=horizon,
            tallies=metrics.empty_tally().collect(),
            names=metrics.empty_names().collect(),
            issues=pl.DataFrame(schema=_ISSUES_SCHEMA),
            recent=pl.DataFrame(schema=RECENT_SCHEMA),
        )

    def covers(self, now: int) -> bool:
        """Whether every window of a snapshot at ``now`` lies after the horizon."""
        return now - WEEK_MS >= self.horizon

    def add(self, rows: pl.DataFrame) -> Ledger:
        """The ledger with more clean call rows (with their ``rule``) added.

        Rows without a valid time are always reported; they can never be recent.
        """
        ts = pl.col("ts_ms")
        rows = rows.select(*RECENT_SCHEMA)
        old = rows.filter(ts.is_null() | (ts < self.horizon))
        return replace(
            self._fold(old),
            recent=pl.concat([self.recent, rows.filter(ts >= self.horizon)]),
        )

    def settle(self, horizon: int) -> Ledger:
        """The same calls, with those before a later ``horizon`` folded into tallies."""
        if horizon <= self.horizon:
            return self
        ts = pl.col("ts_ms")
        moved = self.recent.filter(ts < horizon)
        return replace(self._fold(moved), horizon=horizon, recent=self.recent.filter(ts >= horizon))

    def _fold(self, old: pl.DataFrame) -> Ledger:
        if old.is_empty():
            return self
        good = old.lazy().filter(pl.col("rule").is_null())
        tallies, names, issues = pl.collect_all(
            [
                metrics.merge_tallies(self.tallies.lazy(), metrics.tally(good)),
                metrics.latest_names(pl.concat([self.names.lazy(), good.select(self.names.columns)])),
                _merge_issues(self.issues.lazy(), issue_counts(old.lazy())),
            ]
        )
        return replace(self, tallies=tallies, names=names, issues=issues)

    def at(self, now: int) -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
        """What exists at ``now``: valid recent calls, all-time tallies and names, issue counts."""
        present = metrics.existing(self.recent.lazy(), now)
        good = present.filter(pl.col("rule").is_null())
        tallies = metrics.merge_tallies(self.tallies.lazy(), metrics.tally(good))
        names = metrics.latest_names(pl.concat([self.names.lazy(), good.select(self.names.columns)]))
        issues = _merge_issues(self.issues.lazy(), issue_counts(present))
        return good, tallies, names, issues
