"""The percentiles searched near the last answers equal those of the whole window sorted, however it moved."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccanalytics.metrics import percentiles
from ccanalytics.metrics.percentiles import GROUPS, kept_ranks, nearest_rank

latency = st.one_of(st.none(), st.sampled_from([0.0, 1.0, 100.0, 100.0]), st.floats(0, 1000))


def _exact(values: list[float | None]) -> dict[int, float | None]:
    ordered = sorted(v for v in values if v is not None)
    n = len(ordered)
    return {p: ordered[max((n * p + 99) // 100 - 1, 0)] if n else None for p in (50, 95, 99)}


@settings(max_examples=150, deadline=None)
@given(
    start=st.lists(latency, max_size=300),
    moves=st.lists(
        st.tuples(st.integers(0, 60), st.lists(latency, max_size=60), st.integers(0, 80)), min_size=1, max_size=8
    ),
)
def test_nearest_rank_equals_the_sorted_window_whatever_moves(start, moves):
    """Each move drops some of the oldest values and adds new ones; the hints of the last move are reused."""
    window, hints = list(start), None
    for dropped, added, room in [(0, [], 0), *moves]:
        window = window[dropped:] + added
        values = pl.Series(window, dtype=pl.Float64)
        picks, hints = nearest_rank(values, values.len() - values.null_count(), hints, room)
        assert picks == _exact(window)


def test_a_window_moved_past_its_hints_is_sorted_again():
    values = pl.Series([float(v) for v in range(100)])
    _, hints = nearest_rank(values, 100, None, room=2)
    moved = pl.Series([float(v) for v in range(1000, 1100)])  # every latency new: nothing near the old answers
    picks, _ = nearest_rank(moved, 100, hints, room=2)
    assert picks == {50: 1049.0, 95: 1094.0, 99: 1098.0}


def test_no_latency_has_no_percentile_and_no_hint():
    assert nearest_rank(pl.Series([None, None], dtype=pl.Float64), 0, None, room=5) == (
        {50: None, 95: None, 99: None},
        None,
    )


@settings(max_examples=150, deadline=None)
@given(
    start=st.lists(latency, max_size=300),
    moves=st.lists(
        st.tuples(st.integers(0, 60), st.lists(latency, max_size=60), st.integers(0, 80), st.booleans()),
        min_size=1,
        max_size=8,
    ),
)
def test_kept_ranks_moved_by_what_crossed_equal_the_sorted_window(start, moves):
    """The kept lists, moved by the latencies that left and entered (or searched when told nothing), stay exact.

    Also with pieces of two latencies, so that moves join, split, empty and walk many pieces.
    """
    for groups, piece in ((GROUPS, percentiles.PIECE), (((95,),), percentiles.PIECE), (GROUPS, 2)):
        window, kept = list(start), None
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(percentiles, "PIECE", piece)
            for dropped, added, room, told in [(0, [], 0, False), *moves]:
                left, window = window[:dropped], window[dropped:] + added
                values = pl.Series(window, dtype=pl.Float64)
                crossed = (sorted(v for v in added if v is not None), sorted(v for v in left if v is not None))
                n = values.len() - values.null_count()
                picks, kept = kept_ranks(values, n, kept, crossed if told else None, room, groups)
                shown = {p for group in groups for p in group}
                assert picks == {p: value if p in shown else None for p, value in _exact(window).items()}


def test_a_window_flooded_with_one_latency_is_counted_and_moved_without_a_search(monkeypatch):
    window = [float(v) for v in range(50)] + [150.0] * 500
    picks, kept = kept_ranks(pl.Series(window), len(window), None, None, room=20)
    assert kept is not None and kept[0].inner is None and kept[0].same == 500  # the median's: all 150.0
    monkeypatch.setattr(percentiles, "_search", None)  # moving must not search the window
    for step in range(5):
        entering, leaving = [150.0] * 30 + [160.0 + step], window[:10]
        window = window[10:] + entering
        picks, kept = kept_ranks(pl.Series(window), len(window), kept, (entering, sorted(leaving)), room=20)
        assert picks == _exact(window)
