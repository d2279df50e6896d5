"""``open_store``'s seams: where balances come from, when a store counts as big, how long a cache lasts."""

from __future__ import annotations

import threading
import time

import pytest

import ccanalytics as cc
from ccanalytics.chain import ChainBalances, ChainError
from ccanalytics.chain.balances import LiveBalances
from ccanalytics.model import READING_NOTE
from ccanalytics.settings import parse_settings
from tests.support.stores import StoreBuilder

NOW = 1_795_608_000_000


@pytest.fixture
def chain_store(tmp_path) -> StoreBuilder:
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.call(NOW - 1000).balance(NOW - 60_000, usdc_micro=1_500_000, eth_wei="900000000000000")
    builder.setting("rpc_url", "http://127.0.0.1:1/rpc").setting("wallet_address", "0x" + "11" * 20)
    return builder.setting("usdc_address", "0x" + "22" * 20).setting("chain_id", "8453")


def test_balances_come_from_the_reader_given(chain_store):
    def read(rpc_url, wallet, usdc_address, chain_id, timeout_s=5.0):
        return ChainBalances(usdc_micro=12_345_678, eth_wei=4_200_000_000_000_001, read_at_ms=NOW - 5)

    live = LiveBalances(read=read)
    with cc.open_store(chain_store.write(), balances=live) as store:
        balances = store.snapshot(now=NOW).balances
    assert (balances.source, balances.usdc_micro, balances.eth_wei) == ("chain", 12_345_678, 4_200_000_000_000_001)
    settings = parse_settings(dict(chain_store.spec.settings))[0]
    assert live.get(settings, wait_s=0)[0].usdc_micro == 12_345_678  # not closed with the store: the caller's
    live.close()


def test_a_dashboard_never_waits_on_a_slow_chain_read(chain_store):
    release = threading.Event()

    def silent(rpc_url, wallet, usdc_address, chain_id, timeout_s=5.0):
        release.wait(10)
        raise ChainError(f"{rpc_url} timed out after {timeout_s:g} s")

    live = LiveBalances(read=silent)
    with cc.open_store(chain_store.write(), balances=live) as store:
        started = time.monotonic()
        first = store.snapshot(now=NOW, chain_wait_s=0.2)
        assert time.monotonic() - started < 2
        assert first.balances.source == "snapshot"
        assert first.balances.note == READING_NOTE
        release.set()  # the read gives up (after 5 s, for a real one)
        later = store.snapshot(now=NOW, chain_wait_s=2)
        assert later.balances.source == "snapshot"
        assert later.balances.usdc_micro == 1_500_000
        assert "timed out after 5 s" in later.balances.note
    live.close()


@pytest.mark.parametrize(
    "tuning", [{"sync_check_rows": -1}, {"cache_max_age_s": -0.5}, {"cache_max_age_s": float("nan")}]
)
def test_negative_tuning_is_refused(tmp_path, tuning):
    path = StoreBuilder(str(tmp_path / "store.db")).write()
    with pytest.raises(ValueError, match="must not be negative"):
        cc.open_store(path, **tuning)


def test_chunk_rows_cut_a_full_read_into_queries_and_change_no_figure(tmp_path):
    builder = StoreBuilder(str(tmp_path / "store.db"))
    for i in range(7):
        builder.call(NOW - i * 3_600_000, "seller" if i % 2 else "buyer", status_code=500 if i == 3 else 200)
    path = builder.write()
    with cc.open_store(path, cache=False) as store:
        whole = store.snapshot(now=NOW).to_dict()
    with cc.open_store(path, cache=False, chunk_rows=2) as store:
        assert store._source.chunk_rows == 2
        assert [chunk.height for chunk in store._source.read_chunks("calls")] == [2, 2, 2, 1]
        assert store.snapshot(now=NOW).to_dict() == whole
    with pytest.raises(ValueError, match="chunk_rows must be at least 1"):
        cc.open_store(path, chunk_rows=0)
