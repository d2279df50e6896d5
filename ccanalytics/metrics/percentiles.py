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

Between two refreshes a window's latencies change only by the few that
crossed its two ends, so ``kept_ranks`` keeps, per group, the count below
``lo`` and the latencies in ``[lo, hi]`` as a sorted Python list cut into
pieces of ``PIECE`` (``Near``), and moves them by those that entered and left
(a few dozen comparisons and edits of the pieces they fall into: the kept
list, thousands of latencies, is not copied, and no pass over the window is
made); it searches as above only when a rank
comes within ``room`` of the kept list's ends, or the window did not just move
forward (a late call, ``now`` back).

Pure polars and Python values, no state of its own: the caller keeps the hints.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, replace
from itertools import accumulate
from typing import TYPE_CHECKING

from ccanalytics.metrics import sketch

if TYPE_CHECKING:
    import polars as pl

__all__ = ["GROUPS", "Hint", "Near", "kept_ranks", "nearest_rank"]

# Percentiles searched in one interval: the median alone, the tail together.
GROUPS = ((50,), (95, 99))
Hint = tuple[float, float]
PIECE = 512  # latencies per piece of a kept list (``Near``)


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
    picks, found, _ = _search(values, n, hints, room, GROUPS)
    return picks, found


def _ranks(n: int, group: tuple[int, ...]) -> list[int]:
    """The 0-based nearest ranks of a group's percentiles among ``n`` latencies."""
    return [max((n * p + 99) // 100 - 1, 0) for p in group]


def _search(
    values: pl.Series, n: int, hints: tuple[Hint, ...] | None, room: int, groups: tuple[tuple[int, ...], ...]
) -> tuple[dict[int, float | None], tuple[Hint, ...], list[_Run]]:
    """Each group's percentiles from the window (near its hint, else the window sorted), new hints and the runs read."""
    picks: dict[int, float | None] = dict.fromkeys(sketch.PERCENTILES)
    found: list[Hint] = []
    runs: list[_Run] = []
    whole: _Run | None = None  # the whole window sorted, if some group needed it
    for group, hint in zip(groups, hints or (None,) * len(groups), strict=True):
        ranks = _ranks(n, group)
        run = None if hint is None else _Run.around(values, n, hint)
        if run is None or not (run.below <= ranks[0] and ranks[-1] < run.end):
            whole = whole or _Run.whole(values)
            run = whole
        picks.update({p: run[k] for p, k in zip(group, ranks, strict=True)})
        found.append(_widened(values, n, run, ranks[0], ranks[-1], room))
        runs.append(run)
    return picks, tuple(found), runs


@dataclass(frozen=True)
class Near:
    """A window's latencies near one group's ranks, as Python values.

    ``below`` of them lie under ``lo``; ``inner`` are all those in ``[lo, hi]``,
    sorted, in pieces of about ``PIECE`` (a refresh copies only the pieces its
    latencies fall into, not the thousands kept), with ``ends`` each piece's
    end among them; or, when ``lo == hi`` (a window full of one latency,
    perhaps), None and ``same`` of them equal to ``lo``.
    """

    lo: float
    hi: float
    below: int
    inner: tuple[list[float], ...] | None
    same: int = 0
    ends: tuple[int, ...] = ()

    @classmethod
    def of(cls, lo: float, hi: float, below: int, inner: list[float]) -> Near:
        """The latencies ``inner`` (sorted) in pieces."""
        return cls._pieces(lo, hi, below, [inner[i : i + PIECE] for i in range(0, len(inner), PIECE)])

    @classmethod
    def _pieces(cls, lo: float, hi: float, below: int, pieces: list[list[float]]) -> Near:
        return cls(lo, hi, below, tuple(pieces), ends=tuple(accumulate(len(piece) for piece in pieces)))

    @property
    def size(self) -> int:
        return self.same if self.inner is None else (self.ends[-1] if self.ends else 0)

    def __getitem__(self, rank: int) -> float:
        if self.inner is None:
            return self.lo
        at = rank - self.below
        piece = bisect_right(self.ends, at)
        return self.inner[piece][at - (self.ends[piece - 1] if piece else 0)]

    def moved(self, entering: list[float], leaving: list[float]) -> Near | None:
        """The same latencies after ``entering`` joined the window and ``leaving`` left it (both sorted).

        None when a latency that left was not kept (the window did not hold it: the caller searches).
        """
        lo, hi = self.lo, self.hi
        below = self.below + bisect_left(entering, lo) - bisect_left(leaving, lo)
        come = entering[bisect_left(entering, lo) : bisect_right(entering, hi)]
        go = leaving[bisect_left(leaving, lo) : bisect_right(leaving, hi)]
        if self.inner is None:  # every kept latency is lo: counted
            same = self.same + len(come) - len(go)
            return None if same < 0 else Near(lo, hi, below, None, same)
        if not come and not go:
            return self if below == self.below else replace(self, below=below)
        pieces = list(self.inner)  # the pieces changed are copies: the state it came from stays as it was
        if come:
            pieces = _joined(pieces, come)
        kept = _without(pieces, go) if go else pieces
        return None if kept is None else Near._pieces(lo, hi, below, kept)

    def spare(self, first: int, last: int) -> float:
        """How far the kept list reaches beyond ranks ``first`` to ``last``, on its nearer side (< 0: not held).

        A side open to the window's end (``lo`` of -inf, ``hi`` of inf) holds every latency there: no limit.
        """
        low = first - self.below if self.lo > -math.inf else math.inf
        high = self.below + self.size - 1 - last if self.hi < math.inf else math.inf
        return min(low, high)


def _joined(pieces: list[list[float]], come: list[float]) -> list[list[float]]:
    """Sorted pieces with the sorted latencies ``come`` merged into those they fall into (split when too long)."""
    if not pieces:
        return [come[i : i + PIECE] for i in range(0, len(come), PIECE)]
    lasts = [piece[-1] for piece in pieces]
    joined: list[list[float]] = []
    start, taken = 0, 0
    while taken < len(come):
        at = min(bisect_left(lasts, come[taken]), len(pieces) - 1)  # the first piece reaching it, else the last
        upto = len(come) if at == len(pieces) - 1 else bisect_right(come, lasts[at], taken)
        joined += pieces[start:at]
        piece = sorted(pieces[at] + come[taken:upto])  # two sorted runs: one merge
        joined += [piece] if len(piece) <= 2 * PIECE else [piece[i : i + PIECE] for i in range(0, len(piece), PIECE)]
        start, taken = at + 1, upto
    return joined + pieces[start:]


def _without(pieces: list[list[float]], go: list[float]) -> list[list[float]] | None:
    """Sorted pieces (a list of its own) without the sorted latencies ``go``, one each; None when one is not there."""
    at, i, copied = 0, 0, -1
    for value in go:
        while at < len(pieces) and pieces[at][-1] < value:  # `go` is sorted: the pieces are walked once
            at, i = at + 1, 0
        if at == len(pieces):
            return None
        piece = pieces[at]
        i = bisect_left(piece, value, i)
        if piece[i] != value:
            return None
        if copied != at:
            piece, copied = piece.copy(), at
            pieces[at] = piece
        del piece[i]
        if not piece:
            del pieces[at]
            i, copied = 0, -1
    return pieces


def kept_ranks(
    values: pl.Series,
    n: int,
    kept: tuple[Near, ...] | None,
    crossed: tuple[list[float], list[float]] | None,
    room: int,
    groups: tuple[tuple[int, ...], ...] = GROUPS,
) -> tuple[dict[int, float | None], tuple[Near, ...] | None]:
    """The percentiles of ``groups`` (others None) of a window, and what to keep for the next refresh.

    ``kept`` is what this returned at the last refresh, ``crossed`` the
    latencies that entered and left the window since (sorted, no nulls; None
    when it did not just move forward: then it is searched).  The answer is
    always the exact nearest-rank value; ``room`` is how far each rank must stay
    from the kept list's ends for the next refresh to read it without a search.

    Examples
    --------
    >>> import polars as pl
    >>> window = [float(v) for v in range(100)]
    >>> picks, kept = kept_ranks(pl.Series(window), 100, None, None, room=5)
    >>> picks[50], picks[95], picks[99]
    (49.0, 94.0, 98.0)
    >>> window = window[2:] + [100.5, 101.5]  # two latencies left, two entered
    >>> picks, kept = kept_ranks(pl.Series(window), 100, kept, ([100.5, 101.5], [0.0, 1.0]), room=5)
    >>> picks[50], picks[95], picks[99]
    (51.0, 96.0, 100.5)
    """
    if n == 0:
        return dict.fromkeys(sketch.PERCENTILES), None
    ranks = [_ranks(n, group) for group in groups]
    if kept is not None and crossed is not None and len(kept) == len(groups):
        moved = [near.moved(*crossed) for near in kept]
        if all(near is not None and near.spare(r[0], r[-1]) >= room for near, r in zip(moved, ranks, strict=True)):
            picks: dict[int, float | None] = dict.fromkeys(sketch.PERCENTILES)
            for near, group, r in zip(moved, groups, ranks, strict=True):
                assert near is not None
                picks.update({p: near[k] for p, k in zip(group, r, strict=True)})
            return picks, tuple(near for near in moved if near is not None)
    hints = None if kept is None or len(kept) != len(groups) else tuple((near.lo, near.hi) for near in kept)
    # Kept lists reach 8 `room` beyond the ranks (open where that passes the window's end): a search every
    # few dozen refreshes, not every few.
    wide = 4 * room
    picks, found, runs = _search(values, n, hints, wide, groups)
    opened = [
        (-math.inf if r[0] - 2 * wide <= 0 else lo, math.inf if r[-1] + 2 * wide >= n - 1 else hi)
        for (lo, hi), r in zip(found, ranks, strict=True)
    ]
    return picks, tuple(_near(values, n, run, hint) for run, hint in zip(runs, opened, strict=True))


def _near(values: pl.Series, n: int, run: _Run, hint: Hint) -> Near:
    """The latencies in ``hint``'s interval as a ``Near``: from ``run`` when it holds the interval."""
    lo, hi = hint
    if run.values is None:  # a run of one latency
        held = lo == hi == run.lo
    else:
        first, last = (run.values[0], run.values[-1]) if run.values.len() else (math.inf, -math.inf)
        held = (first <= lo or run.below == 0) and (hi <= last or run.end == n)
    if not held:
        run = _Run.around(values, n, hint)
    if run.values is None:
        return Near(lo, hi, run.below, None, run.size)
    start = int(run.values.search_sorted(lo, side="left"))
    end = int(run.values.search_sorted(hi, side="right"))
    if lo == hi:
        return Near(lo, hi, run.below + start, None, end - start)
    return Near.of(lo, hi, run.below + start, run.values.slice(start, end - start).to_list())


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
