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

A (consumer, api_id) pair's key is its consumer's key XOR a hash of the API,
so the consumer of a pair is known from the pair and its API.  That lets a
pair whose first call is its consumer's first call (every pair of a consumer
that calls one API) be kept as nothing more than the API beside the
consumer's first call: only the other pairs are kept by their own keys.

Pure polars, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

__all__ = [
    "KEY",
    "PREFIX",
    "FirstSeen",
    "api_key",
    "consumer_key",
    "consumer_prefix",
    "is_among",
    "keyed",
    "new_consumers",
    "pair_keys",
    "ranked",
    "text_key",
    "text_prefix",
]

# The columns that stand for a consumer's text in keyed rows (``keyed``): its 64-bit key and its first 8 bytes.
KEY, PREFIX = "consumer_key", "consumer_prefix"

_MAX_PENDING = 8  # merged every few pieces: each merge copies the sorted frames once
# The kept frames' APIs are one `Enum` of the APIs seen so far (one byte a row for up to 255 APIs), widened as
# new ones come; the pending pieces' are categories.
_BY_CONSUMER: dict[str, PolarsDataType] = {"key": pl.UInt64, "ts_ms": pl.Int64, "api_id": pl.Enum([])}
_BY_API: dict[str, PolarsDataType] = {"key": pl.UInt64, "api_id": pl.Enum([]), "ts_ms": pl.Int64}
_PENDING = {"ckey": pl.UInt64, "key": pl.UInt64, "api_id": pl.Categorical, "ts_ms": pl.Int64}
_OLD: dict[str, PolarsDataType] = {"key": pl.UInt64, "api_id": pl.Enum([])}


def text_key() -> pl.Expr:
    """A consumer's 64-bit key from its text (a hash; stable for one polars version)."""
    return pl.col("consumer").hash(seed=14)


def text_prefix() -> pl.Expr:
    """A consumer's first 8 bytes as a big-endian 64-bit number: ordered as the texts are, up to ties.

    Examples
    --------
    >>> frame = pl.DataFrame({"consumer": ["b", "ab", "abcdefghij", "abcdefgh"]})
    >>> frame.sort(text_prefix())["consumer"].to_list()[:2]
    ['ab', 'abcdefghij']
    """
    # The first 8 characters hold the first 8 bytes: padded, not the whole text (a copy of every text).
    padded = pl.concat_str(pl.col("consumer").str.head(8), pl.lit("\x00" * 8)).cast(pl.Binary)
    return padded.bin.head(8).bin.reinterpret(dtype=pl.UInt64, endianness="big")


def consumer_key() -> pl.Expr:
    """A consumer's 64-bit key in keyed rows (``keyed``: ``text_key`` of its text; null: no consumer)."""
    return pl.col(KEY)


def consumer_prefix() -> pl.Expr:
    """A consumer's first 8 bytes in keyed rows (``keyed``: ``text_prefix`` of its text)."""
    return pl.col(PREFIX)


def keyed(rows: Frame) -> Frame:
    """``rows`` with ``consumer``'s text replaced by ``KEY`` and ``PREFIX`` (as they are when keyed already).

    Examples
    --------
    >>> rows = keyed(pl.DataFrame({"consumer": ["c", None]}))
    >>> rows.columns, rows[KEY].null_count(), rows[PREFIX].to_list()[1]
    (['consumer_key', 'consumer_prefix'], 1, None)
    """
    names = rows.collect_schema().names() if isinstance(rows, pl.LazyFrame) else rows.columns
    if "consumer" not in names:
        return rows
    if isinstance(rows, pl.DataFrame) and rows["consumer"].null_count() == rows.height:  # none: no query
        nulls = [pl.repeat(None, rows.height, dtype=pl.UInt64, eager=True).alias(name) for name in (KEY, PREFIX)]
        return rows.drop("consumer").hstack(
            [_chunked(s, rows.get_column(rows.columns[0]).chunk_lengths()) for s in nulls]
        )
    known = pl.col("consumer").is_not_null()
    texts = rows.with_columns(pl.when(known).then(text_key()).alias(KEY), text_prefix().alias(PREFIX))
    if isinstance(texts, pl.DataFrame) and texts.n_chunks() > 1:  # the new columns in the rows' chunks, as one piece
        lengths = texts.get_column(texts.columns[0]).chunk_lengths()
        texts = texts.with_columns(_chunked(texts.get_column(name), lengths) for name in (KEY, PREFIX))
    return texts.drop("consumer")


