"""``ccanalytics.store``: ``open_store`` is the way in, and gives a :class:`Store`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import ccanalytics.store as store_package
from ccanalytics.errors import StoreError
from ccanalytics.store.store import Store, open_store
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

NOW_MS = 1_795_608_000_000  # 2026-11-25 ~12:00 UTC


def test_the_public_names_are_the_store_modules() -> None:
    assert store_package.__all__ == ["Store", "open_store"]
    assert (store_package.Store, store_package.open_store) == (Store, open_store)


def test_open_store_reads_a_store_into_a_snapshot(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    builder = StoreBuilder(path).api("w", "Weather")
    builder.call(NOW_MS - 3_600_000, role="seller", api_id="w", price_micro=1_000, revenue_micro=950)
    builder.write()
    with store_package.open_store(path) as opened:
        assert isinstance(opened, Store)
        snapshot = opened.snapshot(now=NOW_MS).to_dict()
    assert snapshot["mode"] == "seller"
    assert snapshot["seller"]["calls_24h"] == 1


def test_a_missing_store_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as raised:
        store_package.open_store(tmp_path / "nowhere.db")
    assert "\n" not in str(raised.value)
    assert "nowhere.db" in str(raised.value)
