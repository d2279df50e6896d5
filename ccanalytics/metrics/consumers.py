"""When each consumer was first seen: the memory behind views.md's ``new_consumers``.

A consumer is *new* in a window when its first seller call ever (with
``--api``: its first seller call to that API) lies in it.  The ledger keeps,
for the calls it has settled (those before its horizon), the time of each
consumer's first call and of each (consumer, api_id)'s first call; recent
calls answer for themselves.  Consumers are kept as 64-bit hashes of their
text (a store may have millions of them, each a 64-character hex digest),
sorted, so that a view looks up the few consumers of its window by binary
search instead of joining millions of rows on every refresh.  Two different
consumers share a hash with a probability of about n² / 2⁶⁵ (10⁻⁶ for six
million consumers): then one of them is not counted as new.

Pure polars, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import polars as pl

__all__ = ["FirstSeen", "api_key", "consumer_key", "consumer_prefix", "is_among", "new_consumers"]

_MAX_PENDING = 8  # merged every few pieces: each merge copies the sorted frames once
_BY_CONSUMER = {"key": pl.UInt64, "ts_ms": pl.Int64}
_BY_API = {"key": pl.UInt64, "api_id": pl.Categorical, "ts_ms": pl.Int64}
_PENDING = {"ckey": pl.UInt64, "key": pl.UInt64, "api_id": pl.Categorical, "ts_ms": pl.Int64}


def consumer_key() -> pl.Expr:
    """A consumer's 64-bit key (a hash of its text; stable for one polars version)."""
    return pl.col("consumer").hash(seed=14)


def consumer_prefix() -> pl.Expr:
    """A consumer's first 8 bytes as a big-endian 64-bit number: ordered as the texts are, up to ties.

    Examples
    --------
    >>> frame = pl.DataFrame({"consumer": ["b", "ab", "abcdefghij", "abcdefgh"]})
    >>> frame.sort(consumer_prefix())["consumer"].to_list()[:2]
    ['ab', 'abcdefghij']
    """
    padded = pl.concat_str(pl.col("consumer"), pl.lit("\x00" * 8)).cast(pl.Binary)
    return padded.bin.head(8).bin.reinterpret(dtype=pl.UInt64, endianness="big")


def api_key() -> pl.Expr:
    """A (consumer, api_id) pair's 64-bit key."""
    return pl.concat_str(pl.col("consumer"), pl.lit("\x00"), pl.col("api_id")).hash(seed=14)


