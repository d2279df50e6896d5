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


def test_rows_in_time_order_are_appended_without_reading_the_rest_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(shelf_module, "PIECE_ROWS", 2)
    first = pl.DataFrame({"ts_ms": [1, 2, 4], "key": pl.Series([5, 6, 7], dtype=pl.UInt64)})
    later = [first.with_columns(pl.col("ts_ms") + 3), first.with_columns(pl.col("ts_ms") + 9)]  # 4, 5, 7 / 10, 11, 13
    kept = shelf(first)
    assert isinstance(kept, OnDisk)
    read, read_ipc = [], pl.read_ipc
    monkeypatch.setattr(pl, "read_ipc", lambda *a, **k: read.append(1) or read_ipc(*a, **k))
    more = kept.appended(later)
    assert more is not None and more.height == 9 and read == []  # nothing read back to append
    assert_frame_equal(more.frame(), pl.concat([first, *later]))
    assert_frame_equal(kept.frame(), first)  # the first is unchanged, and its file shared
    # Pieces whose times all lie outside [start, end) are skipped; the first, empty, gives the columns.
    got = list(more.pieces(["ts_ms"], start=6, end=11))
    assert got[0].is_empty() and got[0].columns == ["ts_ms"]
    assert pl.concat(got)["ts_ms"].to_list() == [7, 10, 11]  # of pieces [1, 2] [4] [4, 5] [7] [10, 11] [13]
    # Out of order (or unsorted, or another shape): None, and the caller merges.
    assert more.appended([first]) is None
    assert kept.appended([pl.DataFrame({"ts_ms": [9, 8], "key": pl.Series([1, 2], dtype=pl.UInt64)})]) is None
    assert kept.appended([pl.DataFrame({"ts_ms": [9]})]) is None
    # Another branch appended to the same file never overwrites the first's pieces.
    other = kept.appended([first.with_columns(pl.col("ts_ms") + 100)])
    assert other is not None
    assert_frame_equal(more.frame(), pl.concat([first, *later]))
    assert other.frame()["ts_ms"].to_list() == [1, 2, 4, 101, 102, 104]
