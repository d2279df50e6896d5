"""A tab's kernel side of serve's snapshot channel (issue 16): fetch the snapshot, retry, and fall back rarely.

A dashboard kernel of ``ccanalytics serve`` asks serve for each refresh's
snapshot on a Unix socket (``ccanalytics.serve.sharing``) and only renders it:
about 165 MB, no polars, no store. When the channel fails, the kernel

1. tries again within the refresh (:data:`TRIES_S`: serve listens again within
   a second when its socket is gone, ``SnapshotServer``'s watchdog);
2. while it still fails, the refresh fails with a one-line reason (the page
   keeps its last figures and its pill says why);
3. only after :data:`FALLBACK_AFTER_S` of failures does it start a snapshot
   process of its own (``ccanalytics.serve.fallback``: serve's server code on
   the store, on a private socket) and asks it as it asked serve: the tab keeps
   following the store, and the kernel still loads no polars (the process holds
   the store and ends with the kernel). That is written once to serve's log (the
   kernel's original stderr, not the page), and so is the channel's return: the
   kernel asks it again every :data:`RETRY_CHANNEL_S`, and ends its process when
   it answers.

A socket answered by another user is a failing channel too (``SO_PEERCRED``):
someone who took the place of serve's socket cannot feed the page figures.

A kernel without a channel (``CCANALYTICS_SNAPSHOT_SOCKET`` unset: a notebook
opened outside ``serve``) computes its own snapshots from the start.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

from ccanalytics.errors import CCError
from ccanalytics.serve.fallback import FallbackProcess

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FALLBACK_AFTER_S", "RETRY_CHANNEL_S", "SOCKET_ENV", "TRIES_S", "ChannelDown", "SnapshotSource"]

SOCKET_ENV = "CCANALYTICS_SNAPSHOT_SOCKET"
MAX_HEADER = 4096  # bytes of an answer's header line
MAX_ANSWER = 256 * 1024 * 1024  # bytes of one snapshot: far above any real one
CONNECT_TIMEOUT_S = 2.0
ANSWER_TIMEOUT_S = 120.0  # a first ranged read of a big store takes seconds; a hung serve, at most this
TRIES_S = (0.0, 0.25, 0.5, 1.0)  # waits before each try of one refresh: 1.75 s in all
FALLBACK_AFTER_S = 10.0  # failing this long, the kernel computes itself
RETRY_CHANNEL_S = 30.0  # computing itself, the kernel asks the channel again this often


class ChannelDown(Exception):
    """The snapshot channel did not answer as it should."""


def _serves_log_fd() -> int:
    """The original stderr of this process: serve's log (ipykernel sends fd 2 to the page too)."""
    fd = getattr(sys.stderr, "_original_stdstream_copy", None)
    return fd if isinstance(fd, int) else 2


def _to_serves_log(line: str) -> None:
    """Write a line to serve's log."""
    with contextlib.suppress(OSError):
        os.write(_serves_log_fd(), (line + "\n").encode(errors="replace"))


