"""``metrics.quarters``: the settled history as day tallies, quarter counts and rowid spans, added in any order."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
from polars.testing import assert_frame_equal

from ccanalytics.metrics.quarters import QUARTER_MS, RID, Quarters

DAY = 86_400_000
ROWS = pl.DataFrame(
    {
        "ts_ms": [0, 1, QUARTER_MS, DAY + 5, 2 * DAY, 3 * DAY],
        "role": ["seller", "seller", "buyer", "seller", "seller", "seller"],
        "api_id": ["a", "a", "b", "a", "b", "a"],
        "status_code": [200, 502, 200, 200, 200, 700],
        "latency_ms": [5.0, None, 7.0, 0.0, 9.0, 1.0],
        "price_micro": [10, 0, 20, 10, 10, 10],
        "revenue_micro": [9, 0, 0, 9, 9, 9],
        "consumer": ["c", "c", None, "d", "c", "c"],
        "rule": [None, None, None, None, None, "status_code outside 100..599"],
        RID: [1, 2, 3, 40, 5, 6],  # the fourth row was inserted late
    }
)


def frames(q: Quarters) -> list[pl.DataFrame]:
    q = q.merged()
    keys = {"days": ["day", "role", "api_id"], "sketch": ["day", "role", "api_id", "key"], "counts": ["q", "role"]}
    return [
        getattr(q, name).sort(keys.get(name, getattr(q, name).columns)).with_columns(pl.col(pl.Categorical).cast(str))
        for name in ("days", "sketch", "counts", "errors", "sellers", "spans")
    ]


def test_pieces_added_in_any_order_give_the_same_quarters() -> None:
    whole = Quarters.empty(0).plus(ROWS, ROWS)
    pieces = Quarters.empty(0)
    for n in (3, 0, 5, 1, 4, 2):
        pieces = pieces.plus(ROWS.slice(n, 1), ROWS.slice(n, 1))
    for a, b in zip(frames(whole), frames(pieces), strict=True):
        assert_frame_equal(a, b)


def test_only_valid_calls_count_and_each_quarter_knows_its_rowids() -> None:
    q = Quarters.empty(0).plus(ROWS, ROWS).merged()
    assert q.days["calls"].sum() == 5
    assert q.errors["ts_ms"].to_list() == [1]
    assert q.sellers.height == 4  # the seller calls with a consumer
    assert q.rowids(0, QUARTER_MS) == (1, 2)
    assert q.rowids(0, DAY + 6) == (1, 40)
    assert q.rowids(4 * DAY, 5 * DAY) is None


def test_nothing_before_since_is_kept_and_trimming_drops_it_later() -> None:
    q = Quarters.empty(DAY, sellers_since=2 * DAY).plus(ROWS, ROWS).merged()
    assert q.days["calls"].sum() == 2 and q.sellers["ts_ms"].to_list() == [2 * DAY]
    trimmed = Quarters.empty(0).plus(ROWS, ROWS).trimmed(DAY, 2 * DAY)
    assert trimmed.days["calls"].sum() == 2 and trimmed.sellers["ts_ms"].to_list() == [2 * DAY]
    assert trimmed.rowids(0, DAY) is None


def test_a_refreshs_recent_rows_add_only_their_rowid_spans() -> None:
    q = Quarters.empty(0)
    for piece in (ROWS.head(2), ROWS.slice(2, 3), ROWS.tail(1)):  # one quarter, then several
        q = q.plus(ROWS.clear(), piece)
    q = q.merged()
    assert q.days.height == 0 and q.sellers.height == 0
    assert_frame_equal(q.spans, Quarters.empty(0).plus(ROWS, ROWS).merged().spans)


class Counted:
    """A frame kept aside, counting how often it is read back (a shelf's edge)."""

    reads = 0

    def __init__(self, frame: pl.DataFrame) -> None:
        self._frame, self.height = frame, frame.height

    def frame(self, columns: list[str] | None = None) -> pl.DataFrame:
        Counted.reads += 1
        return self._frame if columns is None else self._frame.select(columns)

    def pieces(self, columns: list[str] | None = None, start: int | None = None, end: int | None = None):
        yield self.frame(columns)

    def appended(self, frames: object) -> None:
        return None  # cannot append: merged and kept again


def test_kept_seller_calls_are_read_back_only_when_seller_calls_are_added_or_trimmed() -> None:
    q = Quarters.empty(0).plus(ROWS.head(3), ROWS.head(3)).shelved(Counted)
    assert isinstance(q.sellers, Counted) and q.loaded("sellers").height == 2
    Counted.reads = 0
    for piece in (ROWS.slice(3, 1), ROWS.slice(4, 2)):  # a refresh's recent rows: rowids only
        q = q.plus(ROWS.clear(), piece).merged()
    assert Counted.reads == 0 and isinstance(q.sellers, Counted)
    q = q.plus(ROWS.tail(3), ROWS.tail(3)).merged()  # settled seller calls: merged, and kept aside again
    assert Counted.reads == 1 and isinstance(q.sellers, Counted)
    assert_frame_equal(q.loaded("sellers"), Quarters.empty(0).plus(ROWS, ROWS).merged().sellers)
    trimmed = q.trimmed(DAY, 2 * DAY)
    assert isinstance(trimmed.sellers, Counted) and trimmed.loaded("sellers")["ts_ms"].to_list() == [2 * DAY]
    assert q.loaded("sellers", ["key"]).columns == ["key"]


def test_seller_calls_stay_sorted_by_time_whichever_order_their_pieces_come_in() -> None:
    # In time order (a first read) the pieces are appended as chunks; out of order they are merged.
    from ccanalytics.metrics.quarters import _MAX_SELLER_CHUNKS, _merged_sellers

    kept = pl.DataFrame({"ts_ms": [1, 4, 9], "key": [1, 2, 3]})
    later = [pl.DataFrame({"ts_ms": [12, 10], "key": [4, 5]}), pl.DataFrame({"ts_ms": [20], "key": [6]})]
    appended = _merged_sellers(kept, later)
    assert appended["ts_ms"].to_list() == [1, 4, 9, 10, 12, 20] and appended.n_chunks() == 3
    mixed = _merged_sellers(kept, [pl.DataFrame({"ts_ms": [5, 0], "key": [7, 8]}), *later])
    assert mixed["ts_ms"].to_list() == [0, 1, 4, 5, 9, 10, 12, 20]
    assert sorted(mixed["key"].to_list()) == list(range(1, 9))
    many = pl.concat([pl.DataFrame({"ts_ms": [t], "key": [t]}) for t in range(_MAX_SELLER_CHUNKS)], rechunk=False)
    joined = _merged_sellers(many, [pl.DataFrame({"ts_ms": [10**6], "key": [0]})])
    assert joined.n_chunks() == 1 and joined["ts_ms"].is_sorted() and joined.height == _MAX_SELLER_CHUNKS + 1
    assert _merged_sellers(kept.clear(), [kept.clear()]).is_empty()


def test_with_a_shelf_seller_calls_go_to_it_before_many_are_pending(monkeypatch) -> None:
    import ccanalytics.metrics.quarters as quarters

    monkeypatch.setattr(quarters, "_MAX_PENDING_SELLERS", 2)
    q = Quarters.empty(0).shelved(Counted)
    q = q.plus(ROWS.head(1), ROWS.head(1))  # one seller call pending
    assert len(q.pending) == 1
    q = q.plus(ROWS.slice(1, 1), ROWS.slice(1, 1))  # two: on the shelf at once
    assert not q.pending and isinstance(q.sellers, Counted) and q.sellers.frame().height == 2
    unshelved = Quarters.empty(0).plus(ROWS.head(1), ROWS.head(1)).plus(ROWS.slice(1, 1), ROWS.slice(1, 1))
    assert len(unshelved.pending) == 2  # in memory, they wait for the usual count of pieces
    for n in range(2, ROWS.height):
        q = q.plus(ROWS.slice(n, 1), ROWS.slice(n, 1))
        unshelved = unshelved.plus(ROWS.slice(n, 1), ROWS.slice(n, 1))
    q = q.merged()
    for a, b in zip(frames(replace(q, sellers=q.loaded("sellers"))), frames(unshelved), strict=True):
        assert_frame_equal(a, b)