def _chunked(column: pl.Series, lengths: list[int]) -> pl.Series:
    """``column`` in chunks of these lengths (the ledger keeps its rows' pieces whole: ``store.cache``)."""
    if column.chunk_lengths() == lengths:
        return column
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    return pl.concat([column.slice(start, n) for start, n in zip(starts, lengths, strict=True)], rechunk=False)


def _api_hash(api: pl.Expr) -> pl.Expr:
    return api.cast(pl.String).hash(seed=15)


def api_key() -> pl.Expr:
    """A (consumer, api_id) pair's 64-bit key: the consumer's key XOR a hash of the API.

    Examples
    --------
    >>> pairs = keyed(pl.DataFrame({"consumer": ["c", "c"], "api_id": ["a", "b"]}))
    >>> keys = pairs.select(pair=api_key(), consumer=consumer_key())
    >>> keys["pair"].n_unique(), (keys["pair"] == pair_keys(keys["consumer"], "a")).to_list()
    (2, [True, False])
    """
    return consumer_key().xor(_api_hash(pl.col("api_id")))


def pair_keys(keys: pl.Series, api: str) -> pl.Series:
    """The keys of the pairs (consumer, ``api``) from the consumers' keys, or the consumers' from the pairs'.

    Examples
    --------
    >>> keys = pl.Series([1, 2], dtype=pl.UInt64)
    >>> pair_keys(pair_keys(keys, "a"), "a").to_list()
    [1, 2]
    """
    return pl.select(pl.lit(keys).xor(_api_hash(pl.lit(api, pl.String)))).to_series()


