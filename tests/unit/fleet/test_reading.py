"""ccanalytics.fleet.reading: the cut, and the lake read as merged rollups before it and rows after it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccanalytics.fleet.engines import PolarsEngine
from ccanalytics.fleet.reading import cut_day, cut_start, tally_lake
from ccanalytics.metrics.ledger import REACH_MS
from ccanalytics.units import DAY_MS, iso_utc

from .conftest import NOW

if TYPE_CHECKING:
    from pathlib import Path


def test_the_cut_is_the_midnight_of_its_day_and_lies_before_every_window() -> None:
    start = cut_start(NOW, REACH_MS)
    assert iso_utc(start).startswith(cut_day(NOW, REACH_MS)) and start % DAY_MS == 0
    assert start <= NOW - REACH_MS - DAY_MS < start + DAY_MS
    assert cut_day(NOW, 0) == "2026-11-24"


def test_old_calls_come_merged_and_recent_calls_as_rows(lake: Path) -> None:
    t = tally_lake(PolarsEngine(), lake, NOW)
    old = t.tallies.select("node", "role", "api_id", "calls", "success").rows()
    assert old == [("alpha", "seller", "weather", 1, 1)]
    assert sorted(t.recent["request_id"].to_list()) == ["a-1", "a-2", "b-1", "b-2"]
    assert set(t.firsts["node"].to_list()) == {"alpha"} and t.names.height == t.sketch.height == 1


def test_nothing_is_read_at_or_after_now(lake: Path) -> None:
    t = tally_lake(PolarsEngine(), lake, NOW - 2 * 3_600_000)
    assert t.recent["request_id"].to_list() == ["b-2"]
