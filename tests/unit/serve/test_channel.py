"""A kernel's side of serve's snapshot channel: it fetches, tries again, and computes itself only at last."""

from __future__ import annotations

import json
import os
import socket
import threading
from typing import TYPE_CHECKING

import pytest

from ccanalytics.errors import CCError
from ccanalytics.serve.channel import FALLBACK_AFTER_S, RETRY_CHANNEL_S, TRIES_S, SnapshotSource
from ccanalytics.serve.sharing import SnapshotCache, SnapshotServer, View
from ccanalytics.store import open_store
from tests.unit.serve.test_sharing import same

if TYPE_CHECKING:
    from pathlib import Path


class Clock:
    """Monotonic seconds that move only when told, or when the source waits (its ``sleep``)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def source_for(store_path: Path, socket_path: str, clock: Clock, lines: list[str]) -> SnapshotSource:
    return SnapshotSource(store_path, socket_path, clock=clock, sleep=clock.sleep, log=lines.append)


def test_a_kernel_fetches_what_it_would_have_computed(server: SnapshotServer, store_path: Path):
    source = SnapshotSource(store_path, str(server.path))
    fetched = source(chain_wait_s=0, range="7d")
    assert source.fetched == 1 and source.computed == 0 and source._store is None
    with open_store(store_path) as store:
        own = store.snapshot(fetched["now"], chain_wait_s=0, range="7d").to_dict()
    assert same(fetched, own)
    assert fetched["view"]["range"] == "7d"


def test_a_failing_channel_is_tried_again_then_a_one_line_error_then_the_kernel_computes(
    store_path: Path, tmp_path: Path
):
    clock, lines = Clock(), []
    source = source_for(store_path, str(tmp_path / "no-such.sock"), clock, lines)
    line = r"^serve's snapshot channel does not answer \(FileNotFoundError\): trying again$"
    with pytest.raises(CCError, match=line):
        source(chain_wait_s=0)
    assert clock.waits == [w for w in TRIES_S if w]  # every try of the refresh
    assert (source.fetched, source.computed, source._store, lines) == (0, 0, None, [])
    clock.now += FALLBACK_AFTER_S  # still failing this long: the tab keeps working, by its own process
    try:
        first = source(chain_wait_s=0)
        assert first["mode"] and (source.fetched, source.computed, source._store) == (0, 1, None)
        assert source.fallback is not None and source.fallback.alive()
        assert len(lines) == 2 and f"kernel {os.getpid()}" in lines[0] and "computes its own snapshots" in lines[0]
        assert lines[1].endswith(f"its own snapshot process {source.fallback.pid} answers")
        clock.waits.clear()
        source(chain_wait_s=0)  # within the retry delay: from its process at once, nothing more said
        assert (source.computed, clock.waits, len(lines)) == (2, [], 2)
    finally:
        source.close()


def test_a_garbled_answer_is_a_failing_channel(store_path: Path, tmp_path: Path):
    junk = tmp_path / "junk.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(junk))
    listener.listen(8)

    def answer_junk() -> None:
        for _ in TRIES_S:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b'{"size": 100}\n{"cut')

    thread = threading.Thread(target=answer_junk)
    thread.start()
    clock, lines = Clock(), []
    with pytest.raises(CCError, match=r"\(cut short\)"):
        source_for(store_path, str(junk), clock, lines)(chain_wait_s=0)
    thread.join()
    listener.close()


def test_a_kernel_goes_back_to_the_channel_and_says_so(server: SnapshotServer, store_path: Path):
    clock, lines = Clock(), []
    source = source_for(store_path, str(server.path) + ".gone", clock, lines)
    with pytest.raises(CCError):
        source(chain_wait_s=0)
    clock.now += FALLBACK_AFTER_S
    source(chain_wait_s=0)
    own = source.fallback
    assert own is not None
    source.socket_path = str(server.path)  # the channel answers again
    source(chain_wait_s=0)  # still within the retry delay: from its own process
    assert (source.computed, source.fetched) == (2, 0)
    clock.now += RETRY_CHANNEL_S
    source(chain_wait_s=0)
    assert (source.computed, source.fetched) == (2, 1)
    assert lines[-1] == f"ccanalytics: kernel {os.getpid()}: serve's snapshot channel answers again"
    assert source.fallback is None and not own.alive()  # its process ended: the memory is given back


def test_a_channel_that_comes_back_within_the_tries_costs_nothing(server: SnapshotServer, store_path: Path):
    clock, lines = Clock(), []
    source = source_for(store_path, str(server.path), clock, lines)
    real = source.socket_path

    def back_after_one_try(seconds: float) -> None:
        clock.sleep(seconds)
        source.socket_path = real

    source._sleep = back_after_one_try
    source.socket_path = real + ".gone"
    assert source(chain_wait_s=0)["mode"]
    assert (source.fetched, source.computed, clock.waits, lines) == (1, 0, [TRIES_S[1]], [])


def test_a_kernel_without_a_channel_computes_from_the_start(store_path: Path, monkeypatch):
    monkeypatch.delenv("CCANALYTICS_SNAPSHOT_SOCKET", raising=False)
    source = SnapshotSource(store_path)
    assert source(chain_wait_s=0)["mode"] and (source.fetched, source.computed) == (0, 1)


def test_the_stores_error_reaches_the_kernel_as_its_line(tmp_path: Path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)

    def compute(view: View, wait: float) -> bytes:
        with open_store(junk) as store:
            return json.dumps(store.snapshot().to_dict()).encode()

    server = SnapshotServer(SnapshotCache(compute, reuse_s=0.5)).start()
    try:
        source = SnapshotSource(junk, str(server.path))
        with pytest.raises(CCError, match=r"junk\.db"):
            source(chain_wait_s=0)
        assert source.computed == 0  # the store's own problem, not the channel's: not computed here
    finally:
        server.close()
    assert not server.folder.exists()


def test_a_socket_answered_by_another_user_is_a_failing_channel(server: SnapshotServer, store_path: Path, monkeypatch):
    clock, lines = Clock(), []
    source = source_for(store_path, str(server.path), clock, lines)
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 4242)  # serve's socket is now someone else's
    with pytest.raises(CCError, match=r"\(answered by another user\): trying again"):
        source(chain_wait_s=0)
    assert source.fetched == 0