def _seller_firsts(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Per (consumer, api_id) of the valid keyed seller calls: ``ckey``, ``key``, ``api_id``, ``ts_ms``."""
    seller = rows.filter(pl.col("rule").is_null() & (pl.col("role") == "seller") & consumer_key().is_not_null())
    return (
        seller.group_by(key=api_key())
        .agg(ckey=consumer_key().first(), api_id=pl.col("api_id").first(), ts_ms=pl.col("ts_ms").min())
        # A category, not a string: strings would be views into the whole chunk read (and keep it alive).
        .with_columns(pl.col("api_id").cast(pl.Categorical))
        .select(*_PENDING)
    )


def _found(keys: pl.Series, table: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """For each key, whether ``table`` (sorted by unique ``key``) has it, and at which row (clipped)."""
    if table.is_empty() or keys.is_empty():
        return pl.repeat(False, keys.len(), eager=True), pl.repeat(0, keys.len(), dtype=pl.UInt32, eager=True)
    at = table["key"].search_sorted(keys).clip(upper_bound=table.height - 1)
    return table["key"].gather(at) == keys, at


def _at(table: pl.DataFrame, column: str, found: pl.Series, at: pl.Series) -> pl.Series:
    """``table[column]`` at the rows ``at`` where ``found``, else null."""
    if table.is_empty():
        return pl.Series(column, [None] * found.len(), dtype=table.schema[column])
    return pl.select(pl.when(found).then(table[column].gather(at))).to_series().rename(column)


@dataclass(frozen=True)
class FirstSeen:
    """First seller call per consumer (and its API) and per other (consumer, api_id), keys sorted; pieces pending.

    ``by_consumer`` holds each consumer's first call and its API; ``by_api``
    only the pairs whose first call is not their consumer's first (the pair
    of the consumer's first call is known from ``by_consumer``).  First calls
    before ``cut`` are kept as sorted keys only (``old_consumers`` with the API
    of each one's first call, ``old_pairs`` for the other pairs): no window a
    view may ask reaches back there, so only whether a consumer was seen
    matters, not when.
    """

    by_consumer: pl.DataFrame
    by_api: pl.DataFrame
    pending: tuple[pl.DataFrame, ...] = ()
    cut: int = -(2**63)
    old: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_OLD))  # key, api_id, sorted by key
    old_pairs: pl.Series = field(default_factory=lambda: pl.Series("key", [], dtype=pl.UInt64))

    @classmethod
    def empty(cls, cut: int = -(2**63)) -> FirstSeen:
        return cls(pl.DataFrame(schema=_BY_CONSUMER), pl.DataFrame(schema=_BY_API), cut=cut)

    @classmethod
    def of_firsts(cls, firsts: pl.DataFrame) -> FirstSeen:
        """From the first seller call per (``consumer``, ``api_id``): a frame of those and ``ts_ms``."""
        piece = keyed(firsts.lazy()).select(
            ckey=consumer_key(), key=api_key(), api_id=pl.col("api_id").cast(pl.Categorical), ts_ms="ts_ms"
        )
        return cls(cls.empty().by_consumer, cls.empty().by_api, (piece.collect(),)).merged()

    @property
    def old_consumers(self) -> pl.Series:
        """The keys of the consumers first seen before ``cut``, sorted."""
        return self.old["key"]

    def plus(self, rows: pl.DataFrame) -> FirstSeen:
        """With more call rows (any role, with ``rule``; keyed or not) counted; merged every few pieces."""
        if rows.is_empty():
            return self
        piece = _seller_firsts(keyed(rows.lazy())).collect()
        seen = replace(self, pending=(*self.pending, piece))
        return seen.merged() if len(seen.pending) >= _MAX_PENDING else seen

    def merged(self) -> FirstSeen:
        """The same, with every pending piece merged into the sorted frames (and first calls before ``cut`` aged).

        The pieces' few keys are looked up in the big sorted frames (binary
        search): a key already there may only move its time earlier, the rest
        are merged in order — never a hash table over millions of keys (that
        peaked at several times the frames on ten million calls).  A consumer
        whose first call moves to another API leaves its former first pair to
        ``by_api``; a pair that becomes its consumer's first leaves it.
        """
        if not self.pending:
            return self
        pieces = pl.concat([p.lazy() for p in self.pending])
        pairs = pieces.group_by("key").agg(pl.col("ckey", "api_id").first(), pl.col("ts_ms").min()).collect()
        return self._widened(pairs["api_id"])._merging(pairs)

    def _merging(self, pairs: pl.DataFrame) -> FirstSeen:
        """``merged``, from the pending pieces' first call per pair (``key``, ``ckey``, ``api_id``, ``ts_ms``)."""
        pairs = pairs.with_columns(pl.col("api_id").cast(pl.String).cast(self.by_consumer.schema["api_id"]))
        pairs = pairs.filter(~self._aged_pairs(pairs))
        # Each consumer's first call among the pieces (the least API of a tie), unless it was first seen before `cut`.
        order = [pl.col("ts_ms"), pl.col("api_id").cast(pl.String)]
        firsts = (
            pairs.lazy()
            .group_by(key="ckey")
            .agg(pl.col("ts_ms").min(), pl.col("api_id").sort_by(order).first())
            .sort("key")
            .collect()
        )
        firsts = firsts.filter(~is_among(firsts["key"], self.old_consumers))
        kept = self.by_consumer
        found, at = _found(firsts["key"], kept)
        was_ts, was_api = _at(kept, "ts_ms", found, at), _at(kept, "api_id", found, at)
        earlier = ~found | (firsts["ts_ms"] < was_ts).fill_null(False)
        moved = found & earlier & (firsts["api_id"] != was_api).fill_null(False)
        # The consumers' former first pairs, now only pairs.
        left = pl.DataFrame({"ckey": firsts["key"], "api_id": was_api, "ts_ms": was_ts}).filter(moved)
        left = left.with_columns(key=pl.col("ckey").xor(_api_hash(pl.col("api_id")))).select(*_PENDING)
        by_consumer = _replaced(kept, firsts.filter(earlier).select(*_BY_CONSUMER))
        # The pairs that are not their consumer's first call.
        candidates = pl.concat([pairs.select(*_PENDING), left])
        found, at = _found(candidates["ckey"], by_consumer)
        first_api = _at(by_consumer, "api_id", found, at)
        others = candidates.filter(~(found & (first_api == candidates["api_id"])).fill_null(False))
        others = others.group_by("key").agg(pl.col("api_id").first(), pl.col("ts_ms").min()).sort("key")
        by_api = _merged(self.by_api, others.select(*_BY_API))
        # A pair that became its consumer's first call is known from there now.
        became = firsts.filter(earlier).select(pl.col("key").xor(_api_hash(pl.col("api_id"))))
        by_api = by_api.filter(~is_among(by_api["key"], became.to_series().sort()))
        merged = replace(self, by_consumer=by_consumer, by_api=by_api, pending=())
        return merged.aged(self.cut, force=True)

    def _widened(self, apis: pl.Series) -> FirstSeen:
        """The same, its frames' API ``Enum`` holding these APIs too (appended: the kept codes stay)."""
        have = self.by_consumer.schema["api_id"]
        assert isinstance(have, pl.Enum)
        known = have.categories
        new = apis.cast(pl.String).drop_nulls().unique().sort()
        new = new.filter(~new.is_in(known.implode()))
        if new.is_empty():
            return self
        dtype = pl.Enum(pl.concat([known, new]))
        by_consumer, by_api, old = (
            f.with_columns(pl.col("api_id").cast(dtype)) for f in (self.by_consumer, self.by_api, self.old)
        )
        return replace(self, by_consumer=by_consumer, by_api=by_api, old=old)

    def _aged_pairs(self, pairs: pl.DataFrame) -> pl.Series:
        """Whether each pair (``key``, ``ckey``, ``api_id``) was first seen before ``cut``."""
        found, at = _found(pairs["ckey"], self.old)
        first = (_at(self.old, "api_id", found, at) == pairs["api_id"]).fill_null(False)
        return first | is_among(pairs["key"], self.old_pairs)

    def aged(self, cut: int, force: bool = False) -> FirstSeen:
        """The same with the first calls before ``cut`` kept as keys only (merged first)."""
        seen = self.merged() if self.pending else self
        if cut <= seen.cut and not force:
            return seen
        cut = max(cut, seen.cut)
        before = pl.col("ts_ms") < cut
        if not (seen.by_consumer["ts_ms"] < cut).any() and not (seen.by_api["ts_ms"] < cut).any():
            return replace(seen, cut=cut)
        leaving = seen.by_consumer.filter(before).select(*_OLD)
        return replace(
            seen,
            cut=cut,
            by_consumer=seen.by_consumer.filter(~before),
            by_api=seen.by_api.filter(~before),
            old=seen.old.merge_sorted(leaving, key="key") if not seen.old.is_empty() else leaving,
            old_pairs=_union(seen.old_pairs, seen.by_api.filter(before)["key"]),
        )

    def first_times(self, keys: pl.Series, api: str | None) -> pl.Series:
        """Each key's first call from ``cut`` on (of a consumer; with ``api``, of a (consumer, api)), else null."""
        if api is None:
            found, at = _found(keys, self.by_consumer)
            return _at(self.by_consumer, "ts_ms", found, at)
        found, at = _found(pair_keys(keys, api), self.by_consumer)
        mine = (_at(self.by_consumer, "api_id", found, at) == api).fill_null(False)
        first = pl.select(pl.when(mine).then(_at(self.by_consumer, "ts_ms", found, at))).to_series()
        found, at = _found(keys, self.by_api)
        return pl.select(pl.coalesce(first, _at(self.by_api, "ts_ms", found, at))).to_series().rename("ts_ms")

    def aged_keys(self, keys: pl.Series, api: str | None) -> pl.Series:
        """Whether each key (of a consumer; with ``api``, of a (consumer, api)) was first seen before ``cut``."""
        if api is None:
            return is_among(keys, self.old_consumers)
        found, at = _found(pair_keys(keys, api), self.old)
        first = (_at(self.old, "api_id", found, at) == api).fill_null(False)
        return first | is_among(keys, self.old_pairs)

    def settled(self, api: str | None) -> pl.Series:
        """The times of the first calls from ``cut`` on (of consumers; with ``api``, of its pairs), in no order."""
        if api is None:
            return self.by_consumer["ts_ms"]
        mine = pl.col("api_id") == api
        return pl.concat([self.by_consumer.filter(mine)["ts_ms"], self.by_api.filter(mine)["ts_ms"]])

    def known(self, keys: pl.Series, api: str | None) -> pl.Series:
        """Whether each key (of a consumer; with ``api``, of a (consumer, api_id)) was seen, before ``cut`` or after."""
        return self.first_times(keys, api).is_not_null() | self.aged_keys(keys, api)


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


def _replaced(table: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """``table`` (sorted by unique ``key``) with ``rows`` (sorted, same columns) in place of its rows of their keys."""
    if table.is_empty():
        return rows
    found, at = _found(rows["key"], table)
    if found.any():
        where, hit = at.filter(found), rows.filter(found)
        table = table.with_columns(table[c].scatter(where, hit[c]) for c in table.columns if c != "key")
    return table.merge_sorted(rows.filter(~found), key="key")


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
    ts, consumer = pl.col("ts_ms"), consumer_key()
    seller = keyed(recent).filter((pl.col("role") == "seller") & consumer.is_not_null())
    if api is not None:
        seller = seller.filter(pl.col("api_id") == api)
    # The window's consumers with no call before it: only they are looked at, not every recent call's consumer.
    window = seller.filter(ts.is_between(start, now, closed="left")).select(KEY, "api_id").collect()
    window = window.unique(KEY, keep="any")
    earlier = seller.filter((ts < start) & consumer.is_in(window[KEY].implode())).select(KEY)
    firsts = window.lazy().join(earlier.unique(), on=KEY, how="anti")
    candidates = firsts.select(key=consumer_key() if api is None else api_key()).collect()["key"]
    fresh = int((~seen.known(candidates, api)).sum())
    settled = int(seen.settled(api).is_between(start, min(now, horizon), closed="left").sum())
    return fresh + settled


def ranked(per: pl.DataFrame, count: int) -> pl.DataFrame:
    """The ``count`` first of ``per`` by (``micro``, ``calls``) descending and ``prefix`` ascending, with ties.

    Every row tied with the last one on all three is kept too: their order is
    their texts' (``Texts``), which only those few need.  One column at a
    time: only the rows that may still rank are looked at (all of them when
    every consumer paid the same), never a sort of all.

    Examples
    --------
    >>> per = pl.DataFrame({"micro": [5, 5, 5, 1], "calls": [1, 1, 1, 1], "prefix": [3, 2, 2, 0]})
    >>> ranked(per, 1)["prefix"].to_list()
    [2, 2]
    """
    rows = pl.repeat(True, per.height, eager=True)  # still tied with the last so far
    chosen = ~rows  # certainly among the first
    need = count
    for column, largest in (("micro", True), ("calls", True), ("prefix", False)):
        values = per[column].filter(rows)
        if values.is_empty() or need <= 0:
            break
        edge = values.top_k(need).min() if largest else values.bottom_k(need).max()
        better = rows & ((per[column] > edge) if largest else (per[column] < edge))
        chosen, need = chosen | better, need - int(better.sum())  # fewer than `need`: `edge` is the need-th
        rows = rows & (per[column] == edge)
    return per.filter(chosen | rows) if need > 0 else per.filter(chosen)