def peer_uid(connection: socket.socket) -> int | None:
    """The uid of the process at the other end (Linux ``SO_PEERCRED``); ``None`` where it cannot be asked."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    try:
        _pid, peer, _gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, option, 12))
    except OSError:
        return None
    return peer


class SnapshotSource:
    """A kernel's snapshots: from serve's channel when there is one, else computed here from the store.

    Parameters
    ----------
    db
        The store (opened in this process only without a channel; in the fallback, by its own process).
    socket_path
        serve's socket; default :data:`SOCKET_ENV` from the environment (none: always compute here).
    clock, sleep, log
        Monotonic seconds, a pause and serve's log; replaceable in tests.

    Call it as ``store.snapshot(...).to_dict()`` is called: ``source(chain_wait_s=1.0, range="7d", api=None)``.
    ``fetched`` counts the snapshots serve gave, ``computed`` the others (here, or by the fallback's process).

    Examples
    --------
    >>> lines = []
    >>> source = SnapshotSource("cc.db", "/nowhere.sock", sleep=lambda s: None, log=lines.append)
    >>> source(chain_wait_s=0)
    Traceback (most recent call last):
    ...
    ccanalytics.errors.CCError: serve's snapshot channel does not answer (FileNotFoundError): trying again
    >>> source.fetched, source.computed, lines
    (0, 0, [])
    """

    def __init__(
        self,
        db: str | os.PathLike[str],
        socket_path: str | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = _to_serves_log,
    ) -> None:
        self.db = db
        self.socket_path = (os.environ.get(SOCKET_ENV) or None) if socket_path is None else socket_path
        self._clock, self._sleep, self._log = clock, sleep, log
        self._store: Any = None
        self.fallback: FallbackProcess | None = None  # this tab's own snapshot process, while serve fails
        self._failing_since: float | None = None
        self._down_until = float("-inf")  # computing itself until then
        self.fetched = 0
        self.computed = 0

    def __call__(self, *, chain_wait_s: float = 1.0, range: str | None = None, api: str | None = None) -> dict:
        if self.socket_path and self._clock() >= self._down_until:
            try:
                snapshot = self._fetch_trying({"range": range, "api": api, "chain_wait_s": chain_wait_s})
            except ChannelDown as exc:
                self._failed(str(exc))
            else:
                if self._down_until > float("-inf"):
                    self._log(f"ccanalytics: kernel {os.getpid()}: serve's snapshot channel answers again")
                    self.close()
                self._failing_since, self._down_until = None, float("-inf")
                self.fetched += 1
                return snapshot
        if self.socket_path:
            return self._from_fallback({"range": range, "api": api, "chain_wait_s": chain_wait_s})
        return self._compute(chain_wait_s=chain_wait_s, range=range, api=api)

    def close(self) -> None:
        """End this tab's own snapshot process, if it has one."""
        if self.fallback is not None:
            self.fallback.close()
            self.fallback = None

    def _failed(self, reason: str) -> None:
        """After a refresh's tries failed: a one-line error, or (failing long enough) the fallback."""
        now = self._clock()
        if self._down_until > float("-inf"):  # computing itself already: ask again later
            self._down_until = now + RETRY_CHANNEL_S
            return
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since < FALLBACK_AFTER_S:
            raise CCError(f"serve's snapshot channel does not answer ({reason}): trying again")
        self._down_until = now + RETRY_CHANNEL_S
        self._log(
            f"ccanalytics: kernel {os.getpid()}: serve's snapshot channel has not answered for "
            f"{now - self._failing_since:.0f} s ({reason}): this tab computes its own snapshots now, in a process "
            f"of its own that reads the store (the kernel loads no polars), and asks the channel again every "
            f"{RETRY_CHANNEL_S:.0f} s"
        )

    def _from_fallback(self, request: dict) -> dict:
        """The snapshot from this tab's own process: started when there is none, started again once if it fails."""
        reason = ""
        for _ in range(2):
            if self.fallback is None or not self.fallback.alive():
                self.close()
                self.fallback = FallbackProcess(self.db, stderr=_serves_log_fd())
                self._log(f"ccanalytics: kernel {os.getpid()}: its own snapshot process {self.fallback.pid} answers")
            try:
                snapshot = self._fetch(request, self.fallback.path)
            except ChannelDown as exc:
                reason = str(exc)
                self.close()
            else:
                self.computed += 1
                return snapshot
        raise CCError(f"this tab's own snapshot process does not answer ({reason})")

    def _fetch_trying(self, request: dict) -> dict:
        """The snapshot from the channel, tried :data:`TRIES_S` times; ``ChannelDown`` with the last reason."""
        reason = ""
        for wait in TRIES_S:
            if wait:
                self._sleep(wait)
            try:
                return self._fetch(request)
            except ChannelDown as exc:
                reason = str(exc)
        raise ChannelDown(reason)

    def _fetch(self, request: dict, path: str | None = None) -> dict:
        path = path or self.socket_path
        assert path is not None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as channel:
                channel.settimeout(CONNECT_TIMEOUT_S)
                channel.connect(path)
                if peer_uid(channel) not in (None, os.getuid()):
                    raise ChannelDown("answered by another user")
                channel.settimeout(ANSWER_TIMEOUT_S)
                channel.sendall(json.dumps(request).encode() + b"\n")
                with channel.makefile("rb") as answer:
                    header = json.loads(answer.readline(MAX_HEADER))
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
