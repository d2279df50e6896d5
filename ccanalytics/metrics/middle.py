"""The consumers of a day range's fixed middle (``history``), for every API or for one.

A day range's window is its fixed middle plus edges (see ``history``).  For
``consumers``, ``top_consumers`` and ``new_consumers`` the middle keeps, per
consumer (with one API: per (consumer, api_id)), its calls and revenue there
as a table sorted by 64-bit key, the middle's ten top consumers, and each
consumer's first seller call before the history was built.  A refresh then
looks up only the consumers of the edges' calls:

- ``consumers``: the middle's plus those of the edges it does not have;
- ``top_consumers``: the edges only *add* calls and revenue to a consumer, so
  the window's ten top consumers are among the middle's ten and the edges'
  consumers (with the middle's figures added);
- ``new_consumers``: first calls can only move earlier, so the count is the
  first calls before the build that lie in the window (a binary search),
  corrected for the consumers of the calls since the build (and late ones).

Pure polars, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.metrics.consumers import (
    FirstSeen,
    api_key,
    consumer_key,
    consumer_prefix,
    keyed,
    pair_keys,
    ranked,
)
from ccanalytics.metrics.texts import Texts
from ccanalytics.metrics.views import TOP_CONSUMERS, usdc_texts

if TYPE_CHECKING:
    from ccanalytics.metrics.past import Past

__all__ = ["MiddleConsumers", "consumer_texts", "per_consumer", "sellers"]

_TOP_BY, _TOP_DESCENDING = ["micro", "calls", "consumer"], [True, True, False]
RANGE_ROWS = 262_144  # about how many calls a build sums at once (see ``_summed_by_keys``)


def sellers(calls: pl.LazyFrame) -> pl.LazyFrame:
    """The seller calls that have a consumer (keyed: ``consumers.keyed``)."""
    return keyed(calls).filter((pl.col("role") == "seller") & consumer_key().is_not_null())


def _key(api: str | None) -> pl.Expr:
    return consumer_key() if api is None else api_key()


def per_consumer(calls: pl.LazyFrame, api: str | None) -> pl.LazyFrame:
    """Per consumer of the seller calls: ``key``, ``prefix``, ``calls``, ``micro`` (Σ ``revenue_micro``).

    With ``api``, only that API's calls, keyed per (consumer, api_id).

    Examples
    --------
    >>> calls = pl.LazyFrame({"role": ["seller", "seller", "buyer"], "api_id": ["a"] * 3,
    ...     "consumer": ["c", "c", "c"], "revenue_micro": [1, 2, 5]})
    >>> per_consumer(calls, None).select("calls", "micro").collect().rows()
    [(2, 3)]
    """
    mine = sellers(calls) if api is None else sellers(calls).filter(pl.col("api_id") == api)
    return mine.group_by(key=_key(api)).agg(
        prefix=consumer_prefix().first(),
        calls=pl.len().cast(pl.Int64),
        micro=pl.col("revenue_micro").cast(pl.Int128).sum(),
    )


def _found(keys: pl.Series, table: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """For each key, whether ``table`` (sorted by ``key``) has it, and at which row (clipped)."""
    if table.is_empty() or keys.is_empty():
        return pl.Series([False] * keys.len(), dtype=pl.Boolean), pl.Series([0] * keys.len(), dtype=pl.UInt32)
    at = table["key"].search_sorted(keys).clip(upper_bound=table.height - 1)
    return table["key"].gather(at) == keys, at


def _pick(table: pl.DataFrame, column: str, found: pl.Series, at: pl.Series, fill: int | None) -> pl.Series:
    """``table[column]`` at the rows ``at`` where ``found``, else ``fill``."""
    if table.is_empty():
        return pl.Series(column, [fill] * found.len(), dtype=table.schema[column])
    return pl.select(pl.when(found).then(table[column].gather(at)).otherwise(fill)).to_series()


def _summed(parts: list[pl.LazyFrame]) -> pl.DataFrame:
    """Rows of ``key``, ``calls``, ``micro``, ``prefix`` summed per key, sorted by key.

    Sorted first and grouped in order: the groups are runs of the sorted
    keys, not a hash table over millions of them (that held several times the
    table at once).  Revenue is summed in 64 bits when no sum can overflow them.
    """
    sizes = pl.collect_all(
        [p.select(most=pl.col("micro").abs().max().cast(pl.Float64), calls=pl.col("calls").sum()) for p in parts]
    )
    calls = sum(int(size["calls"].item() or 0) for size in sizes)
    most = max(float(size["most"].item() or 0) for size in sizes)
    money = pl.Int64 if most * calls < 2**62 else pl.Int128
    counts = pl.UInt32 if calls < 2**32 else pl.Int64
    rows = pl.concat(
        [p.select("key", pl.col("calls").cast(counts), pl.col("micro").cast(money), "prefix") for p in parts]
    )
    return (
        rows.sort("key")
        .group_by("key", maintain_order=True)
        .agg(pl.col("calls", "micro").sum(), pl.col("prefix").first())
        .collect()
    )


def _narrow(table: pl.DataFrame) -> pl.DataFrame:
    """``key`` with ``calls`` and ``micro`` in the narrowest integers that hold them."""
    return table.select("key").with_columns(table["calls"].shrink_dtype(), table["micro"].shrink_dtype())


def _summed_by_keys(
    recent: pl.DataFrame, past: Past, middle: tuple[int, int], api: str | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """As ``_summed`` of ``recent`` (summed per key) and the settled calls of ``middle``, narrowed; and ``_ranked``'s.

    Summed one range of keys at a time, each read from the settled calls'
    pieces filtered before they are put together: only one range's rows,
    sort and groups are held at once, never all the middle's calls (1.6 M
    on a ten-million-call store's 90 days).  The ranges in key order make the
    sorted table, and the ten first of all are among the ten first (and
    ties) of each range.
    """
    ranges = max(1, -(-(recent.height + past.quarters.sellers.height) // RANGE_ROWS))
    step, key = 2**64 // ranges, pl.col("key")
    tables, ranks = [], []
    for i in range(ranges):
        high = 2**64 - 1 if i == ranges - 1 else (i + 1) * step - 1
        inside = key.is_between(pl.lit(i * step, pl.UInt64), pl.lit(high, pl.UInt64))
        summed = _summed([recent.lazy().filter(inside), past.sellers(*middle, api, keys=inside)])
        ranks.append(ranked(summed, TOP_CONSUMERS))
        tables.append(_narrow(summed))
        del summed
    table = pl.concat(tables, how="vertical_relaxed", rechunk=True)
    return table, ranked(pl.concat(ranks, how="vertical_relaxed"), TOP_CONSUMERS)


def consumer_texts(
    keys: pl.Series, api: str | None, texts: Texts, past: Past | None, span: tuple[int, int]
) -> pl.DataFrame:
    """``key`` -> ``consumer``: the texts of these consumers (with ``api``: of these pairs' consumers).

    From the ledger's ``texts`` of its recent calls, else read back from
    ``past`` (a settled seller call in ``span`` of each); remembered in
    ``texts`` either way.
    """
    consumers = keys if api is None else pair_keys(keys, api)
    found = texts.of(consumers, start=span[0]).with_columns(key=keys)
    missing = found.filter(pl.col("consumer").is_null())
    if missing.is_empty() or past is None:
        return found
    read = past.texts(past.times(missing["key"], *span, api), api).drop_nulls()
    pairs = pl.DataFrame({"key": keys, "asked": consumers}).join(read, on="key")
    texts.found.update(zip(pairs["asked"].to_list(), pairs["consumer"].to_list(), strict=True))
    return found.join(read.rename({"consumer": "text"}), on="key", how="left").select(
        "key", consumer=pl.coalesce("consumer", "text")
    )


def _top(ranks: pl.DataFrame, texts: Texts, past: Past | None, span: tuple[int, int], api: str | None) -> pl.DataFrame:
    """The ten top consumers of ``ranks`` (``ranked``'s: ``key``, ``calls``, ``micro``, ``prefix``), with their texts.

    Rows that already have a ``consumer`` keep it; the others' texts are
    found (``consumer_texts``).
    """
    if "consumer" not in ranks.columns:
        ranks = ranks.with_columns(consumer=pl.lit(None, pl.String))
    missing = ranks.filter(pl.col("consumer").is_null())
    if not missing.is_empty():
        found = consumer_texts(missing["key"], api, texts, past, span).rename({"consumer": "text"})
        ranks = ranks.join(found, on="key", how="left").with_columns(consumer=pl.coalesce("consumer", "text"))
    return ranks.sort(_TOP_BY, descending=_TOP_DESCENDING).head(TOP_CONSUMERS)


@dataclass(frozen=True)
class MiddleConsumers:
    """The middle's consumers (of every API or one), their top ten, and everyone's first call before the build."""

    api: str | None
    table: pl.DataFrame  # key, calls, micro: per consumer of the middle, sorted by key (the narrowest integers)
    top: pl.DataFrame  # key, prefix, consumer, calls, micro: the middle's top ten
    firsts: pl.DataFrame  # key, ts_ms: each consumer's first seller call in the rows (horizon to build), by key
    fresh: pl.Series  # the first calls ever from `since` to the middle's start, sorted
    later: int  # how many first calls ever lie from the middle's start to the build

    @classmethod
    def of(
        cls,
        calls: pl.LazyFrame,
        seen: FirstSeen,
        *,
        middle: tuple[int, int],
        since: int,
        api: str | None,
        past: Past | None = None,
        texts: Texts | None = None,
    ) -> MiddleConsumers:
        """From the valid calls before the build (since the ledger's horizon) and the first calls before that.

        ``middle`` is the window's fixed middle; ``since`` the earliest start a
        window may have; ``past``: the settled seller calls (before the
        horizon), when the middle reaches before it; ``texts``: of the
        consumers of ``calls`` (keyed), when ``calls`` do not have them.

        Examples
        --------
        >>> calls = pl.LazyFrame({"ts_ms": [5, 15, 25], "role": ["seller"] * 3, "api_id": ["a"] * 3,
        ...     "consumer": ["c", "d", "c"], "revenue_micro": [1, 2, 4]})
        >>> m = MiddleConsumers.of(calls, FirstSeen.empty(), middle=(10, 30), since=4, api=None)
        >>> m.top.select("consumer", "calls", "micro").rows(), m.fresh.to_list(), m.later
        ([('c', 1, 4), ('d', 1, 2)], [5], 1)
        """
        texts = Texts.of_rows(calls) if texts is None else texts
        ts = pl.col("ts_ms")
        in_middle = ts.is_between(*middle, closed="left")
        mine = sellers(calls) if api is None else sellers(calls).filter(pl.col("api_id") == api)
        if past is None:
            per = _summed([per_consumer(calls.filter(in_middle), api).select("key", "calls", "micro", "prefix")])
            ranks = ranked(per, TOP_CONSUMERS)
            table = _narrow(per)
        else:  # keys and sums only, texts for the top ten; settled-only ties ordered by their first 8 bytes
            # One row a recent call, as the settled calls come: summed with them, range by range.
            one = [
                pl.lit(1, pl.UInt32).alias("calls"),
                pl.col("revenue_micro").alias("micro"),
                consumer_prefix().alias("prefix"),
            ]
            recent = mine.filter(in_middle).select(_key(api).alias("key"), *one).collect()
            table, ranks = _summed_by_keys(recent, past, middle, api)
            del recent
        top = _top(ranks, texts, past, middle, api)
        firsts = mine.group_by(key=_key(api)).agg(ts.min()).sort("key").collect()
        # A consumer the settled first calls know was first seen before the horizon: those are counted from there.
        # Every window starts in [since, middle start): later first calls are only counted.  (Each part filtered
        # on its own: the settled first calls are millions.)
        parts = [firsts.filter(~seen.known(firsts["key"], api))["ts_ms"], seen.settled(api)]
        later = sum(int((times >= middle[0]).sum()) for times in parts)
        fresh = pl.concat([times.filter(times.is_between(since, middle[0], closed="left")) for times in parts])
        return cls(
            api=api,
            table=table,
            top=top.select(
                "key", "prefix", "consumer", pl.col("calls").cast(pl.Int64), pl.col("micro").cast(pl.Int128)
            ),
            firsts=firsts,
            fresh=fresh.sort(),
            later=later,
        )

    def figures(
        self, outside: pl.DataFrame, new_firsts: pl.DataFrame, seen: FirstSeen, start: int, now: int, texts: Texts
    ) -> tuple[int, int, pl.DataFrame]:
        """``consumers``, ``new_consumers`` and ``top_consumers`` of the window ``[start, now)``.

        ``outside`` are ``per_consumer`` of the window's calls outside the
        middle; ``new_firsts`` (``key``, ``ts_ms``) the first call of each
        consumer among the calls added since the build (any time before
        ``now``); ``seen`` the first calls before the ledger's horizon;
        ``start`` lies from ``since`` to the middle's start, as a window's does;
        ``texts`` those of the consumers of the recent calls.
        """
        return self.figures_of(self.looked_up(outside), self.first_before(new_firsts, seen), start, now, texts)

    def looked_up(self, outside: pl.DataFrame) -> pl.DataFrame:
        """``outside`` (``per_consumer``) with each consumer's figures in the middle.

        Added: ``mid_calls``, ``mid_micro`` and ``known`` (whether the middle has it).
        """
        if outside.is_empty():
            zero = {"mid_calls": pl.lit(0, pl.Int64), "mid_micro": pl.lit(0, pl.Int128)}
            return outside.with_columns(**zero, known=pl.lit(False))
        known, at = _found(outside["key"], self.table)
        return outside.with_columns(  # the table's narrow integers widened again
            mid_calls=_pick(self.table, "calls", known, at, 0).cast(pl.Int64),
            mid_micro=_pick(self.table, "micro", known, at, 0).cast(pl.Int128),
            known=known,
        )

    def first_before(self, new_firsts: pl.DataFrame, seen: FirstSeen) -> pl.DataFrame:
        """``new_firsts`` (``key``, ``ts_ms``) with ``old``: each consumer's first call before the new calls, or null.

        ``seen`` holds the first calls before the ledger's horizon.
        """
        if new_firsts.is_empty():
            return new_firsts.select("key", "ts_ms", old=pl.lit(None, pl.Int64))
        found, at = _found(new_firsts["key"], self.firsts)
        recent = _pick(self.firsts, "ts_ms", found, at, None)
        # A consumer first seen before `seen.cut` (kept as a key only) was first seen before every window.
        aged = seen.aged_keys(new_firsts["key"], self.api)
        settled_ts = pl.select(
            pl.when(pl.lit(aged))
            .then(max(seen.cut, -(2**62)) - 1)
            .otherwise(pl.lit(seen.first_times(new_firsts["key"], self.api)))
        ).to_series()
        return new_firsts.select("key", "ts_ms", old=pl.min_horizontal(pl.lit(recent), pl.lit(settled_ts)))

    def figures_of(
        self, outside: pl.DataFrame, firsts: pl.DataFrame, start: int, now: int, texts: Texts
    ) -> tuple[int, int, pl.DataFrame]:
        """As ``figures``, from ``outside`` as ``looked_up`` gives it and ``firsts`` as ``first_before`` does."""
        moved = self.first_moves(firsts.lazy(), start, now).collect(engine="in-memory")
        return self.count_of(outside), self.new_count(moved, start), self.top_of(outside, texts, None, (start, now))

    def count_of(self, outside: pl.DataFrame) -> int:
        """``consumers``: the middle's and those of ``outside`` (as ``looked_up`` gives it) it does not have."""
        return self.table.height + outside.height - int(outside["known"].sum())

    def top_of(self, outside: pl.DataFrame, texts: Texts, past: Past | None, span: tuple[int, int]) -> pl.DataFrame:
        """``top_consumers``, from ``outside`` as ``looked_up`` gives it.

        The texts of the edges' consumers that may rank are found
        (``consumer_texts``, a settled one's call in ``span``).
        """
        totals = outside.select(
            "key", "prefix", calls=pl.col("calls") + pl.col("mid_calls"), micro=pl.col("micro") + pl.col("mid_micro")
        )
        # The first of the edges' consumers (no sort of them all), and the middle's ten the edges did not change.
        unchanged = self.top.join(outside.select("key"), on="key", how="anti")
        edges = ranked(totals, TOP_CONSUMERS)
        candidates = pl.concat([unchanged, edges], how="diagonal_relaxed")
        top = _top(ranked(candidates, TOP_CONSUMERS), texts, past, span, self.api)
        return top.select("consumer", "calls", usdc=usdc_texts(pl.col("micro")))

    @staticmethod
    def first_moves(firsts: pl.LazyFrame, start: int, now: int) -> pl.LazyFrame:
        """A query of one row: how many of ``firsts``' consumers were first seen in ``[start, now)`` before, and now."""
        old = pl.col("old")
        return firsts.select(
            was=old.is_between(start, now, closed="left").fill_null(False).sum(),
            now=pl.min_horizontal(old, pl.col("ts_ms")).is_between(start, now, closed="left").sum(),
        )

    def new_count(self, moved: pl.DataFrame, start: int) -> int:
        """``new_consumers`` of a window from ``start``, given ``first_moves`` of the consumers of the new calls."""
        # First calls before the build that lie in the window, corrected for the consumers of the new calls.
        before = self.later + self.fresh.len() - int(self.fresh.search_sorted(start, side="left"))
        was, fresh = moved.row(0)
        return before - int(was) + int(fresh)
