"""metrics/recent.py: the views' recent rows keep few-valued texts as categories, no request ids, the same figures."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from ccanalytics.metrics.ledger import Ledger
from ccanalytics.metrics.recent import AS_CATEGORIES, RID, compact, like, texts
from tests.unit.metrics.test_ledger import CALLS, HORIZON, NOW, _sorted, rows

DAY = 86_400_000


def test_texts_and_like_undo_each_other() -> None:
    given = CALLS.select("ts_ms", *AS_CATEGORIES)
    kept = like(given, pl.Schema(compact(dict(given.schema))))
    assert [kept.schema[c] for c in AS_CATEGORIES] == [pl.Categorical] * len(AS_CATEGORIES)
    assert_frame_equal(texts(kept), given.with_columns(request_id=pl.lit(None, pl.String)))
    full = CALLS.select("ts_ms", "request_id")
    assert texts(full) is full and like(given, given.schema) is given  # nothing to do: the same frame


def _read(calls: pl.DataFrame):
    def read(rowids: list[int]) -> pl.DataFrame:
        return calls.filter(pl.col(RID).is_in(rowids))

    return read


def _same_figures(views: Ledger, plain: Ledger, now: int) -> None:
    (_, calls, totals), (_, plain_calls, plain_totals) = views.at(now), plain.at(now)
    for mine, theirs in ((totals.tallies, plain_totals.tallies), (totals.issues, plain_totals.issues)):
        assert_frame_equal(_sorted(mine, *mine.columns), _sorted(theirs, *theirs.columns))
    name = ["api_id", "ts_ms", "api_name"]  # the request id of a recent row's name may be unknown (null)
    assert_frame_equal(_sorted(totals.names.select(name), "api_id"), _sorted(plain_totals.names.select(name), "api_id"))
    # A call's api_name only names its API (the names above): one tied in its millisecond loses it.
    mine, theirs = texts(calls.collect()).drop("consumer_key", "consumer_prefix", RID), plain_calls.collect()
    assert mine.drop("api_name", "request_id").equals(theirs.drop("api_name", "request_id"))


def test_a_views_ledger_keeps_categories_and_gives_the_same_totals_and_calls() -> None:
    calls = CALLS.with_row_index(RID, 1).with_columns(pl.col(RID).cast(pl.Int64))
    read = _read(calls)
    for build in (
        lambda ledger: ledger.add(calls, read),
        lambda ledger: ledger.add(calls.head(3), read).at(NOW - 2 * DAY)[0].add(calls.slice(3), read),  # moved forward
        lambda ledger: ledger.add(calls, read).settle(HORIZON + DAY, read),  # rows leaving for the totals
    ):
        views, plain = build(Ledger.empty(HORIZON - 60 * DAY, consumers=True)), build(Ledger.empty(HORIZON - 60 * DAY))
        assert views.recent.schema["api_name"] == views.recent.schema["rule"] == pl.Categorical
        assert "request_id" not in views.recent.columns
        _same_figures(views, plain, NOW)


def test_ties_of_names_in_one_millisecond_are_settled_as_rows_come_in_late_or_leave() -> None:
    at = NOW - 3 * DAY
    tied = rows(
        {"ts_ms": at, "api_name": "B", "request_id": "r5"},
        {"ts_ms": at, "api_name": "A", "request_id": "r9"},  # the greatest request id at the latest time
        {"ts_ms": at, "api_name": "C", "request_id": "r1"},
        {"ts_ms": at, "api_name": "D", "request_id": "r7", "rule": "broken"},  # not valid: never a name
        {"ts_ms": at, "api_name": None, "request_id": "rz"},  # no name
        {"ts_ms": at - 1, "api_name": "Earlier", "request_id": "s"},
        {"ts_ms": at + 1, "api_id": "b", "api_name": "Other", "request_id": "x"},
    )
    calls = tied.with_row_index(RID, 1).with_columns(pl.col(RID).cast(pl.Int64))
    read = _read(calls)
    orders = ([0, 1, 2, 3, 4, 5, 6], [2, 6, 5, 1, 3, 0, 4], [4, 0, 3, 2, 1, 6, 5], [1, 0, 2, 3, 4, 5, 6])
    for order in orders:
        for cut in range(1, 8):  # two refreshes: the second brings the rest of the millisecond, or late rows
            for move in (None, at, at + 1, NOW):  # the totals moved between them
                views, plain = Ledger.empty(HORIZON - 60 * DAY, consumers=True), Ledger.empty(HORIZON - 60 * DAY)
                first, second = calls[order[:cut]], calls[order[cut:]]
                views, plain = views.add(first, read), plain.add(first)
                if move is not None:
                    views, plain = views.at(move)[0], plain.at(move)[0]
                views, plain = views.add(second, read), plain.add(second)
                for now in (at, at + 1, NOW):
                    _same_figures(views, plain, now)
                settled = views.settle(at + 2, read), plain.settle(at + 2)
                _same_figures(*settled, NOW)
                assert settled[0].settled.names["request_id"].null_count() == 0
                late = rows(
                    {"ts_ms": at, "api_name": "Late", "request_id": "r8"},
                    {"ts_ms": at, "api_name": "Last", "request_id": "ra"},
                )
                for one in (late.head(1), late.tail(1)):  # older than the horizon now: compared with the settled name
                    one = one.with_columns(pl.lit(99, pl.Int64).alias(RID))
                    _same_figures(settled[0].add(one, read), settled[1].add(one), NOW)
