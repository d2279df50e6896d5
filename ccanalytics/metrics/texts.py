"""The texts of the consumers of the views' recent calls, kept out of memory beside their keys.

The views' ledger keeps a consumer in its recent rows as a 64-bit key and its
first 8 bytes (``consumers.keyed``): 16 bytes instead of its text, a
64-character hex digest (80 bytes in polars).  A view shows ten consumers'
texts (``top_consumers``): ``Texts`` keeps every recent seller call's text on
a shelf (``store.shelf``, the settled seller calls' too), found by key and
remembered.  Without a shelf (or when no file can be written) the texts stay
in memory.

Pure polars; the store gives the shelf.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import chain
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.metrics.consumers import KEY, text_key

if TYPE_CHECKING:
    from ccanalytics.metrics.quarters import Kept, Shelf

__all__ = ["Texts"]

_TEXTS = {"ts_ms": pl.Int64, KEY: pl.UInt64, "consumer": pl.String}
_MAX_PENDING_TEXTS = 16_384  # texts kept in memory, at most, before they join the shelf's


@dataclass(frozen=True)
class Texts:
    """The texts of the consumers of a ledger's recent seller calls, by key, on a ``shelf`` when there is one."""

    kept: pl.DataFrame | Kept  # ts_ms, consumer_key, consumer
    pending: tuple[pl.DataFrame, ...] = ()
    shelf: Shelf | None = None
    found: dict[int, str] = field(default_factory=dict, compare=False)  # texts looked up lately, by key

    @classmethod
    def empty(cls, shelf: Shelf | None = None) -> Texts:
        return cls(pl.DataFrame(schema=_TEXTS), shelf=shelf)

    @classmethod
    def of_rows(cls, rows: pl.LazyFrame | pl.DataFrame) -> Texts:
        """The texts of these valid calls' consumers (none when the rows are keyed already)."""
        frame = rows.lazy()
        if "consumer" not in frame.collect_schema().names():
            return cls.empty()
        return cls.empty().plus(frame.with_columns(rule=pl.lit(None, pl.String)).collect())

    @property
    def height(self) -> int:
        return self.kept.height + sum(p.height for p in self.pending)

    def plus(self, rows: pl.DataFrame) -> Texts:
        """With the texts of more call rows (with ``consumer``; only valid seller calls with one are kept).

        Examples
        --------
        >>> rows = pl.DataFrame({"ts_ms": [1, 2], "role": ["seller", "buyer"], "consumer": ["c", "d"],
        ...     "rule": [None, None]})
        >>> from ccanalytics.metrics.consumers import keyed
        >>> texts = Texts.empty().plus(rows)
        >>> texts.of(keyed(rows)[KEY])["consumer"].to_list(), texts.height     # d: a buyer's
        (['c', None], 1)
        """
        if rows.is_empty() or rows["consumer"].null_count() == rows.height:  # no consumer: no query
            return self
        mine = (pl.col("role") == "seller") & pl.col("consumer").is_not_null() & pl.col("rule").is_null()
        piece = rows.lazy().filter(mine).select("ts_ms", text_key().alias(KEY), "consumer").collect()
        if piece.is_empty():
            return self
        more = replace(self, pending=(*self.pending, piece), found=self.found)
        return more.shelved() if sum(p.height for p in more.pending) >= _MAX_PENDING_TEXTS else more

    def shelved(self, shelf: Shelf | None = None) -> Texts:
        """The same with the pending texts joined to the kept ones (on ``shelf`` from now on, when given)."""
        shelf = shelf or self.shelf
        if not self.pending and (shelf is None or not isinstance(self.kept, pl.DataFrame)):
            return replace(self, shelf=shelf, found=self.found)
        kept = self.kept
        appended = None if isinstance(kept, pl.DataFrame) else kept.appended(self.pending, in_order=False)
        if appended is not None:
            return Texts(appended, (), shelf, self.found)
        frame = pl.concat([self._frame(), *self.pending], rechunk=True)
        return Texts(frame if shelf is None else shelf(frame), (), shelf, self.found)

    def _frame(self) -> pl.DataFrame:
        return self.kept if isinstance(self.kept, pl.DataFrame) else self.kept.frame()

    def trimmed(self, horizon: int) -> Texts:
        """Without the texts of calls before ``horizon`` (the rows the ledger settled)."""
        every = self.shelved()
        frame = every._frame()
        times = frame["ts_ms"]
        if frame.is_empty() or times.min() >= horizon:  # type: ignore[operator]
            return every
        left = frame.filter(pl.col("ts_ms") >= horizon)
        return Texts(left if self.shelf is None else self.shelf(left), (), self.shelf, self.found)

    def frame(self) -> pl.DataFrame:
        """Every text kept (``ts_ms``, ``consumer_key``, ``consumer``), read back."""
        return pl.concat([self._frame(), *self.pending])

    def of(self, keys: pl.Series, start: int | None = None) -> pl.DataFrame:
        """``key``, ``consumer``: the text of each of these consumers' keys (null: none kept), read back.

        ``start``: each of them has a call from then on (pieces before it need no reading).
        """
        wanted = [k for k in keys.drop_nulls().unique().to_list() if k not in self.found]
        if wanted:
            asked = pl.Series(wanted, dtype=pl.UInt64).implode()
            pieces = [self.kept] if isinstance(self.kept, pl.DataFrame) else self.kept.pieces(None, start, None)
            mine = pl.col(KEY).is_in(asked)
            hits = [piece.filter(mine) for piece in chain(pieces, self.pending)]  # one piece read at a time
            got = pl.concat(hits).unique(KEY)
            self.found.update(zip(got[KEY].to_list(), got["consumer"].to_list(), strict=True))
            if len(self.found) > 4 * _MAX_FOUND:  # only the latest few are worth remembering
                for key in list(self.found)[:-_MAX_FOUND]:
                    del self.found[key]
        known = pl.DataFrame(
            {"key": list(self.found), "consumer": list(self.found.values())},
            schema={"key": pl.UInt64, "consumer": pl.String},
        )
        return pl.DataFrame({"key": keys}).join(known, on="key", how="left", maintain_order="left")


_MAX_FOUND = 256
