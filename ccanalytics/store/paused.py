"""Python's cycle collector paused while a warm refresh runs: its rows are freed by their counts.

A refresh reads ~1,000 rows as Python tuples (SQLite's ``fetchall``) and
builds a few dozen small frames; those allocations trigger a young
collection of Python's cycle collector in most refreshes (about 1.2 ms on
the 10 M-call store, docs/performance.md, "Fifth wave"), which only walks
objects that are freed by their reference counts moments later.  Paused for
the refresh, the collector has nothing left to walk once it resumes: the
count it starts from is the objects that outlived the refresh.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["collector_paused"]


@contextmanager
def collector_paused(pause: bool = True) -> Iterator[None]:
    """Python's cycle collector off inside the block (when ``pause``), as it was after it.

    A collector already off (the caller's choice) stays off.

    Examples
    --------
    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    paused = pause and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
