"""metrics/windows.py: the figures between two edges are those of the calls between them, summed or in the tail."""

from __future__ import annotations

import polars as pl

from ccanalytics.metrics.windows import ENDS, EdgeSums

# Calls at 10, 20, ..., 100 ms: the first six summed, the last four in the tail.
TIMES = list(range(10, 101, 10))
SUCCESS = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1]
LATENCY = [5.0, None, 2.0, 8.0, 1.0, None, 3.0, 4.0, 9.0, 6.0]
PRICE = [10**20, 3, 4, 5, 6, 7, 8, 9, 10, 11]  # money in Int128: sums beyond 64 bits


def _edges(edges_ms: list[int]) -> EdgeSums:
    summed = 6
    counts = {
        "success": pl.Series([0, *SUCCESS[:summed]]).cum_sum(),
        "latency_n": pl.Series([0, *(v is not None for v in LATENCY[:summed])], dtype=pl.Int64).cum_sum(),
        "price_micro": pl.Series([0, *PRICE[:summed]], dtype=pl.Int128).cum_sum(),
    }
    sums = pl.DataFrame(
        {
            "ts_ms": [-(2**63), *TIMES[:summed]],
            "latency_ms": pl.Series([None, *LATENCY[:summed]], dtype=pl.Float64),
            **counts,  # the role's money last: a buyer's spend
        }
    )
    tail = pl.DataFrame(
        {
            "ts_ms": TIMES[summed:],
            "latency_ms": pl.Series(LATENCY[summed:], dtype=pl.Float64),
            "success": SUCCESS[summed:],
            "price_micro": pl.Series(PRICE[summed:], dtype=pl.Int128),
        }
    )
    edges = pl.Series(edges_ms, dtype=pl.Int64)
    found = sums["ts_ms"].search_sorted(edges, side="left") + tail["ts_ms"].search_sorted(edges, side="left")
    return EdgeSums(sums, tail, found)


def test_the_figures_between_two_edges_are_those_of_the_calls_between_them() -> None:
    ends = [15, 40, 65, 80, 101]  # the windows' ends: in the sums, at a call, in the tail, past the last call
    later = [35, 95]  # two more edges (chart hours): counts only
    edges = _edges([*ends, *later])
    for i, j in [(0, 4), (1, 3), (2, 3), (0, 1), (3, 4), (4, 4)]:
        start, end = ends[i], ends[j]
        inside = [k for k, t in enumerate(TIMES) if start <= t < end]
        got = edges.tally(i, j)
        assert got["calls"] == len(inside)
        assert got["success"] == sum(SUCCESS[k] for k in inside)
        assert got["latency_n"] == sum(LATENCY[k] is not None for k in inside)
        assert got["price_micro"] == sum(PRICE[k] for k in inside)
        assert "revenue_micro" not in got  # a role's own money only
        assert edges.latencies(i, j).to_list() == [LATENCY[k] for k in inside]
    hours = edges.tally(len(ENDS), len(ENDS) + 1)  # 35 to 95 ms
    assert set(hours) == {"calls", "success", "latency_n"}
    assert (hours["calls"], hours["success"]) == (6, 4)
