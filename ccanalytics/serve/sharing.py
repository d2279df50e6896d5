"""One snapshot per refresh for every tab of a ``serve`` (issue 16): serve computes, the tabs' kernels fetch.

``ccanalytics serve`` keeps one :class:`~ccanalytics.store.Store` and answers
its Voila kernels on a Unix socket in a private folder (:class:`SnapshotServer`);
a kernel asks for a view (``range``, ``api``) and gets the snapshot's JSON.
:class:`SnapshotCache` keeps the last snapshot of each view for a *reuse
window* (half the refresh interval, at most a second): the first request of a
window computes, every other tab's request in it gets the same bytes, and
concurrent requests wait for that one computation. The kernels refresh on a
common grid (``ui.refresh``), so their requests fall in one window.

:class:`~ccanalytics.serve.channel.SnapshotSource` is the kernel's side: a few
lines of ``socket`` and ``json`` (no polars, no store), which tries again when
the channel fails and computes in the kernel itself only when it keeps failing
(``ccanalytics.serve.channel``). serve listens again when its socket is gone.

Nothing read from the socket is executed: requests and answers are JSON, the
request a line of at most :data:`MAX_REQUEST` bytes; the socket is ``0600`` in
a ``0700`` folder, and the server also checks that the peer runs as its own
user (``SO_PEERCRED``), so another local user can neither connect nor read.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socketserver
import stat
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccanalytics.errors import CCError
from ccanalytics.serve.channel import SOCKET_ENV, ChannelDown, SnapshotSource, peer_uid

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "FOLDER_PREFIX",
    "SOCKET_ENV",
    "ChannelDown",
    "SnapshotCache",
    "SnapshotServer",
    "SnapshotSource",
    "reuse_window",
    "share_snapshots",
    "status_line",
]

FOLDER_PREFIX = "ccanalytics-share-"  # the private folders the sockets live in
MAX_REQUEST = 4096  # bytes of one request line
VIEWS_KEPT = 32  # views whose last snapshot is kept (a visitor can ask for many `api=` values)
MAX_CHAIN_WAIT_S = 5.0
BACKLOG = 128  # connections waiting to be accepted: every tab asks in the same moment
WATCH_S = 0.5  # how often serve checks that its socket is still there and answered
_RANGES = (None, "1h", "24h", "7d", "30d", "90d")


def reuse_window(interval_s: float) -> float:
    """How long a computed snapshot is handed to other tabs: half the refresh interval, at most 1 s.

    Examples
    --------
    >>> reuse_window(30.0), reuse_window(1.0), reuse_window(0.1)
    (1.0, 0.5, 0.05)
    """
    return min(float(interval_s) / 2, 1.0)


@dataclass(frozen=True)
class View:
    """What a tab asks for: a range (``None``: the overview) and an API filter."""

    range: str | None = None
    api: str | None = None

    @classmethod
    def parse(cls, request: Any) -> tuple[View, float]:
        """A request's view and chain wait; anything else raises ``CCError``.

        Examples
        --------
        >>> View.parse({"range": "7d", "api": "x", "chain_wait_s": 9})
        (View(range='7d', api='x'), 5.0)
        >>> View.parse({"range": "5y"})
        Traceback (most recent call last):
        ...
        ccanalytics.errors.CCError: the snapshot channel got a request it does not understand
        """
        bad = CCError("the snapshot channel got a request it does not understand")
        if not isinstance(request, dict):
            raise bad
        chosen, api, wait = request.get("range"), request.get("api"), request.get("chain_wait_s", 0.0)
        if chosen not in _RANGES or not (api is None or (isinstance(api, str) and len(api) <= 200)):
            raise bad
        if isinstance(wait, bool) or not isinstance(wait, int | float) or not wait >= 0:
            raise bad
        return cls(chosen, api if chosen is not None else None), min(float(wait), MAX_CHAIN_WAIT_S)


@dataclass
class _Entry:
    at: float
    payload: bytes | None = None  # the snapshot's JSON
    error: str | None = None  # or the CCError line its computation raised


class SnapshotCache:
    """The last snapshot of each view, computed once per reuse window whatever the number of tabs.

    Parameters
    ----------
    compute
        ``compute(view, chain_wait_s)``: the snapshot's JSON bytes; a ``CCError`` is kept as the answer too.
    reuse_s
        How long a snapshot is handed out again (see :func:`reuse_window`).
    views_kept
        How many views' snapshots are kept (least recently asked dropped first).
    clock
        Monotonic seconds; replaceable in tests.

    Examples
    --------
    >>> cache = SnapshotCache(lambda view, wait: b"{}", reuse_s=1.0, clock=lambda: 0.0)
    >>> cache.get(View()), cache.get(View())
    (b'{}', b'{}')
    >>> cache.status()
    {'computed': 1, 'shared': 1, 'views': 1}
    """

    def __init__(
        self,
        compute: Callable[[View, float], bytes],
        reuse_s: float,
        *,
        views_kept: int = VIEWS_KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._compute = compute
        self.reuse_s = reuse_s
        self._views_kept = views_kept
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[View, _Entry] = OrderedDict()
        self._locks: dict[View, threading.Lock] = {}
        self.computed = 0
        self.shared = 0

    def get(self, view: View, chain_wait_s: float = 0.0) -> bytes:
        """The snapshot of ``view``: the last one if it is fresh enough, else computed now (once)."""
        with self._lock:
            lock = self._locks.setdefault(view, threading.Lock())
        with lock:  # concurrent requests for a view wait for its one computation
            with self._lock:
                entry = self._entries.get(view)
                if entry is not None and self._clock() - entry.at <= self.reuse_s:
                    self._entries.move_to_end(view)
                    self.shared += 1
                    return _answer(entry)
            try:
                payload, error = self._compute(view, chain_wait_s), None
            except CCError as exc:
                payload, error = None, (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            # Aged from its end: the tabs that waited for a slow computation all get it.
            entry = _Entry(self._clock(), payload, error)
            with self._lock:
                self.computed += 1
                self._entries[view] = entry
                self._entries.move_to_end(view)
                while len(self._entries) > self._views_kept:
                    dropped, _ = self._entries.popitem(last=False)
                    self._locks.pop(dropped, None)
            return _answer(entry)

    def status(self) -> dict[str, int]:
        """Snapshots computed, handed out again, views kept."""
        with self._lock:
            return {"computed": self.computed, "shared": self.shared, "views": len(self._entries)}


def _answer(entry: _Entry) -> bytes:
    if entry.error is not None:
        raise CCError(entry.error)
    assert entry.payload is not None
    return entry.payload


class SnapshotServer:
    """The serve side: ``cache`` answered on a Unix socket in a new private folder.

    ``path`` is the socket (give it to the kernels in :data:`SOCKET_ENV`);
    :meth:`close` stops answering and removes the folder. Once started, a
    watchdog checks every :data:`WATCH_S` that the socket is still the one it
    listens on (a ``/tmp`` cleaner may remove it from a long-running serve) and
    that its thread runs; if not, it listens again at the same path (the kernels
    know only that one), says so on stderr, and counts it in ``restarts``.
    """

    def __init__(self, cache: SnapshotCache, *, log: Callable[[str], None] | None = None) -> None:
        self.cache = cache
        self.folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))  # 0700
        self.path = self.folder / "snapshots.sock"
        self.restarts = 0
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self._handler = _handler(cache, os.getuid())
        self._closing = threading.Event()
        self._failing = False  # listening again failed: said once, tried again every WATCH_S
        try:
            self._listen()
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self._watchdog = threading.Thread(target=self._watch, name="ccanalytics-share-watch", daemon=True)

    def _listen(self) -> None:
        self._server = _Server(str(self.path), self._handler)
        os.chmod(self.path, 0o600)
        self._inode = os.stat(self.path).st_ino
        self._thread = threading.Thread(target=self._server.serve_forever, name="ccanalytics-share", daemon=True)

    def start(self) -> SnapshotServer:
        self._thread.start()
        self._watchdog.start()
        return self

    def healthy(self) -> bool:
        """Whether the socket at ``path`` is the one listened on, and answered."""
        try:
            return self._thread.is_alive() and os.stat(self.path).st_ino == self._inode
        except OSError:
            return False

    def _watch(self) -> None:
        while not self._closing.wait(WATCH_S):
            if not self.healthy():
                self._listen_again()

    def _listen_again(self) -> None:
        with contextlib.suppress(OSError):
            if self._thread.is_alive():
                self._server.shutdown()
            self._server.server_close()
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            mine = os.lstat(self.folder)  # someone else may have made the folder again, to be listened to
            if not stat.S_ISDIR(mine.st_mode) or mine.st_uid != os.getuid() or mine.st_mode & 0o077:
                raise OSError(f"{self.folder} is no longer this user's private folder")
            if self.path.is_socket() or self.path.is_symlink() or self.path.is_file():
                self.path.unlink()
            self._listen()
        except OSError as exc:
            if not self._failing:
                self._log(f"ccanalytics: the tabs' snapshot channel is down and cannot listen again: {exc}")
            self._failing = True
            return
        self._thread.start()
        self._failing = False
        self.restarts += 1
        self._log("ccanalytics: the tabs' snapshot channel was down (its socket was gone): listening again")

    def close(self) -> None:
        self._closing.set()
        if self._watchdog.is_alive():
            self._watchdog.join()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = BACKLOG


def _handler(cache: SnapshotCache, uid: int) -> type[socketserver.StreamRequestHandler]:
    """The handler of one kernel's request: a JSON line in, a header line and the snapshot's JSON out."""

    class Handler(socketserver.StreamRequestHandler):
        timeout = 10.0  # to send a request line

        def handle(self) -> None:
            if peer_uid(self.connection) not in (None, uid):
                return  # another user: not a word (the folder's mode already keeps them out)
            line = self.rfile.readline(MAX_REQUEST + 1)
            try:
                try:
                    asked = json.loads(line) if len(line) <= MAX_REQUEST and line.endswith(b"\n") else None
                except ValueError:
                    asked = None
                view, wait = View.parse(asked)
                payload = cache.get(view, wait)
            except CCError as exc:
                self._send({"error": str(exc)})
            except Exception as exc:  # a fault of ours: the kernel tries again
                self._send({"fault": type(exc).__name__})
            else:
                self._send({"size": len(payload)}, payload)

        def _send(self, header: dict, payload: bytes = b"") -> None:
            with contextlib.suppress(OSError):  # the kernel went away meanwhile
                self.wfile.write(json.dumps(header).encode() + b"\n" + payload)

    return Handler


def share_snapshots(store: Any, interval_s: float) -> SnapshotServer:
    """Answer the kernels with ``store``'s snapshots, one computation per view and reuse window (started)."""

    def compute(view: View, chain_wait_s: float) -> bytes:
        snapshot = store.snapshot(chain_wait_s=chain_wait_s, range=view.range, api=view.api)
        return json.dumps(snapshot.to_dict()).encode()

    return SnapshotServer(SnapshotCache(compute, reuse_window(interval_s))).start()


def status_line(server: SnapshotServer) -> str:
    """What ``serve`` prints on ``SIGUSR1``: how many snapshots it computed, and handed out again.

    Examples
    --------
    >>> server = SnapshotServer(SnapshotCache(lambda view, wait: b"{}", 1.0))
    >>> status_line(server)
    'ccanalytics: snapshots for the tabs since start: 0 computed, 0 shared with other tabs (0 views)'
    >>> server.close()
    """
    status = server.cache.status()
    return (
        f"ccanalytics: snapshots for the tabs since start: {status['computed']:,} computed, "
        f"{status['shared']:,} shared with other tabs ({status['views']:,} views)"
    )
