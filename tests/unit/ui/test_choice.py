"""ccanalytics.ui.choice: the view a URL asks for, and the URL of a view."""

from __future__ import annotations

import pytest

from ccanalytics.ui.choice import OVERVIEW, PERIODS, RANGE_CHOICES, WINDOWS, ViewChoice


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ViewChoice()),
        (None, ViewChoice()),
        ("range=7d", ViewChoice("7d")),
        ("range=90d&role=seller&api=a%20b", ViewChoice("90d", "seller", "a b")),
        ("range=2y&role=root", ViewChoice()),
        ("api=" + "x" * 201, ViewChoice()),
        ("range=24h&range=7d", ViewChoice("24h")),
    ],
)
def test_a_query_opens_its_view_and_unknown_values_are_ignored(query: str | None, expected: ViewChoice) -> None:
    assert ViewChoice.from_query(query) == expected


@pytest.mark.parametrize("choice", [ViewChoice(), ViewChoice("1h"), ViewChoice("30d", "buyer", "ü/&=?")])
def test_the_query_of_a_view_opens_the_same_view(choice: ViewChoice) -> None:
    assert ViewChoice.from_query(choice.query()) == choice


def test_every_range_but_the_overview_names_its_window_and_the_period_before() -> None:
    ranged = [value for _, value in RANGE_CHOICES if value != OVERVIEW]
    assert ranged == ["1h", "24h", "7d", "30d", "90d"]
    assert set(PERIODS) == set(WINDOWS) == set(ranged)


def test_a_ranged_view_shows_only_once_the_snapshot_holds_it() -> None:
    choice = ViewChoice("7d", api="a")
    assert not choice.shows({"view": {"range": "7d", "api": None}})
    assert not choice.shows({})
    assert choice.shows({"view": {"range": "7d", "api": "a"}})
    assert ViewChoice().shows({}) and ViewChoice().snapshot_args() == {}
    assert choice.snapshot_args() == {"range": "7d", "api": "a"}
