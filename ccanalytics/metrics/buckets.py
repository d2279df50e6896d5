"""One group's latency sketch as Python values, its nearest-rank p95 moved by each refresh's new counts.

The all-time p95 per (role, api_id) is a sketch percentile (``sketch``): the
first bucket key whose running count reaches the rank.  A refresh adds a few
dozen bucket counts to a few dozen groups, so instead of a query over every
bucket of every group (a ``group_by`` with a sort in it), ``Buckets`` keeps
each group's keys sorted, their counts, and where the p95's bucket lies with
the count below it; new counts move that position a few keys at most.  The
key is found in integers, the same as ``alltime.p95_query``'s, and its value
by ``sketch.value_of`` (to a unit in the last place).

Pure Python values, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccanalytics.metrics import sketch

if TYPE_CHECKING:
    from collections.abc import Sequence

    import polars as pl

__all__ = ["Buckets", "by_group"]

_P = 95


@dataclass(frozen=True)
class Buckets:
    """A group's sketch: ``keys`` sorted, ``counts`` per key, the p95's key ``keys[at]`` with ``below`` before it.

    Examples
    --------
    >>> b = Buckets.empty().plus([100, 200], [94, 6])
    >>> b.p95 == sketch.value_of(200)
    True
    >>> b.plus([50], [100]).p95 == sketch.value_of(100)  # 100 more below: the rank falls in key 100
    True
    """

    keys: list[int]
    counts: dict[int, int]
    total: int = 0
    at: int = 0
    below: int = 0

    @classmethod
    def empty(cls) -> Buckets:
        return cls([], {})

    @property
    def p95(self) -> float | None:
        """The group's nearest-rank p95 (None without latencies)."""
        return sketch.value_of(self.keys[self.at]) if self.total else None

    def plus(self, keys: Sequence[int], counts: Sequence[int]) -> Buckets:
        """These buckets with ``counts`` more latencies in ``keys`` (each key once)."""
        sorted_keys, kept, at, below = self.keys, dict(self.counts), self.at, self.below
        pivot = sorted_keys[at] if self.total else None
        copied = False
        for key, n in zip(keys, counts, strict=True):
            if key not in kept:
                if not copied:
                    sorted_keys, copied = list(sorted_keys), True  # the state it came from stays as it was
                sorted_keys.insert(bisect_left(sorted_keys, key), key)
                kept[key] = 0
                if pivot is not None and key < pivot:
                    at += 1
            kept[key] += n
            if pivot is not None and key < pivot:
                below += n
        total = self.total + sum(counts)
        if not total:
            return Buckets(sorted_keys, kept)
        want = sketch.rank_of(total, _P)
        while below + kept[sorted_keys[at]] < want:  # the rank moved up past this key
            below += kept[sorted_keys[at]]
            at += 1
        while at and below >= want:  # or down below it
            at -= 1
            below -= kept[sorted_keys[at]]
        return Buckets(sorted_keys, kept, total, at, below)


def by_group(sketches: pl.DataFrame) -> dict[tuple[str, str], Buckets]:
    """Each (role, api_id)'s ``Buckets`` from a sketch frame (``role``, ``api_id``, ``key``, ``n``).

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"role": ["seller"] * 2, "api_id": ["a"] * 2, "key": [7, 3], "n": [1, 99]})
    >>> by_group(frame)[("seller", "a")].p95 == sketch.value_of(3)
    True
    """
    grouped: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for role, api, key, n in sketches.select("role", "api_id", "key", "n").rows():
        if n > 0:
            keys, counts = grouped.setdefault((role, api), ([], []))
            keys.append(key)
            counts.append(n)
    return {group: Buckets.empty().plus(*pairs) for group, pairs in grouped.items()}
