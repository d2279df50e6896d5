"""ccanalytics.ui.url: a URL opens its view, and a visitor's own choice wins over a late query."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ccanalytics.ui.choice import ViewChoice
from ccanalytics.ui.url import UrlState, apply_query, follow_url
from ccanalytics.ui.views import ViewControls

if TYPE_CHECKING:
    import pytest


def _dashboard() -> Any:
    asked: list[str] = []
    choice = ViewChoice()
    board = SimpleNamespace(view=choice, controls=ViewControls(choice), _chosen_role=None, asked=asked)
    board._show_role = lambda: asked.append("show")
    board.refresher = SimpleNamespace(request_refresh=lambda: asked.append("refresh"))
    return board


def test_a_query_shows_its_view_and_asks_for_its_snapshot() -> None:
    board = _dashboard()
    apply_query(board, "range=7d&role=seller&api=a")
    assert board.view == ViewChoice("7d", "seller", "a") and board._chosen_role == "seller"
    assert board.controls.range.value == "7d" and board.controls.api.value == "a"
    assert board.asked == ["show", "refresh"] and board.controls.resend == 2


def test_the_default_query_shows_the_overview_without_a_refresh() -> None:
    board = _dashboard()
    apply_query(board, "")
    assert board.view == ViewChoice() and board.asked == ["show"]


def test_a_visitor_who_picked_a_view_keeps_it() -> None:
    board = _dashboard()
    board.controls.range.value = "24h"
    assert board.controls.touched
    apply_query(board, "range=90d")
    assert board.view.range == "overview" and board.asked == []


def test_without_a_preheated_kernel_the_query_is_read_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOILA_PREHEAT", raising=False)
    monkeypatch.setenv("QUERY_STRING", "range=1h")
    board = _dashboard()
    follow_url(board)
    assert board.view.range == "1h"


def test_the_url_widget_holds_the_query() -> None:
    assert UrlState(query="range=7d").query == "range=7d"
