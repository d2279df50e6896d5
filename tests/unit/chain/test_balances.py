"""``LiveBalances`` with a fake chain reader: freshness, waiting, key changes, mismatches, notes.

No JSON-RPC node here: the reader is the seam (``LiveBalances(read=…)``), and
``tests/unit/test_chain.py`` tests the real one against anvil.
"""

from __future__ import annotations

import threading

import pytest

from ccanalytics.chain import ChainBalances, ChainError, ChainIdMismatch
from ccanalytics.chain.balances import FRESH_MS, READ_TIMEOUT_S, LiveBalances
from ccanalytics.model import READING_NOTE, Balances
from ccanalytics.settings import parse_settings

T = 1_795_608_000_000
WALLET = "0x" + "11" * 20
OTHER_WALLET = "0x" + "33" * 20
USDC = "0x" + "22" * 20


def settings(**pairs: str):
    raw = {"rpc_url": "http://127.0.0.1:1/rpc", "wallet_address": WALLET, "usdc_address": USDC, "chain_id": "8453"}
    return parse_settings({**raw, **pairs})[0]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class FakeReader:
    """Answers with a balance per wallet, counts its reads, and can be held until released."""

    def __init__(self, *, hold: bool = False, fail: Exception | None = None) -> None:
        self.calls: list[tuple] = []
        self.release = threading.Event()
        self.started = threading.Event()
        self.fail = fail
        if not hold:
            self.release.set()

    def __call__(self, rpc_url, wallet, usdc_address, chain_id, timeout_s=5.0):
        self.calls.append((rpc_url, wallet, usdc_address, chain_id, timeout_s))
        self.started.set()
        assert self.release.wait(10), "the test never released the read"
        if self.fail is not None:
            raise self.fail
        # The first wallet has 7 USDC, the other 9; the last digit counts that wallet's reads.
        usdc = 7_000_000 if wallet == WALLET else 9_000_000
        reads = sum(call[1] == wallet for call in self.calls)
        return ChainBalances(usdc_micro=usdc + reads, eth_wei=10**15, read_at_ms=T)


@pytest.fixture
def clock():
    return Clock(T)


def live(reader, clock) -> LiveBalances:
    return LiveBalances(read=reader, clock=clock)


def test_no_endpoint_means_no_read_and_no_live_balances(clock):
    reader = FakeReader()
    balances = live(reader, clock)
    assert balances.get(settings(rpc_url=""), wait_s=None) == (None, None)
    assert balances.get(parse_settings({"rpc_url": "http://x"})[0], wait_s=None) == (None, None)  # no wallet
    assert reader.calls == []
    balances.close()


def test_a_read_gives_exact_chain_balances_and_its_budget(clock):
    reader = FakeReader()
    balances = live(reader, clock)
    got, mismatch = balances.get(settings(), wait_s=None)
    assert got == Balances(usdc_micro=7_000_001, eth_wei=10**15, source="chain", as_of_ms=T)
    assert mismatch is None
    assert reader.calls == [("http://127.0.0.1:1/rpc", WALLET, USDC, 8453, READ_TIMEOUT_S)]
    balances.close()


def test_a_read_is_reused_within_the_freshness_window_only(clock):
    reader = FakeReader()
    balances = live(reader, clock)
    first, _ = balances.get(settings(), wait_s=None)
    clock.now = T + FRESH_MS - 1
    assert balances.get(settings(), wait_s=None)[0] == first
    assert len(reader.calls) == 1
    clock.now = T + FRESH_MS
    second, _ = balances.get(settings(), wait_s=None)
    assert len(reader.calls) == 2
    assert second.usdc_micro == 7_000_002
    balances.close()


def test_a_caller_waits_no_longer_than_it_chooses(clock):
    reader = FakeReader(hold=True)
    balances = live(reader, clock)
    assert balances.get(settings(), wait_s=0.05) == (Balances(note=READING_NOTE), None)
    assert reader.started.wait(5)
    assert balances.get(settings(), wait_s=0.05) == (Balances(note=READING_NOTE), None)  # the same read, still going
    reader.release.set()
    got, _ = balances.get(settings(), wait_s=None)
    assert got.source == "chain"
    assert len(reader.calls) == 1  # the two waits shared one read
    balances.close()


