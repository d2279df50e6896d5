"""metrics/texts.py: the consumers' texts of the views' recent calls, kept apart from their keys, found by key."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from ccanalytics.metrics import texts as texts_module
from ccanalytics.metrics.consumers import KEY, keyed
from ccanalytics.metrics.texts import Texts
from ccanalytics.store import shelf as shelf_module


def test_texts_wait_on_a_shelf_in_any_order_and_are_found_by_key(monkeypatch) -> None:
    monkeypatch.setattr(texts_module, "_MAX_PENDING_TEXTS", 3)
    monkeypatch.setattr(shelf_module, "PIECE_ROWS", 2)
    schema = {"ts_ms": pl.Int64, "role": pl.String, "consumer": pl.String, "rule": pl.String}
    times = (5, 1, 9, 3, 7, 2, 8)
    rows = pl.DataFrame([(ts, "seller", f"c{ts % 5}", None) for ts in times], schema=schema, orient="row")
    texts = Texts.empty().shelved(shelf_module.shelf)
    for start in range(0, rows.height, 2):  # out of time order, in pieces
        texts = texts.plus(rows.slice(start, 2))
    assert not isinstance(texts.kept, pl.DataFrame) and texts.height == rows.height  # on the shelf, all of them
    keys = keyed(pl.DataFrame({"consumer": ["c0", "c3", "nobody"]}))[KEY]
    assert texts.of(keys)["consumer"].to_list() == ["c0", "c3", None]
    later = replace(texts.trimmed(6), found={})  # the calls before 6 settled; nothing remembered
    assert sorted(later.frame()["ts_ms"].to_list()) == [7, 8, 9]
    assert later.of(keys, start=6)["consumer"].to_list() == [None, "c3", None]  # c0 called at 5 only