def _seller_firsts(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Per (consumer, api_id) of the valid seller calls with a consumer: ``ckey``, ``key``, ``api_id``, ``ts_ms``."""
    seller = rows.filter(pl.col("rule").is_null() & (pl.col("role") == "seller") & pl.col("consumer").is_not_null())
    return (
        seller.group_by(key=api_key())
        .agg(ckey=consumer_key().first(), api_id=pl.col("api_id").first(), ts_ms=pl.col("ts_ms").min())
        # A category, not a string: strings would be views into the whole chunk read (and keep it alive).
        .with_columns(pl.col("api_id").cast(pl.Categorical))
        .select(*_PENDING)
    )


@dataclass(frozen=True)
class FirstSeen:
    """First seller call per consumer and per (consumer, api_id), keys sorted; pieces not yet merged.

    First calls before ``cut`` are kept as sorted keys only (``old_consumers``,
    ``old_pairs``): no window a view may ask reaches back there, so only
    whether a consumer was seen matters, not when.
    """

    by_consumer: pl.DataFrame
    by_api: pl.DataFrame
    pending: tuple[pl.DataFrame, ...] = ()
    cut: int = -(2**63)
    old_consumers: pl.Series = field(default_factory=lambda: pl.Series("key", [], dtype=pl.UInt64))
    old_pairs: pl.Series = field(default_factory=lambda: pl.Series("key", [], dtype=pl.UInt64))

    @classmethod
    def empty(cls, cut: int = -(2**63)) -> FirstSeen:
        return cls(pl.DataFrame(schema=_BY_CONSUMER), pl.DataFrame(schema=_BY_API), cut=cut)

    @classmethod
    def of_firsts(cls, firsts: pl.DataFrame) -> FirstSeen:
        """From the first seller call per (``consumer``, ``api_id``): a frame of those and ``ts_ms``."""
        piece = firsts.lazy().select(
            ckey=consumer_key(), key=api_key(), api_id=pl.col("api_id").cast(pl.Categorical), ts_ms="ts_ms"
        )
        return cls(cls.empty().by_consumer, cls.empty().by_api, (piece.collect(),)).merged()

    def plus(self, rows: pl.DataFrame) -> FirstSeen:
        """With more call rows (any role, with ``rule``) counted; merged every few pieces."""
        if rows.is_empty():
            return self
        piece = _seller_firsts(rows.lazy()).collect()
        seen = replace(self, pending=(*self.pending, piece))
        return seen.merged() if len(seen.pending) >= _MAX_PENDING else seen

    def merged(self) -> FirstSeen:
        """The same, with every pending piece merged into the sorted frames (and first calls before ``cut`` aged).

        The pieces' few keys are looked up in the big sorted frames (binary
        search): a key already there may only move its time earlier, the rest
        are merged in order — never a hash table over millions of keys (that
        peaked at several times the frames on ten million calls).
        """
        if not self.pending:
            return self
        pieces = pl.concat([p.lazy() for p in self.pending])
        by_api = pieces.group_by("key").agg(pl.col("api_id").first(), pl.col("ts_ms").min()).sort("key").collect()
        by_consumer = pieces.group_by(key="ckey").agg(pl.col("ts_ms").min()).sort("key").collect()
        by_api = by_api.filter(~is_among(by_api["key"], self.old_pairs))
        by_consumer = by_consumer.filter(~is_among(by_consumer["key"], self.old_consumers))
        merged = replace(
            self,
            by_consumer=_merged(self.by_consumer, by_consumer),
            by_api=_merged(self.by_api, by_api.select(*_BY_API)),
            pending=(),
        )
        return merged.aged(self.cut, force=True)

    def aged(self, cut: int, force: bool = False) -> FirstSeen:
        """The same with the first calls before ``cut`` kept as keys only (merged first)."""
        seen = self.merged() if self.pending else self
        if cut <= seen.cut and not force:
            return seen
        cut = max(cut, seen.cut)
        before = pl.col("ts_ms") < cut
        if not (seen.by_consumer["ts_ms"] < cut).any() and not (seen.by_api["ts_ms"] < cut).any():
            return replace(seen, cut=cut)
        return replace(
            seen,
            cut=cut,
            by_consumer=seen.by_consumer.filter(~before),
            by_api=seen.by_api.filter(~before),
            old_consumers=_union(seen.old_consumers, seen.by_consumer.filter(before)["key"]),
            old_pairs=_union(seen.old_pairs, seen.by_api.filter(before)["key"]),
        )

    def known(self, keys: pl.Series, api: str | None) -> pl.Series:
        """Whether each key (of a consumer; with ``api``, of a (consumer, api_id)) was seen, before ``cut`` or after."""
        young = self.by_consumer["key"] if api is None else self.by_api["key"]
        return is_among(keys, young) | is_among(keys, self.old_consumers if api is None else self.old_pairs)


def _union(a: pl.Series, b: pl.Series) -> pl.Series:
    """Two sorted key series with no key in common, as one sorted series."""
    return pl.DataFrame({"key": a}).merge_sorted(pl.DataFrame({"key": b.sort()}), key="key")["key"]


def is_among(keys: pl.Series, sorted_keys: pl.Series) -> pl.Series:
    """Whether each key is among ``sorted_keys`` (binary search).

    Examples
    --------
    >>> is_among(pl.Series([3, 4], dtype=pl.UInt64), pl.Series([1, 3], dtype=pl.UInt64)).to_list()
    [True, False]
    """
    if sorted_keys.is_empty() or keys.is_empty():
        return pl.Series(values=[False] * keys.len(), dtype=pl.Boolean)
    at = sorted_keys.search_sorted(keys).clip(upper_bound=sorted_keys.len() - 1)
    return sorted_keys.gather(at) == keys


def _merged(table: pl.DataFrame, piece: pl.DataFrame) -> pl.DataFrame:
    """Two frames sorted by unique ``key`` as one: the earlier ``ts_ms`` of a key in both."""
    if table.is_empty():
        return piece
    keys = table["key"]
    at = keys.search_sorted(piece["key"], side="left")
    hit = (at < table.height) & (keys.gather(at.clip(upper_bound=table.height - 1)) == piece["key"])
    if hit.any():
        where = at.filter(hit)
        times = table["ts_ms"]
        earlier = pl.select(pl.min_horizontal(times.gather(where), piece["ts_ms"].filter(hit))).to_series()
        table = table.with_columns(times.scatter(where, earlier))
    return table.merge_sorted(piece.filter(~hit), key="key")


def new_consumers(
    recent: pl.LazyFrame, seen: FirstSeen, horizon: int, start: int, now: int, api: str | None = None
) -> int:
    """How many consumers' first seller call (to ``api``, when given) lies in ``[start, now)``.

    ``recent`` are the valid calls from ``horizon`` on that exist at ``now``
    (with ``consumer``); ``seen`` the first calls before ``horizon``.

    Examples
    --------
    >>> old = pl.DataFrame({"role": ["seller"], "api_id": ["a"], "consumer": ["c1"], "ts_ms": [5], "rule": [None]})
    >>> seen = FirstSeen.empty().plus(old).merged()
    >>> recent = pl.LazyFrame({"role": ["seller"] * 3, "api_id": ["a", "b", "a"],
    ...     "consumer": ["c1", "c1", "c2"], "ts_ms": [20, 21, 22]})
    >>> new_consumers(recent, seen, horizon=10, start=20, now=30), new_consumers(recent, seen, 10, 20, 30, api="b")
    (1, 1)
    >>> new_consumers(recent, seen, horizon=10, start=0, now=30)     # c1 was first seen at 5
    2
    """
    seen = seen.merged()
    seller = recent.filter((pl.col("role") == "seller") & pl.col("consumer").is_not_null())
    if api is not None:
        seller = seller.filter(pl.col("api_id") == api)
        key, known = api_key(), seen.by_api.filter(pl.col("api_id") == api)
    else:
        key, known = consumer_key(), seen.by_consumer
    firsts = seller.group_by(key=key).agg(pl.col("ts_ms").min())
    candidates = firsts.filter(pl.col("ts_ms").is_between(start, now, closed="left")).collect()["key"]
    fresh = int((~seen.known(candidates, api)).sum())
    settled = known.filter(pl.col("ts_ms").is_between(start, min(now, horizon), closed="left")).height
    return fresh + settled
