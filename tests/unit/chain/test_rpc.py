"""chain/rpc.py: one JSON-RPC call against a real local HTTP server that answers as scripted."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING

import pytest

from ccanalytics.chain.rpc import Deadline, RPCFailure, call
from tests.support.http import local_http

if TYPE_CHECKING:
    from collections.abc import Iterator

SCRIPT: dict[str, tuple[int, bytes, dict[str, str]]] = {
    "/ok": (200, b'{"jsonrpc": "2.0", "id": 1, "result": "0x14a34"}', {}),
    "/http500": (500, b"oops", {}),
    "/html": (200, b"<html>hello</html>", {}),
    "/no-result": (200, b'{"jsonrpc": "2.0", "id": 1}', {}),
    "/error": (200, b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "header not found"}}', {}),
    "/big-declared": (200, b"{}", {"Content-Length": str(10**9)}),
    "/big": (200, b'{"result": "' + b"a" * 5_000 + b'"}', {}),
}


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict, str | None]] = []  # noqa: RUF012  (path, body, authorization)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.seen.append((self.path, body, self.headers.get("Authorization")))
        status, payload, headers = SCRIPT[self.path.split("?")[0]]
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with local_http(_Handler) as url:
        yield url


def test_a_call_posts_json_rpc_and_returns_the_result(server: str) -> None:
    assert call(f"{server}/ok?key=1", "eth_getBalance", ["0xabc", "latest"], Deadline(5)) == "0x14a34"
    path, body, auth = _Handler.seen[-1]
    assert path == "/ok?key=1" and auth is None
    assert body == {"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0xabc", "latest"]}


def test_a_user_and_password_in_the_url_go_as_basic_auth(server: str) -> None:
    call(server.replace("http://", "http://al%40ice:s3cr%3At@") + "/ok", "eth_chainId", [], Deadline(5))
    assert _Handler.seen[-1][2] == "Basic " + base64.b64encode(b"al@ice:s3cr:t").decode()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/http500", "answered HTTP 500"),
        ("/html", "gave an answer that is not JSON-RPC"),
        ("/no-result", "gave an answer that is not JSON-RPC"),
        ("/big-declared", "sent an answer over 1 kB"),
        ("/big", "sent an answer over 1 kB"),
    ],
)
def test_a_wrong_answer_is_named(server: str, path: str, reason: str) -> None:
    with pytest.raises(RPCFailure) as failed:
        call(f"{server}{path}", "eth_chainId", [], Deadline(5), max_bytes=1024)
    assert failed.value.reason == reason and failed.value.server_message is None


def test_a_json_rpc_error_keeps_the_servers_text_apart(server: str) -> None:
    with pytest.raises(RPCFailure) as failed:
        call(f"{server}/error", "eth_call", [], Deadline(5))
    assert (failed.value.reason, failed.value.server_message) == ("returned an error", "header not found")


def test_a_server_that_never_answers_is_cut_off_at_the_deadline() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        started = time.monotonic()
        with pytest.raises(RPCFailure, match=r"unreachable: timed out after 0.5 s"):
            call(f"http://127.0.0.1:{silent.getsockname()[1]}", "eth_chainId", [], Deadline(0.5))
        assert time.monotonic() - started < 5  # a generous bound: the budget exists
    finally:
        silent.close()


def test_a_spent_budget_fails_before_connecting(server: str) -> None:
    deadline = Deadline(0.0)
    with pytest.raises(RPCFailure, match="timed out after 0 s"):
        call(f"{server}/ok", "eth_chainId", [], deadline)
    assert deadline.left() == 0.0


def test_nothing_listening_is_unreachable() -> None:
    with pytest.raises(RPCFailure, match="unreachable: connection refused"):
        call("http://127.0.0.1:1", "eth_chainId", [], Deadline(2))


def test_a_body_dripping_after_prompt_headers_is_cut_off_at_the_deadline() -> None:
    # Once the headers are in, http.client hands the socket to the answer: the deadline must still reach it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
            try:
                for _ in range(100):  # a space every 0.1 s, for 10 s
                    conn.sendall(b" ")
                    time.sleep(0.1)
            except OSError:
                pass  # the client hung up: what the test wants

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(RPCFailure, match=r"unreachable: timed out after 0.5 s"):
            call(f"http://127.0.0.1:{listener.getsockname()[1]}", "eth_chainId", [], Deadline(0.5))
        assert time.monotonic() - started < 5  # a generous bound: the budget exists
    finally:
        listener.close()
        thread.join(timeout=15)
