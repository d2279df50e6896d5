"""Frames kept on disk instead of in memory until they are read again (``metrics.quarters.Kept``).

A day range's history reads the settled seller calls (one row per call: 1.6 M
rows, 69 MB on a ten-million-call store) only when it is built, every few
hours.  Between builds they wait in a temporary file in the cache folder (or
the system's temporary folder), unlinked at once so that nothing else sees or
removes it.  The file holds the frame as pieces of Arrow IPC, read back one
at a time and only the columns asked: ``pieces`` holds one piece at a time
(a build filters each before it keeps anything), ``frame`` the frame plus one
piece; what is read back is exactly what was put.  Rows in time order are
``appended`` as new pieces at the file's end, without reading the others back
(a first read adds its settled seller calls so).  When no file can be written
the frame stays in memory.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import weakref
from pathlib import Path
from typing import IO, TYPE_CHECKING

import polars as pl

from ccanalytics.allocator import trim
from ccanalytics.store.cache import cache_dir

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["PIECE_ROWS", "OnDisk", "shelf"]

PIECE_ROWS = 131_072  # rows per piece of the file (about 6 MB of seller calls)
ORDER = "ts_ms"  # the column whose order ``appended`` keeps, and whose bounds let ``pieces`` skip a piece


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


class _File:
    """The unlinked file that one or more ``OnDisk`` share: it only grows, so no piece is ever overwritten."""

    def __init__(self, file: IO[bytes]) -> None:
        self.fd, self.end, self.lock = file.fileno(), 0, threading.Lock()
        weakref.finalize(self, file.close)  # its space is freed when no ``OnDisk`` refers to it

    def write(self, frame: pl.DataFrame) -> list[tuple[int, int, int | None, int | None]]:
        """``frame`` written at the file's end in pieces: their offset, size and bounds of ``ORDER``."""
        pieces = []
        for start in range(0, frame.height, PIECE_ROWS):
            part = frame.slice(start, PIECE_ROWS)
            buffer = io.BytesIO()
            part.write_ipc(buffer, compression="uncompressed")
            with self.lock:
                offset, self.end = self.end, self.end + buffer.tell()
            os.pwrite(self.fd, buffer.getbuffer(), offset)
            low, high = (part[ORDER].min(), part[ORDER].max()) if ORDER in part.columns else (None, None)
            pieces.append((offset, buffer.tell(), _int(low), _int(high)))
        trim()
        return pieces


class OnDisk:
    """A frame written to an unlinked temporary file in pieces; ``frame`` and ``pieces`` read them back."""

    def __init__(self, frame: pl.DataFrame, file: IO[bytes] | _File) -> None:
        self._file = file if isinstance(file, _File) else _File(file)
        self._pieces = self._file.write(frame)
        self.height = frame.height
        self._schema = frame.schema

    def pieces(
        self, columns: list[str] | None = None, start: int | None = None, end: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """The frame's pieces in order, one at a time (only ``columns``), after an empty one of those columns.

        With ``start`` and ``end``, pieces with no ``ORDER`` value in
        ``[start, end)`` are skipped (the others come whole).
        """
        names = list(self._schema) if columns is None else columns
        yield pl.DataFrame(schema={name: self._schema[name] for name in names})
        for offset, size, low, high in self._pieces:
            if (end is not None and low is not None and low >= end) or (
                start is not None and high is not None and high < start
            ):
                continue
            yield pl.read_ipc(os.pread(self._file.fd, size, offset), columns=names)
        trim()  # the pieces' bytes came from glibc's heap (its threshold rises with them): given back

    def frame(self, columns: list[str] | None = None) -> pl.DataFrame:
        """The frame (only ``columns`` when given), read back piece by piece."""
        return pl.concat(list(self.pieces(columns)), rechunk=False)

    def appended(self, frames: Sequence[pl.DataFrame], in_order: bool = True) -> OnDisk | None:
        """The frame with ``frames`` after it, their rows written at the file's end; None unless in ``ORDER``.

        In order: each of ``frames`` sorted by ``ORDER``, none starting before
        the one before ends (this frame first); without ``in_order``, in any
        order (``pieces`` still skips by each piece's bounds).  This ``OnDisk``
        is unchanged.
        """
        frames = [f for f in frames if f.height]
        if ORDER not in self._schema or any(dict(f.schema) != dict(self._schema) for f in frames):
            return None
        last = next((high for *_, high in reversed(self._pieces) if high is not None), None)
        for f in frames if in_order else ():
            times = f[ORDER]
            if times.null_count() or not times.is_sorted() or (last is not None and times[0] < last):
                return None
            last = times[-1]
        more = OnDisk.__new__(OnDisk)
        more._file, more._schema = self._file, self._schema
        groups: list[list[pl.DataFrame]] = [[]]  # small frames written together: fewer, fuller pieces
        for f in frames:
            if groups[-1] and sum(g.height for g in groups[-1]) + f.height > PIECE_ROWS:
                groups.append([])
            groups[-1].append(f)
        try:
            more._pieces = [*self._pieces, *(p for g in groups if g for p in self._file.write(pl.concat(g)))]
        except OSError:  # the disk is full, say: the caller keeps the frame some other way
            return None
        more.height = self.height + sum(f.height for f in frames)
        return more


def shelf(frame: pl.DataFrame) -> pl.DataFrame | OnDisk:
    """``frame`` on disk (see ``OnDisk``), or ``frame`` itself when no temporary file can be written.

    Examples
    --------
    >>> frame = pl.DataFrame({"ts_ms": [1, 2], "key": pl.Series([7, 8], dtype=pl.UInt64)})
    >>> kept = shelf(frame)
    >>> kept.frame().equals(frame), kept.frame(["key"])["key"].to_list(), kept.height
    (True, [7, 8], 2)
    >>> more = kept.appended([pl.DataFrame({"ts_ms": [2, 5], "key": pl.Series([9, 1], dtype=pl.UInt64)})])
    >>> more.frame()["ts_ms"].to_list(), [p.height for p in more.pieces(start=3, end=9)], kept.height
    ([1, 2, 2, 5], [0, 2], 2)
    """
    for folder in (cache_dir(), Path(tempfile.gettempdir())):
        if folder is None:
            continue
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return OnDisk(frame, tempfile.TemporaryFile(dir=folder, prefix=".ccanalytics-"))
        except OSError:
            continue
    return frame
