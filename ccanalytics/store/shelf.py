"""Frames kept on disk instead of in memory until they are read again (``metrics.quarters.Kept``).

A day range's history reads the settled seller calls (one row per call: 1.6 M
rows, 69 MB on a ten-million-call store) only when it is built, every few
hours.  Between builds they wait in a temporary file in the cache folder (or
the system's temporary folder), unlinked at once so that nothing else sees or
removes it.  The file holds the frame as pieces of Arrow IPC, read back one
at a time and only the columns asked: reading holds the frame plus one piece,
and what is read back is exactly what was put.  When no file can be written
the frame stays in memory.
"""

from __future__ import annotations

import io
import os
import tempfile
import weakref
from pathlib import Path
from typing import IO

import polars as pl

from ccanalytics.allocator import trim
from ccanalytics.store.cache import cache_dir

__all__ = ["PIECE_ROWS", "OnDisk", "shelf"]

PIECE_ROWS = 131_072  # rows per piece of the file (about 6 MB of seller calls)


class OnDisk:
    """A frame written to an unlinked temporary file in pieces; ``frame`` reads them back."""

    def __init__(self, frame: pl.DataFrame, file: IO[bytes]) -> None:
        self._pieces: list[tuple[int, int]] = []  # (offset, size) of each piece
        offset = 0
        for start in range(0, frame.height, PIECE_ROWS):
            buffer = io.BytesIO()
            frame.slice(start, PIECE_ROWS).write_ipc(buffer, compression="uncompressed")
            file.write(buffer.getbuffer())
            self._pieces.append((offset, buffer.tell()))
            offset += buffer.tell()
        file.flush()
        trim()
        self._fd = file.fileno()
        weakref.finalize(self, file.close)  # its space is freed when this is collected
        self.height = frame.height
        self._schema = frame.schema

    def frame(self, columns: list[str] | None = None) -> pl.DataFrame:
        """The frame (only ``columns`` when given), read back piece by piece."""
        names = list(self._schema) if columns is None else columns
        frames = [pl.DataFrame(schema={name: self._schema[name] for name in names})]
        for offset, size in self._pieces:
            frames.append(pl.read_ipc(os.pread(self._fd, size, offset), columns=names))
        trim()  # the pieces' bytes came from glibc's heap (its threshold rises with them): given back
        return pl.concat(frames, rechunk=False)


def shelf(frame: pl.DataFrame) -> pl.DataFrame | OnDisk:
    """``frame`` on disk (see ``OnDisk``), or ``frame`` itself when no temporary file can be written.

    Examples
    --------
    >>> frame = pl.DataFrame({"ts_ms": [1, 2], "key": pl.Series([7, 8], dtype=pl.UInt64)})
    >>> kept = shelf(frame)
    >>> kept.frame().equals(frame), kept.frame(["key"])["key"].to_list(), kept.height
    (True, [7, 8], 2)
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
