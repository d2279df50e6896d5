"""JSON-RPC over HTTP(S) with one wall-clock deadline for a whole read and a bound on each answer.

A socket timeout bounds each ``recv`` only: an endpoint that sends one byte a
second, or a header that never ends, keeps such a client waiting without end.
Here a :class:`Deadline` covers every request of a read; when it passes, a
watchdog shuts the socket down, which wakes the blocked read at once. An
answer's body is read up to :data:`MAX_BODY_BYTES` and no further.

Errors are :class:`RPCFailure` with a short, fixed reason (never a library's
message, which may quote the URL); :mod:`ccanalytics.chain` names the
endpoint masked in front of it.

>>> Deadline(5.0).left() <= 5.0
True
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["MAX_BODY_BYTES", "Deadline", "RPCFailure", "call"]

# A balance answer is under 200 bytes; an error with data a few kB.
MAX_BODY_BYTES = 256 * 1024


class RPCFailure(Exception):
    """A request failed; ``reason`` is a few words safe to show (``unreachable: connection refused``)."""

    def __init__(self, reason: str, *, server_message: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # The endpoint's own error text, to be scrubbed of secrets before it is shown.
        self.server_message = server_message


class Deadline:
    """One wall-clock budget shared by the requests of a read.

    Parameters
    ----------
    seconds
        The whole budget.

    Examples
    --------
    >>> d = Deadline(0.0)
    >>> d.expired
    False
    >>> d.left()
    0.0
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self.expired = False  # set by the watchdog when it had to cut a socket
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None

    def left(self) -> float:
        """Seconds left of the budget (never negative)."""
        return max(0.0, self._end - time.monotonic())

    def hold(self, sock: socket.socket | None) -> None:
        """Cut ``sock`` too when the budget ends: once the headers are in, http.client hands it to the answer."""
        with self._lock:
            self._sock = sock

    def watch(self, conn: http.client.HTTPConnection) -> threading.Timer:
        """Shut ``conn``'s socket down when the budget ends; cancel the returned timer when done."""

        def cut() -> None:
            with self._lock:
                self.expired = True
                sock = conn.sock if conn.sock is not None else self._sock  # see ``hold``
                if sock is not None:
                    # The plain socket's shutdown, even under TLS: it wakes a blocked read at once.
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)

        timer = threading.Timer(self.left(), cut)
        timer.daemon = True
        timer.start()
        return timer


def _reason_of(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "unreachable: connection refused"
    if isinstance(exc, socket.gaierror):
        return "unreachable: host not found"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "unreachable: its TLS certificate is not valid"
    if isinstance(exc, ssl.SSLError):
        return "unreachable: TLS failed"
    if isinstance(exc, http.client.HTTPException) and not isinstance(exc, http.client.RemoteDisconnected):
        return "gave an answer that is not HTTP"
    return "unreachable: connection failed"


def _connection(url: str, timeout_s: float) -> tuple[http.client.HTTPConnection, str, dict[str, str]]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Connection": "close"}
    if parts.username is not None or parts.password is not None:
        import base64

        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout_s, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return conn, target, headers


def _post(url: str, body: bytes, deadline: Deadline, max_bytes: int) -> bytes:
    """POST ``body``; the answer's body, or RPCFailure. Never outlives ``deadline``."""
    if deadline.left() <= 0:
        raise RPCFailure(f"unreachable: timed out after {deadline.seconds:g} s")
    conn, target, headers = _connection(url, deadline.left())
    timer = deadline.watch(conn)
    failure: str | None = None
    data = b""
    answer: http.client.HTTPResponse | None = None
    try:
        conn.request("POST", target, body=body, headers=headers)
        deadline.hold(conn.sock)
        answer = conn.getresponse()
        if not 200 <= answer.status < 300:
            failure = f"answered HTTP {answer.status}"
        else:
            length = answer.getheader("Content-Length")
            if length is not None and length.strip().isdigit() and int(length) > max_bytes:
                failure = f"sent an answer over {max_bytes // 1024} kB"
            else:
                data = answer.read(max_bytes + 1)
                if len(data) > max_bytes:
                    failure = f"sent an answer over {max_bytes // 1024} kB"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        timed_out = deadline.expired or isinstance(exc, TimeoutError)
        failure = f"unreachable: timed out after {deadline.seconds:g} s" if timed_out else _reason_of(exc)
    finally:
        timer.cancel()
        deadline.hold(None)
        if answer is not None:  # it holds the socket when the connection closes (Connection: close)
            answer.close()
        conn.close()
    if failure is None and deadline.expired:
        failure = f"unreachable: timed out after {deadline.seconds:g} s"
    if failure is not None:
        raise RPCFailure(failure)
    return data


def call(url: str, method: str, params: list[Any], deadline: Deadline, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """One JSON-RPC call: its ``result``, or :class:`RPCFailure`.

    Parameters
    ----------
    url
        An ``http://`` or ``https://`` endpoint (user and password in it go as Basic auth).
    method, params
        The JSON-RPC method and its parameters.
    deadline
        The read's budget; the call never outlives it.
    max_bytes
        The largest answer body read; a longer one is refused unread.

    Returns
    -------
    Any
        The answer's ``result``, as JSON decodes it.

    Raises
    ------
    RPCFailure
        Unreachable, too slow, too big, not JSON-RPC, or a JSON-RPC error
        (its text in ``server_message``).

    Examples
    --------
    Nothing listens on port 1:

    >>> call("http://127.0.0.1:1", "eth_chainId", [], Deadline(1.0))
    Traceback (most recent call last):
    ...
    ccanalytics.chain.rpc.RPCFailure: unreachable: connection refused
    """
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    data = _post(url, body, deadline, max_bytes)
    try:
        answer = json.loads(data)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
        raise RPCFailure("gave an answer that is not JSON-RPC")
    if answer.get("error") is not None:
        error = answer["error"]
        message = error.get("message", "") if isinstance(error, dict) else error
        raise RPCFailure("returned an error", server_message=str(message))
    return answer["result"]
