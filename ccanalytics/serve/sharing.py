"""One snapshot per refresh for every tab of a ``serve`` (issue 16): serve computes, the tabs' kernels fetch.

``ccanalytics serve`` keeps one :class:`~ccanalytics.store.Store` and answers
its Voila kernels on a Unix socket in a private folder (:class:`SnapshotServer`);
a kernel asks for a view (``range``, ``api``) and gets the snapshot's JSON.
:class:`SnapshotCache` keeps the last snapshot of each view for a *reuse
window* (half the refresh interval, at most a second): the first request of a
window computes, every other tab's request in it gets the same bytes, and
concurrent requests wait for that one computation. The kernels refresh on a
common grid (``ui.refresh``), so their requests fall in one window.

:class:`SnapshotSource` is the kernel's side: a few lines of ``socket`` and
``json`` (no polars, no store), and, when the channel is down (no socket, no
answer, a garbled one), the store opened and computed in the kernel itself,
as before: the tab keeps working and shows nothing wrong.

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
import socket
import socketserver
import struct
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "SOCKET_ENV",
    "SnapshotCache",
    "SnapshotServer",
    "SnapshotSource",
    "reuse_window",
    "share_snapshots",
    "status_line",
]

SOCKET_ENV = "CCANALYTICS_SNAPSHOT_SOCKET"
MAX_REQUEST = 4096  # bytes of one request line
MAX_ANSWER = 256 * 1024 * 1024  # bytes of one snapshot: far above any real one
VIEWS_KEPT = 32  # views whose last snapshot is kept (a visitor can ask for many `api=` values)
MAX_CHAIN_WAIT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
ANSWER_TIMEOUT_S = 120.0  # a first ranged read of a big store takes seconds; a hung serve, at most this
RETRY_CHANNEL_S = 30.0  # after a failure, the kernel computes itself this long before asking again
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
    :meth:`close` stops answering and removes the folder.
    """

    def __init__(self, cache: SnapshotCache) -> None:
        self.cache = cache
        self.folder = Path(tempfile.mkdtemp(prefix="ccanalytics-share-"))  # 0700
        self.path = self.folder / "snapshots.sock"
        uid = os.getuid()

        class Handler(socketserver.StreamRequestHandler):
            timeout = 10.0  # to send a request line

            def handle(self) -> None:
                if _peer_uid(self.connection) not in (None, uid):
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
                except Exception as exc:  # a fault of ours: the kernel computes itself
                    self._send({"fault": type(exc).__name__})
                else:
                    self._send({"size": len(payload)}, payload)

            def _send(self, header: dict, payload: bytes = b"") -> None:
                with contextlib.suppress(OSError):  # the kernel went away meanwhile
                    self.wfile.write(json.dumps(header).encode() + b"\n" + payload)

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        try:
            self._server = Server(str(self.path), Handler)
            os.chmod(self.path, 0o600)
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self._thread = threading.Thread(target=self._server.serve_forever, name="ccanalytics-share", daemon=True)

    def start(self) -> SnapshotServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _peer_uid(connection: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux ``SO_PEERCRED``); ``None`` where it cannot be asked."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        _pid, peer, _gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, option, 12))
    except OSError:
        return None
    return peer


class ChannelDown(Exception):
    """The snapshot channel did not answer as it should (the kernel then computes itself)."""


class SnapshotSource:
    """A kernel's snapshots: from serve's channel when there is one, else computed here from the store.

    Parameters
    ----------
    db
        The store (opened in this process only when the channel is down).
    socket_path
        serve's socket; default :data:`SOCKET_ENV` from the environment (none: always compute here).
    clock
        Monotonic seconds; replaceable in tests.

    Call it as ``store.snapshot(...).to_dict()`` is called: ``source(chain_wait_s=1.0, range="7d", api=None)``.
    ``fetched`` and ``computed`` count where the snapshots came from.
    """

    def __init__(
        self, db: str | os.PathLike[str], socket_path: str | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.db = db
        self.socket_path = (os.environ.get(SOCKET_ENV) or None) if socket_path is None else socket_path
        self._clock = clock
        self._store: Any = None
        self._down_until = float("-inf")
        self.fetched = 0
        self.computed = 0

    def __call__(self, *, chain_wait_s: float = 1.0, range: str | None = None, api: str | None = None) -> dict:
        if self.socket_path and self._clock() >= self._down_until:
            try:
                snapshot = self._fetch({"range": range, "api": api, "chain_wait_s": chain_wait_s})
            except ChannelDown:
                self._down_until = self._clock() + RETRY_CHANNEL_S
            else:
                self.fetched += 1
                return snapshot
        return self._compute(chain_wait_s=chain_wait_s, range=range, api=api)

    def _fetch(self, request: dict) -> dict:
        assert self.socket_path is not None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
                channel.settimeout(CONNECT_TIMEOUT_S)
                channel.connect(self.socket_path)
                channel.settimeout(ANSWER_TIMEOUT_S)
                channel.sendall(json.dumps(request).encode() + b"\n")
                with channel.makefile("rb") as answer:
                    header = json.loads(answer.readline(MAX_REQUEST))
                    if not isinstance(header, dict):
                        raise ChannelDown("no header")
                    if isinstance(header.get("error"), str):
                        raise CCError(header["error"])  # the store's own problem: the pill shows it
                    size = header.get("size")
                    if not isinstance(size, int) or not 0 <= size <= MAX_ANSWER:
                        raise ChannelDown("no snapshot")
                    payload = answer.read(size)
                    if len(payload) != size:
                        raise ChannelDown("cut short")
            snapshot = json.loads(payload)
        except (OSError, ValueError) as exc:  # refused, missing, timed out, not JSON
            raise ChannelDown(type(exc).__name__) from None
        if not isinstance(snapshot, dict):
            raise ChannelDown("not a snapshot")
        return snapshot

    def _compute(self, **args: Any) -> dict:
        if self._store is None:
            from ccanalytics.store import open_store

            self._store = open_store(self.db)
        self.computed += 1
        return self._store.snapshot(**args).to_dict()


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
