"""``chain.rpc``: one JSON-RPC call against a real local HTTP server, within its deadline and size bound."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ccanalytics.chain.rpc import Deadline, RPCFailure, call

ANSWERS = {
    "/ok": (200, b'{"jsonrpc": "2.0", "id": 1, "result": "0x2105"}'),
    "/error": (200, b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "rate limited"}}'),
    "/plain": (200, b"<html>hello</html>"),
    "/json": (200, b'{"hello": 1}'),
    "/down": (503, b"busy"),
    "/big": (200, b'{"result": "' + b"0" * 2_000 + b'"}'),
}


class Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, dict, str | None]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Handler.seen.append((self.path, body, self.headers.get("Authorization")))
        if self.path == "/drip":  # the headers at once, then a body of spaces, one every 0.1 s for 10 s
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:  # the client hung up: what the test wants
                self.close_connection = True
            return
        status, answer = ANSWERS[self.path]
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_call_sends_json_rpc_and_gives_its_result(url):
    assert call(url + "/ok", "eth_chainId", [], Deadline(5)) == "0x2105"
    path, body, auth = Handler.seen[-1]
    assert (path, body, auth) == ("/ok", {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, None)


def test_a_user_and_password_in_the_url_go_as_basic_auth(url):
    call(url.replace("http://", "http://me:p%40ss@") + "/ok", "eth_chainId", [], Deadline(5))
    assert Handler.seen[-1][2] == "Basic " + base64.b64encode(b"me:p@ss").decode()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/plain", "gave an answer that is not JSON-RPC"),
        ("/json", "gave an answer that is not JSON-RPC"),
        ("/down", "answered HTTP 503"),
    ],
)
def test_what_is_no_answer_is_named_in_a_few_words(url, path, reason):
    with pytest.raises(RPCFailure) as caught:
        call(url + path, "eth_chainId", [], Deadline(5))
    assert caught.value.reason == reason and caught.value.server_message is None


def test_a_json_rpc_error_keeps_the_servers_text_apart(url):
    with pytest.raises(RPCFailure) as caught:
        call(url + "/error", "eth_chainId", [], Deadline(5))
    assert (caught.value.reason, caught.value.server_message) == ("returned an error", "rate limited")


def test_an_answer_over_the_bound_is_refused(url):
    with pytest.raises(RPCFailure, match="sent an answer over 1 kB"):
        call(url + "/big", "eth_chainId", [], Deadline(5), max_bytes=1024)


def test_a_body_dripping_after_prompt_headers_is_cut_off_at_the_deadline(url):
    started = time.monotonic()
    with pytest.raises(RPCFailure, match=r"unreachable: timed out after 0.5 s"):
        call(url + "/drip", "eth_chainId", [], Deadline(0.5))
    assert time.monotonic() - started < 3  # a generous bound: the deadline exists


def test_a_spent_deadline_sends_nothing(url):
    before = len(Handler.seen)
    deadline = Deadline(0.0)
    with pytest.raises(RPCFailure, match="timed out after 0 s"):
        call(url + "/ok", "eth_chainId", [], deadline)
    assert len(Handler.seen) == before
