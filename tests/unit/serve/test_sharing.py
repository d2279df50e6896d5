"""The snapshot channel of ``serve`` (issue 16): one computation per reuse window, a socket that comes back."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import stat
import threading
import time
from typing import TYPE_CHECKING

import pytest

from ccanalytics.errors import CCError
from ccanalytics.serve.sharing import SnapshotCache, SnapshotServer, SnapshotSource, View, reuse_window

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


def test_serve_listens_again_when_its_socket_is_gone(server: SnapshotServer, store_path: Path):
    lines: list[str] = []
    server._log = lines.append
    source = SnapshotSource(store_path, str(server.path))
    source(chain_wait_s=0)
    inode = os.stat(server.path).st_ino
    os.rename(server.path, server.path.with_suffix(".gone"))  # as a /tmp cleaner would remove it
    assert not server.healthy()
    # The kernel's tries within one refresh (1.75 s) outlast the watchdog's check (0.5 s).
    snapshot = source(chain_wait_s=0)
    assert (source.fetched, source.computed) == (2, 0) and snapshot["mode"]
    assert server.healthy() and os.stat(server.path).st_ino != inode
    assert stat.S_IMODE(os.stat(server.path).st_mode) == 0o600
    assert server.restarts == 1
    assert lines == ["ccanalytics: the tabs' snapshot channel was down (its socket was gone): listening again"]


def test_serve_says_once_when_it_cannot_listen_again_and_recovers(server: SnapshotServer, store_path: Path):
    lines: list[str] = []
    server._log = lines.append
    server.path.unlink()
    server.path.mkdir()  # something it cannot remove stands where the socket was
    time.sleep(2.5)
    assert len(lines) == 1 and "cannot listen again" in lines[0], lines
    server.path.rmdir()
    deadline = time.monotonic() + 5
    while not server.healthy() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.healthy() and server.restarts == 1
    assert SnapshotSource(store_path, str(server.path))(chain_wait_s=0)["mode"]
    assert lines[-1].endswith("listening again")


def test_serve_does_not_listen_in_a_folder_that_is_no_longer_its_own(server: SnapshotServer, store_path: Path):
    lines: list[str] = []
    server._log = lines.append
    gone = server.folder.with_name(server.folder.name + ".gone")
    server.folder.rename(gone)  # a cleaner removed serve's folder, and someone made one at its path, open to all
    server.folder.mkdir()
    server.folder.chmod(0o777)
    try:
        time.sleep(1.5)
        assert len(lines) == 1 and "no longer this user's private folder" in lines[0], lines
        assert not server.path.exists() and not server.healthy()
    finally:
        shutil.rmtree(gone)


def test_many_tabs_asking_at_once_all_get_in(server: SnapshotServer, store_path: Path):
    answers: list[dict] = []

    def ask() -> None:
        answers.append(SnapshotSource(store_path, str(server.path))._fetch({"range": None, "chain_wait_s": 0}))

    threads = [threading.Thread(target=ask) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 40 and all(answer["now"] == answers[0]["now"] for answer in answers)
