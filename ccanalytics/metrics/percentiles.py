"""Exact nearest-rank percentiles of a window's latencies, searched near the last refresh's answers.

A refresh moves a window by a few calls, so each percentile moves by at most
that many ranks.  ``nearest_rank`` is given, for each group of percentiles, a
``hint``: an interval ``[lo, hi]`` of latencies that held the group's ranks,
with room on both sides, at the last refresh.  It counts the latencies below
``lo``, sorts only those in the interval, and reads each rank off that short
run (an interval of one latency is counted, not sorted: a window full of one
latency costs two counts); if a rank falls
outside the interval (the window moved further than the room), it sorts the
whole window instead.  Either way the value is the exact nearest-rank
percentile (``sketch.exact_percentiles``'s definition: the ``⌈n·p/100⌉``-th
smallest); the hints only decide how much is sorted.  The new hints leave up
to ``2 * room`` ranks on each side of the group's ranks and never less than
``room``: a window that moves by fewer than ``room`` ranks between two
refreshes is never sorted whole.

Pure polars, no state of its own: the caller keeps the hints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccanalytics.metrics import sketch

if TYPE_CHECKING:
    import polars as pl

__all__ = ["GROUPS", "Hint", "nearest_rank"]

# Percentiles searched in one interval: the median alone, the tail together.
GROUPS = ((50,), (95, 99))
Hint = tuple[float, float]


@dataclass(frozen=True)
class _Run:
    """Ranks ``[below, end)`` of the window, sorted (``lo`` alone: all equal to it)."""

    below: int
    values: pl.Series | None
    lo: float
    size: int

    @property
    def end(self) -> int:
        return self.below + self.size

    def __getitem__(self, rank: int) -> float:
        return self.lo if self.values is None else self.values[rank - self.below]

    @classmethod
    def around(cls, values: pl.Series, n: int, hint: Hint) -> _Run:
        lo, hi = hint
        above = values >= lo  # null for a call without latency: neither counted nor kept
        below = n - int(above.sum())
        if lo == hi:  # a window full of one latency: count it, sort nothing
            return cls(below, None, lo, int((values == lo).sum()))
        inner = values.filter(above & (values <= hi)).sort(multithreaded=False)
        return cls(below, inner, lo, inner.len())

    @classmethod
    def whole(cls, values: pl.Series) -> _Run:
        ordered = values.drop_nulls().sort(multithreaded=False)
        return cls(0, ordered, ordered[0], ordered.len())


def nearest_rank(
    values: pl.Series, n: int, hints: tuple[Hint, ...] | None, room: int
) -> tuple[dict[int, float | None], tuple[Hint, ...] | None]:
    """The p50, p95 and p99 of ``values`` (``n`` of them not null), and the hints for the next search.

    Examples
    --------
    >>> import polars as pl
    >>> values = pl.Series([5.0, None, 1.0, 3.0, 2.0, 4.0])
    >>> picks, hints = nearest_rank(values, 5, None, room=1)
    >>> picks, hints
    ({50: 3.0, 95: 5.0, 99: 5.0}, ((1.0, 5.0), (3.0, 5.0)))
    >>> nearest_rank(values.append(pl.Series([0.5, 6.0])), 7, hints, room=1)[0]
    {50: 3.0, 95: 6.0, 99: 6.0}
    """
    if n == 0:
        return dict.fromkeys(sketch.PERCENTILES), None
    picks: dict[int, float | None] = {}
    found: list[Hint] = []
    whole: _Run | None = None  # the whole window sorted, if some group needed it
    for group, hint in zip(GROUPS, hints or (None,) * len(GROUPS), strict=True):
        ranks = [max((n * p + 99) // 100 - 1, 0) for p in group]
        run = None if hint is None else _Run.around(values, n, hint)
        if run is None or not (run.below <= ranks[0] and ranks[-1] < run.end):
            whole = whole or _Run.whole(values)
            run = whole
        picks.update({p: run[k] for p, k in zip(group, ranks, strict=True)})
        found.append(_widened(values, n, run, ranks[0], ranks[-1], room))
    return picks, tuple(found)


def _widened(values: pl.Series, n: int, run: _Run, first: int, last: int, room: int) -> Hint:
    """Latencies around ranks ``first`` to ``last``: ``2 * room`` ranks beyond them, or as far as ``run`` goes.

    A side with less than ``room`` ranks to spare in the run is searched
    beyond it (one selection), so the interval shrinks by at most ``room``
    before it is widened again.
    """
    lo_rank, hi_rank = max(first - 2 * room, 0), min(last + 2 * room, n - 1)
    lo: object
    hi: object
    if lo_rank >= run.below or first - run.below >= room:
        lo = run[max(lo_rank, run.below)]
    else:  # the (below - lo_rank)-th largest of the latencies below the run
        lo = values.filter(values < run[run.below]).top_k(run.below - lo_rank).min()
    if hi_rank < run.end or run.end - 1 - last >= room:
        hi = run[min(hi_rank, run.end - 1)]
    else:  # the (hi_rank - end + 1)-th smallest above it
        hi = values.filter(values > run[run.end - 1]).bottom_k(hi_rank - run.end + 1).max()
    return float(lo), float(hi)  # type: ignore[arg-type]  # a latency: a float