def test_a_stale_answer_is_shown_while_the_next_read_is_slow(clock):
    reader = FakeReader()
    balances = live(reader, clock)
    first, _ = balances.get(settings(), wait_s=None)
    reader.release.clear()
    clock.now = T + FRESH_MS
    assert balances.get(settings(), wait_s=0.05) == (first, None)
    reader.release.set()
    assert balances.get(settings(), wait_s=None)[0].usdc_micro == 7_000_002
    balances.close()


def test_new_settings_are_never_answered_from_the_old_ones(clock):
    reader = FakeReader()
    balances = live(reader, clock)
    assert balances.get(settings(), wait_s=None)[0].usdc_micro == 7_000_001
    other, _ = balances.get(settings(wallet_address=OTHER_WALLET), wait_s=None)  # within the freshness window
    assert other.usdc_micro == 9_000_001
    assert [call[1] for call in reader.calls] == [WALLET, OTHER_WALLET]
    balances.close()


def test_a_read_for_old_settings_that_ends_late_is_not_kept(clock):
    reader = FakeReader(hold=True)
    balances = live(reader, clock)
    assert balances.get(settings(), wait_s=0.01)[0].note == READING_NOTE
    assert reader.started.wait(5)
    assert balances.get(settings(wallet_address=OTHER_WALLET), wait_s=0.01)[0].note == READING_NOTE
    reader.release.set()
    got, _ = balances.get(settings(wallet_address=OTHER_WALLET), wait_s=None)
    assert got.usdc_micro == 9_000_001  # the other wallet's read, not the first wallet's
    assert [call[1] for call in reader.calls] == [WALLET, OTHER_WALLET]
    balances.close()


def test_an_endpoint_on_another_chain_is_a_note_and_a_data_issue(clock):
    mismatch = ChainIdMismatch("http://127.0.0.1:1/rpc serves chain 1, not 8453", actual=1, expected=8453)
    balances = live(FakeReader(fail=mismatch), clock)
    got, issue = balances.get(settings(), wait_s=None)
    assert got == Balances(note="http://127.0.0.1:1/rpc serves chain 1, not 8453")
    assert issue == "rpc_url is on chain 1, not chain_id 8453"
    balances.close()


def test_a_failed_read_is_a_note_kept_for_the_freshness_window(clock):
    reader = FakeReader(fail=ChainError("http://127.0.0.1:1/rpc is unreachable"))
    balances = live(reader, clock)
    assert balances.get(settings(), wait_s=None) == (Balances(note="http://127.0.0.1:1/rpc is unreachable"), None)
    clock.now = T + FRESH_MS - 1
    assert balances.get(settings(), wait_s=None)[0].note == "http://127.0.0.1:1/rpc is unreachable"
    assert len(reader.calls) == 1  # a failing endpoint is not asked again at every refresh
    clock.now = T + FRESH_MS
    balances.get(settings(), wait_s=None)
    assert len(reader.calls) == 2
    balances.close()


def test_reads_that_fail_at_once_never_hang_a_caller(clock):
    # The read fails in the chain thread while get() is still adding its callback: the callback runs in get().
    def fails(rpc_url, wallet, usdc_address, chain_id, timeout_s=5.0):
        raise ChainError(f"{rpc_url} is not an http:// or https:// URL")

    balances = live(fails, clock)
    answers = []

    def many_reads() -> None:
        for i in range(200):
            answers.append(balances.get(settings(rpc_url=f"ftp://rpc{i}.example/"), wait_s=1)[0])

    worker = threading.Thread(target=many_reads, daemon=True)
    worker.start()
    worker.join(timeout=20)
    balances.close()
    assert not worker.is_alive(), f"LiveBalances.get hung after {len(answers)} reads"
    assert [answer.note for answer in answers] == [
        f"ftp://rpc{i}.example/ is not an http:// or https:// URL" for i in range(200)
    ]
