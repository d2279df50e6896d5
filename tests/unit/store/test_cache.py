"""``store.cache``: a ledger written beside nothing but other caches, read back whole, never half-written."""

from __future__ import annotations

import pytest
from polars.testing import assert_frame_equal

from ccanalytics.contract import create_store
from ccanalytics.metrics.ledger import Ledger
from ccanalytics.store import cache

NOW = 1_795_608_000_000


@pytest.fixture
def folder(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "store.db"
    create_store(path)
    return path


def cached(ledger: Ledger | None = None) -> cache.CachedLedger:
    ledger = ledger or Ledger.empty(horizon=NOW - 10 * 86_400_000, consumers=True)
    return cache.CachedLedger(ledger, [1, 2], "CREATE TABLE calls (x)", top=41, rows=40, last=[41, "r"], built_ms=NOW)


def test_a_saved_ledger_loads_back_as_it_was(folder, store):
    saved = cached()
    cache.save(store, saved)
    loaded = cache.load(store)
    assert loaded is not None
    assert (loaded.identity, loaded.schema, loaded.top, loaded.rows, loaded.last, loaded.built_ms) == (
        [1, 2],
        "CREATE TABLE calls (x)",
        41,
        40,
        [41, "r"],
        NOW,
    )
    assert (loaded.ledger.horizon, loaded.ledger.reach) == (saved.ledger.horizon, saved.ledger.reach)
    assert_frame_equal(loaded.ledger.recent, saved.ledger.recent)
    assert_frame_equal(loaded.ledger.settled.tallies, saved.ledger.settled.tallies)
    assert loaded.ledger.seen is not None
    assert loaded.ledger.quarters is not None and saved.ledger.quarters is not None
    assert loaded.ledger.quarters.since == saved.ledger.quarters.since
    assert [p.name for p in folder.iterdir()] == [cache._file_for(store).name]


def test_a_cache_switched_off_writes_nothing(tmp_path, store, monkeypatch):
    monkeypatch.setenv("CCANALYTICS_CACHE_DIR", "")
    cache.save(store, cached())
    assert cache.load(store) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.db"]


def test_a_write_that_fails_leaves_no_temporary_file(folder, store):
    target = cache._file_for(store)
    target.mkdir(parents=True)  # the cache's name is taken by a folder: replacing it fails
    (target / "keep").write_text("")
    cache.save(store, cached())  # silently skipped, as any cache that cannot be written
    assert sorted(p.name for p in folder.iterdir()) == [target.name]
    assert cache.load(store) is None


def test_a_file_of_another_store_or_garbage_is_no_cache(folder, store, tmp_path):
    cache.save(store, cached())
    other = tmp_path / "other.db"
    create_store(other)
    assert cache.load(other) is None
    cache._file_for(store).write_bytes(b"not json\n")
    assert cache.load(store) is None


def test_the_day_ranges_settled_history_is_cached_too(folder, store):
    from dataclasses import replace

    import polars as pl

    from ccanalytics.metrics.ledger import RECENT_SCHEMA
    from ccanalytics.metrics.quarters import RID

    horizon = NOW - 10 * 86_400_000
    row = {"ts_ms": horizon - 5, "role": "seller", "api_id": "a", "api_name": "A", "request_id": "r1"}
    row |= {"status_code": 200, "latency_ms": 5.0, "price_micro": 10, "revenue_micro": 9, "consumer": "c", "rule": None}
    rows = pl.DataFrame([row], schema=RECENT_SCHEMA).with_columns(pl.lit(7, pl.Int64).alias(RID))
    ledger = Ledger.empty(horizon=horizon, consumers=True).add(rows)
    ledger = replace(ledger, seen=ledger.seen.aged(horizon))  # the consumer's first call kept as a key only
    cache.save(store, cached(ledger))
    loaded = cache.load(store)
    assert loaded is not None and loaded.ledger.quarters is not None and ledger.quarters is not None
    for name in ("days", "sketch", "counts", "errors", "sellers", "spans"):
        assert_frame_equal(loaded.ledger.quarters.loaded(name), ledger.quarters.merged().loaded(name))
    assert loaded.ledger.quarters.rowids(horizon - 10, horizon) == (7, 7)
    assert loaded.ledger.seen is not None and ledger.seen is not None
    assert loaded.ledger.seen.cut == horizon and loaded.ledger.seen.by_consumer.height == 0
    assert loaded.ledger.seen.old.equals(ledger.seen.old) and ledger.seen.old_pairs.len() == 0  # its first pair


def test_recent_rows_in_many_chunks_are_written_in_pieces_of_whole_chunks_and_load_back_equal(folder, store):
    import json

    import polars as pl

    from ccanalytics.metrics.ledger import RECENT_SCHEMA

    def calls(n: int, at: int) -> pl.DataFrame:
        given = {
            "ts_ms": pl.int_range(at, at + n, eager=True),
            "role": ["seller"] * n,
            "api_id": ["a-rather-long-api-id"] * n,
            "request_id": pl.int_range(n, eager=True).cast(pl.String).str.zfill(36),
            "status_code": [200] * n,
        }
        schema = {**RECENT_SCHEMA, "_rid": pl.Int64}  # as a store reads them, with their rowids
        given["_rid"] = pl.int_range(at, at + n, eager=True)
        return pl.DataFrame({name: given.get(name, [None] * n) for name in schema}, schema=schema)

    recent = pl.concat([calls(30_000, NOW), calls(30_000, NOW + 30_000), calls(10, NOW + 60_000)], rechunk=False)
    ledger = Ledger.empty(horizon=NOW - 10 * 86_400_000, consumers=True).add(recent)
    cache.save(store, cached(ledger))
    with cache._file_for(store).open("rb") as f:
        sizes = dict(zip(cache._FRAMES, json.loads(f.readline())["sizes"], strict=True))
    assert len(sizes["recent"]) == 2  # 60 010 rows: the first two chunks, then the rest
    loaded = cache.load(store)
    assert loaded is not None
    assert_frame_equal(loaded.ledger.recent, ledger.recent)


def test_the_views_recent_rows_load_back_keyed_with_their_consumers_texts(folder, store):
    import polars as pl

    from ccanalytics.metrics.consumers import KEY
    from ccanalytics.metrics.ledger import RECENT_SCHEMA

    given = {"ts_ms": [NOW, NOW + 1], "role": ["seller"] * 2, "api_id": ["a"] * 2, "status_code": [200] * 2}
    rows = pl.DataFrame(
        {name: given.get(name, [None] * 2) for name in RECENT_SCHEMA}, schema=RECENT_SCHEMA
    ).with_columns(consumer=pl.Series(["someone", None]))
    ledger = Ledger.empty(horizon=NOW - 10 * 86_400_000, consumers=True).add(rows)
    cache.save(store, cached(ledger))
    loaded = cache.load(store)
    assert loaded is not None and loaded.ledger.texts is not None
    assert_frame_equal(loaded.ledger.recent, ledger.recent)
    assert loaded.ledger.texts.of(ledger.recent[KEY])["consumer"].to_list() == ["someone", None]
