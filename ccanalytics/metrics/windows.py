"""The default snapshot's windows, and a role's running sums read at the edges searched for them.

Every window ends at ``now`` or a fixed distance before it (``WINDOWS``).
``running.Running.moved`` searches, in each role's running sums, where every
window's ends (``ENDS``), each chart hour and the percentile windows' ends at
the last ``now`` (``MOVED``) fall; ``EdgeSums`` turns those positions into the
figures between any two of them: the calls' count and sums (differences of
two running sums, plus the counts of the role's tail before an edge in it)
and the latencies between them (a slice).

Pure polars, no I/O.
"""

from __future__ import annotations

import polars as pl

from ccanalytics.units import DAY_MS, WEEK_MS

__all__ = ["AT", "COUNTS", "ENDS", "ENDS_OF", "MOVED", "WINDOWS", "EdgeSums"]

# window name -> (a, b): the window at `t` is [t - a, t - b)
WINDOWS = {
    "24h": (DAY_MS, 0),
    "7d": (WEEK_MS, 0),
    "previous_24h": (2 * DAY_MS, DAY_MS),
    "previous_7d": (2 * WEEK_MS, WEEK_MS),
}
# The edges searched at `now`, as offsets before it: the windows' ends first, then the chart hours.
ENDS = sorted({x for pair in WINDOWS.values() for x in pair}, reverse=True)  # 2w, 1w, 2d, 1d, 0
AT = {x: i for i, x in enumerate(ENDS)}
MOVED = (0, DAY_MS, 2 * DAY_MS)  # the ends of the percentile windows, also searched at the last `now`
ENDS_OF = {window: (AT[a], AT[b]) for window, (a, b) in WINDOWS.items()}  # a window's edges in the search
# A role's running counts (``running``): each column the total of the calls up to and including its row; then the
# role's money (``formulas.money_column``), summed likewise.
COUNTS = ("success", "latency_n")


class EdgeSums:
    """A role's figures at the edges searched: ``at`` their positions, ``sums`` the totals of the calls before them.

    ``frame`` is the role's running sums (a first row of zeros, then one row
    per call: ``ts_ms``, ``latency_ms``, the ``COUNTS`` and, last, the role's
    money), ``tail`` its calls counted but not summed yet, ``found`` each
    edge's position among both; the first ``len(ENDS)`` edges are the windows'
    ends (money is read there only).

    Examples
    --------
    >>> sums = pl.DataFrame({"ts_ms": [-(2**63), 1, 2], "latency_ms": [None, 5.0, None], "success": [0, 1, 1],
    ...     "latency_n": [0, 1, 1], "revenue_micro": [0, 2, 4]})
    >>> tail = pl.DataFrame({"ts_ms": [3], "latency_ms": [9.0], "success": [1], "revenue_micro": [1]})
    >>> edges = EdgeSums(sums, tail, pl.Series([1, 2, 3, 4, 4, 2]))  # five windows' ends (1, 2, 3, 4, 4 ms), then 2 ms
    >>> edges.tally(0, 3), edges.latencies(1, 3).to_list()
    ({'calls': 3, 'success': 2, 'latency_n': 2, 'revenue_micro': 5}, [None, 9.0])
    """

    def __init__(self, frame: pl.DataFrame, tail: pl.DataFrame, found: pl.Series) -> None:
        self.at, summed = found.to_list(), frame.height
        self._crossing: dict[int, list[float]] = {}
        # the running sums' row before each edge (the last one for an edge in the tail) ...
        # (column by column: a Series gathers without a query, a frame's columns are picked with one)
        rows = pl.Series([min(i, summed) - 1 for i in self.at], dtype=pl.UInt32)
        self.sums = {name: frame.get_column(name)[rows].to_list() for name in COUNTS}
        # money only at the windows' ends (the first edges): fewer numbers to convert
        self.money = frame.columns[-1]
        self.sums[self.money] = frame.get_column(self.money)[rows.slice(0, len(ENDS))].to_list()
        self.latency = frame["latency_ms"]
        if not tail.height:
            return
        # ... plus, for an edge in the tail, the counts of the tail's calls before it
        self.latency = pl.concat([self.latency, tail["latency_ms"]])
        for k, i in enumerate(self.at):
            if (n := i - summed) > 0:
                self.sums["success"][k] += tail["success"].slice(0, n).sum()
                self.sums["latency_n"][k] += n - tail["latency_ms"].slice(0, n).null_count()
                if k < len(ENDS):
                    self.sums[self.money][k] += tail[self.money].slice(0, n).sum()

    def tally(self, i: int, j: int) -> dict[str, int]:
        """The calls between edges ``i`` and ``j``: their count and sums (money between windows' ends only)."""
        names = (*COUNTS, self.money) if i < len(ENDS) and j < len(ENDS) else COUNTS
        return {"calls": self.at[j] - self.at[i], **{name: self.sums[name][j] - self.sums[name][i] for name in names}}

    def between(self, edges: range, last: int) -> tuple[list[int], list[int]]:
        """The calls and successes between each of these consecutive edges and the next, the last one up to ``last``.

        ``tally`` of each pair, as two lists (the chart's hours: no dict per hour).
        """
        ends = [*edges[1:], last]
        at, success = self.at, self.sums["success"]
        return [at[j] - at[i] for i, j in zip(edges, ends, strict=True)], [
            success[j] - success[i] for i, j in zip(edges, ends, strict=True)
        ]

    def latencies(self, i: int, j: int) -> pl.Series:
        """The latencies of the calls between edges ``i`` and ``j`` (a slice, nulls included)."""
        return self.latency.slice(self.at[i], self.at[j] - self.at[i])

    def crossed(self, x: int) -> int:
        """The latencies between ``now - x`` and the last ``now - x`` (searched last, in ``MOVED``'s order)."""
        n = self.sums["latency_n"]
        return abs(n[AT[x]] - n[len(n) - len(MOVED) + MOVED.index(x)])

    def crossing(self, x: int) -> list[float]:
        """The latencies from the last ``now - x`` to ``now - x`` (a later ``now``), sorted, without nulls."""
        if x not in self._crossing:
            i, j = self.at[len(self.at) - len(MOVED) + MOVED.index(x)], self.at[AT[x]]
            # nulls sorted last and sliced off: `drop_nulls` would be a query, `sort` and `slice` are not
            crossing = self.latency.slice(i, max(j - i, 0)).sort(multithreaded=False, nulls_last=True)
            self._crossing[x] = crossing.slice(0, crossing.len() - crossing.null_count()).to_list()
        return self._crossing[x]
