"""The snapshot channel of ``serve`` (issue 16): one computation per reuse window, kernels fetch or compute."""

from __future__ import annotations

import json
import math
import os
import socket
import stat
import threading
import time
from typing import TYPE_CHECKING

import pytest

from ccanalytics.demo import write_demo
from ccanalytics.errors import CCError
from ccanalytics.serve.sharing import SnapshotCache, SnapshotServer, SnapshotSource, View, reuse_window
from ccanalytics.store import open_store

if TYPE_CHECKING:
    from pathlib import Path


def same(a, b) -> bool:
    """Equal, floats to 1e-9 relative (a float sum added in another order differs in its last bits)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b and type(a) is type(b)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def counting(payload: bytes = b'{"mode": "buyer"}', delay_s: float = 0.0):
    calls: list[tuple[View, float]] = []

    def compute(view: View, wait: float) -> bytes:
        calls.append((view, wait))
        time.sleep(delay_s)
        return payload

    return compute, calls


def test_a_snapshot_is_computed_once_per_reuse_window_and_view():
    clock = Clock()
    compute, calls = counting()
    cache = SnapshotCache(compute, reuse_s=0.5, clock=clock)
    for _ in range(20):
        cache.get(View())
    cache.get(View("7d", "x"))
    cache.get(View("7d", "x"))
    assert len(calls) == 2
    clock.now += 0.6  # the window is over: the next request computes again
    cache.get(View())
    assert len(calls) == 3
    assert cache.status() == {"computed": 3, "shared": 20, "views": 2}


def test_tabs_asking_at_once_wait_for_the_one_computation():
    compute, calls = counting(delay_s=0.2)
    cache = SnapshotCache(compute, reuse_s=reuse_window(1.0))
    answers: list[bytes] = []
    threads = [threading.Thread(target=lambda: answers.append(cache.get(View()))) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and answers == [b'{"mode": "buyer"}'] * 10


def test_a_store_error_is_shared_too_and_kept_to_one_line():
    clock = Clock()
    calls = []

    def broken(view: View, wait: float) -> bytes:
        calls.append(view)
        raise CCError("cc.db is not a SQLite database\nmore detail")

    cache = SnapshotCache(broken, reuse_s=1.0, clock=clock)
    for _ in range(3):
        with pytest.raises(CCError, match=r"^cc.db is not a SQLite database$"):
            cache.get(View())
    assert len(calls) == 1


def test_only_the_last_views_asked_are_kept():
    compute, calls = counting()
    cache = SnapshotCache(compute, reuse_s=60.0, views_kept=2)
    for api in ("a", "b", "a", "c", "a", "b"):
        cache.get(View("24h", api))
    # a, b, (a kept), c evicts b, (a kept), b again
    assert [view.api for view, _ in calls] == ["a", "b", "c", "b"]
    assert cache.status()["views"] == 2


@pytest.mark.parametrize(
    "request_",
    [[], {"range": "5y"}, {"range": "7d", "api": 3}, {"range": "7d", "api": "x" * 201}, {"chain_wait_s": -1}],
)
def test_a_request_outside_the_views_is_refused(request_):
    with pytest.raises(CCError):
        View.parse(request_)


def test_the_overview_ignores_an_api_and_the_chain_wait_is_capped():
    assert View.parse({"api": "x", "chain_wait_s": 60}) == (View(None, None), 5.0)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "cc.db"
    write_demo(path, days=2, rpc_url=None)
    return path


@pytest.fixture
def server(store_path: Path):
    store = open_store(store_path)

    def compute(view: View, wait: float) -> bytes:
        return json.dumps(store.snapshot(chain_wait_s=wait, range=view.range, api=view.api).to_dict()).encode()

    running = SnapshotServer(SnapshotCache(compute, reuse_s=0.5)).start()
    try:
        yield running
    finally:
        running.close()
        store.close()


def test_a_kernel_fetches_what_it_would_have_computed(server: SnapshotServer, store_path: Path):
    source = SnapshotSource(store_path, str(server.path))
    fetched = source(chain_wait_s=0, range="7d")
    assert source.fetched == 1 and source.computed == 0 and source._store is None
    with open_store(store_path) as store:
        own = store.snapshot(fetched["now"], chain_wait_s=0, range="7d").to_dict()
    assert same(fetched, own)
    assert fetched["view"]["range"] == "7d"


def test_the_socket_is_private(server: SnapshotServer):
    assert stat.S_IMODE(os.stat(server.folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600


def test_garbage_on_the_socket_gets_a_one_line_refusal(server: SnapshotServer):
    for junk in (b"not json\n", b"x" * 10_000 + b"\n", b'{"range": "5y"}\n'):
        with socket.socket(socket.AF_UNIX) as channel:
            channel.connect(str(server.path))
            channel.sendall(junk)
            answer = json.loads(channel.makefile("rb").readline())
        assert answer == {"error": "the snapshot channel got a request it does not understand"}
    assert server.cache.status()["computed"] == 0


def test_a_kernel_computes_itself_when_the_channel_is_down(store_path: Path, tmp_path: Path):
    clock = Clock()
    source = SnapshotSource(store_path, str(tmp_path / "no-such.sock"), clock=clock)
    first = source(chain_wait_s=0)
    assert source.computed == 1 and source.fetched == 0 and first["mode"]
    # A serve that answers garbage is down as well.
    junk = tmp_path / "junk.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(junk))
    listener.listen()

    def answer_junk() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(4096)
            connection.sendall(b'{"size": 100}\n{"cut')

    thread = threading.Thread(target=answer_junk)
    thread.start()
    garbled = SnapshotSource(store_path, str(junk), clock=clock)
    assert garbled(chain_wait_s=0)["mode"] == first["mode"]
    thread.join()
    listener.close()
    assert garbled.computed == 1 and garbled.fetched == 0


def test_a_kernel_asks_the_channel_again_after_a_while(server: SnapshotServer, store_path: Path):
    clock = Clock()
    source = SnapshotSource(store_path, str(server.path), clock=clock)
    real = source.socket_path
    source.socket_path = real + ".gone"
    source(chain_wait_s=0)
    source.socket_path = real
    source(chain_wait_s=0)  # still within the retry delay: computed here
    assert (source.computed, source.fetched) == (2, 0)
    clock.now += 31
    source(chain_wait_s=0)
    assert (source.computed, source.fetched) == (2, 1)


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
        assert source.computed == 0  # the store's own problem, not the channel's: no second try here
    finally:
        server.close()
    assert not server.folder.exists()
