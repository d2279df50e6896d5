"""metrics/recent.py: the views' recent rows keep few-valued texts as categories, and give the same figures."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from ccanalytics.metrics.ledger import Ledger
from ccanalytics.metrics.recent import AS_CATEGORIES, compact, like, texts
from tests.unit.metrics.test_ledger import CALLS, HORIZON, NOW, _sorted

DAY = 86_400_000


def test_texts_and_like_undo_each_other() -> None:
    rows = CALLS.select("ts_ms", "api_name", "rule")
    kept = like(rows, pl.Schema(compact(dict(rows.schema))))
    assert [kept.schema[c] for c in AS_CATEGORIES] == [pl.Categorical, pl.Categorical]
    assert_frame_equal(texts(kept), rows)
    assert texts(rows) is rows and like(rows, rows.schema) is rows  # nothing to do: the same frame


def test_a_views_ledger_keeps_categories_and_gives_the_same_totals_and_calls() -> None:
    for build in (
        lambda ledger: ledger.add(CALLS),
        lambda ledger: ledger.add(CALLS.head(3)).at(NOW - 2 * DAY)[0].add(CALLS.slice(3)),  # moved forward
        lambda ledger: ledger.add(CALLS).settle(HORIZON + DAY),  # rows leaving for the totals
    ):
        views, plain = build(Ledger.empty(HORIZON - 60 * DAY, consumers=True)), build(Ledger.empty(HORIZON - 60 * DAY))
        assert views.recent.schema["api_name"] == views.recent.schema["rule"] == pl.Categorical
        (_, calls, totals), (_, plain_calls, plain_totals) = views.at(NOW), plain.at(NOW)
        for mine, theirs in zip(
            (totals.tallies, totals.names, totals.issues),
            (plain_totals.tallies, plain_totals.names, plain_totals.issues),
            strict=True,
        ):
            assert_frame_equal(_sorted(mine, *mine.columns[:1]), _sorted(theirs, *theirs.columns[:1]))
        assert texts(calls.collect()).drop("consumer_key", "consumer_prefix").equals(plain_calls.collect())
