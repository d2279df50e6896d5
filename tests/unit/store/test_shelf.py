"""``store.shelf``: frames kept in an unlinked temporary file, read back exactly, piece by piece."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING

import polars as pl
from polars.testing import assert_frame_equal

from ccanalytics.store import shelf as shelf_module
from ccanalytics.store.shelf import OnDisk, shelf

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

FRAME = pl.DataFrame(
    {
        "ts_ms": [3, 1, 2, None, 5],
        "key": pl.Series([2**64 - 1, 0, 7, 8, 9], dtype=pl.UInt64),
        "api_id": pl.Series(["a", "b", None, "a", "c"], dtype=pl.Categorical),
        "micro": pl.Series([2**100, -1, 0, 5, None], dtype=pl.Int128),
    }
)


def test_a_frame_comes_back_exactly_in_pieces_and_by_columns(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shelf_module, "PIECE_ROWS", 2)
    kept = shelf(FRAME)
    assert isinstance(kept, OnDisk) and kept.height == 5
    assert_frame_equal(kept.frame(), FRAME)
    assert_frame_equal(kept.frame(["micro", "key"]), FRAME.select("micro", "key"))
    assert list(tmp_path.iterdir()) == []  # unlinked at once: nothing to clean up, nothing anyone can remove
    empty = shelf(FRAME.clear())
    assert_frame_equal(empty.frame(), FRAME.clear())


def test_without_a_writable_folder_the_frame_stays_in_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError("read-only")

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    assert shelf(FRAME) is FRAME
