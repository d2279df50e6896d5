"""Frames kept out of memory: what a shelf (``store.shelf``) gives back, as the pure modules see it.

Pure typing, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import polars as pl

__all__ = ["Kept", "Shelf"]


class Kept(Protocol):
    """A frame kept out of memory (see ``store.shelf``) until ``frame`` reads it back."""

    height: int

    def frame(self, columns: list[str] | None = None) -> pl.DataFrame:
        """The frame (only ``columns`` when given), read back."""
        ...

    def pieces(
        self, columns: list[str] | None = None, start: int | None = None, end: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """The frame in pieces (at least one), one at a time; any with no ``ts_ms`` in ``[start, end)`` skippable."""
        ...

    def appended(self, frames: Sequence[pl.DataFrame], in_order: bool = True) -> Kept | None:
        """The frame with ``frames`` (in time order after it, unless not ``in_order``) added, not read back.

        None when it cannot.
        """
        ...


# Puts a frame out of memory (or gives it back when it cannot).
Shelf = Callable[[pl.DataFrame], "pl.DataFrame | Kept"]
