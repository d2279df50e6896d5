"""Balance reads against a misbehaving JSON-RPC endpoint: dripping, endless, huge, impossible, indiscreet.

The endpoint is a raw socket server on 127.0.0.1 (an HTTP library would not
misbehave on request). Each path is one behaviour. The bounds on time are a
correctness check of the deadline (5 s for a whole read), never a benchmark.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from ccanalytics.chain import ChainError, read_balances
from ccanalytics.chain.balances import LiveBalances
from ccanalytics.model import READING_NOTE
from ccanalytics.settings import parse_settings
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from collections.abc import Iterator

CHAIN_ID = 8453
WALLET = "0x" + "11" * 20
USDC = "0x" + "22" * 20
PASSWORD = "hunter2pw"
USER = "operator7"
ALL_ONES = "0x" + "f" * 64


def _word(value: int) -> str:
    return "0x" + f"{value:064x}"


# What each honest path answers, per method (a chain holding 12.345678 USDC and 1 wei).
HONEST = {"eth_chainId": hex(CHAIN_ID), "decimals": _word(6), "balanceOf": _word(12_345_678), "eth_getBalance": "0x1"}


def _method(request: dict) -> str:
    if request["method"] == "eth_call":
        return "decimals" if request["params"][0]["data"] == "0x313ce567" else "balanceOf"
    return request["method"]


class Hostile:
    """A loopback JSON-RPC endpoint; the first path segment picks its behaviour."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                conn.settimeout(30)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                head, _, body = head.partition(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:])
                while len(body) < int(headers.get("Content-Length", "0")):
                    body += conn.recv(65536)
                path = lines[0].split()[1]
                self._answer(conn, path.split("/")[1], json.loads(body), headers)
        except OSError:
            return  # the client gave up: that is the point

    def _send(self, conn: socket.socket, payload: dict) -> None:
        body = json.dumps(payload).encode()
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
        conn.sendall(body)

    def _answer(self, conn: socket.socket, behaviour: str, request: dict, headers: dict) -> None:
        method = _method(request)
        result = {"jsonrpc": "2.0", "id": request["id"], "result": HONEST[method]}
        if behaviour == "drip":  # a whole, correct answer, one byte a second
            body = json.dumps(result).encode()
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            for i in range(len(answer)):
                if self.stop.wait(1.0):
                    return
                conn.sendall(answer[i : i + 1])
        elif behaviour == "endless-header":  # a header line that never ends
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Padding: ")
            while not self.stop.wait(0.2):
                conn.sendall(b"a")
        elif behaviour == "many-headers":  # header lines without end, each one quickly
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self.stop.wait(0.01):
                conn.sendall(b"X-More: yes\r\n")
        elif behaviour in ("huge", "huge-chunked"):  # 50 MB of a JSON string
            start, chunk = b'{"jsonrpc":"2.0","id":1,"result":"', b"a" * 65536
            if behaviour == "huge":
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (50 * 2**20 + 30))
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                start, chunk = (b"%x\r\n%s\r\n" % (len(part), part) for part in (start, chunk))
            conn.sendall(start)
            for _ in range(50 * 16):
                conn.sendall(chunk)
        elif behaviour in ("all-ones", "minus", "minus-hex", "wide"):
            if behaviour == "all-ones" and method == "balanceOf":
                result["result"] = ALL_ONES
            if behaviour == "minus" and method == "eth_getBalance":
                result["result"] = -1
            if behaviour == "minus-hex" and method == "eth_getBalance":
                result["result"] = "-0x1"
            if behaviour == "wide" and method == "eth_getBalance":
                result["result"] = "0x1" + "0" * 64  # 2**256: does not fit a uint256
            self._send(conn, result)
        elif behaviour == "echo":  # an error that quotes everything it was sent
            auth = headers.get("Authorization", "")
            message = (
                f"invalid credentials: password {PASSWORD} / {quote(PASSWORD)} for {USER}; "
                f"header {auth}; basic {auth.removeprefix('Basic ')}; PASSWORD {PASSWORD.upper()}"
            )
            self._send(conn, {"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32000, "message": message}})
        else:
            self._send(conn, result)

    def close(self) -> None:
        self.stop.set()
        self.accepter.join()
        self.listener.close()
        for thread in self.threads:
            thread.join(timeout=5)


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    server = Hostile()
    try:
        yield server
    finally:
        server.close()


def _read(url: str, timeout_s: float = 5.0) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(ChainError) as caught:
        read_balances(url, WALLET, USDC, CHAIN_ID, timeout_s=timeout_s)
    return str(caught.value), time.monotonic() - started


def test_an_honest_endpoint_is_read(hostile: Hostile) -> None:
    got = read_balances(hostile.url + "/honest", WALLET, USDC, CHAIN_ID)
    assert (got.usdc_micro, got.eth_wei) == (12_345_678, 1)


@pytest.mark.parametrize("behaviour", ["drip", "endless-header"])
def test_a_dripping_endpoint_is_cut_off_at_the_deadline(hostile: Hostile, behaviour: str) -> None:
    message, elapsed = _read(f"{hostile.url}/{behaviour}")
    assert message == f"RPC endpoint {hostile.url}/{behaviour} unreachable: timed out after 5 s"
    assert elapsed < 10  # the whole read's budget is 5 s, however the bytes come


def test_headers_without_end_are_refused(hostile: Hostile) -> None:
    message, elapsed = _read(f"{hostile.url}/many-headers")
    assert message.endswith(("gave an answer that is not HTTP", "timed out after 5 s")), message
    assert elapsed < 10


@pytest.mark.parametrize("behaviour", ["huge", "huge-chunked"])
def test_a_huge_answer_is_refused_unread(hostile: Hostile, behaviour: str) -> None:
    read_balances(hostile.url + "/honest", WALLET, USDC, CHAIN_ID)  # imports done: only the read is measured
    tracemalloc.start()
    try:
        message, elapsed = _read(f"{hostile.url}/{behaviour}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == f"RPC endpoint {hostile.url}/{behaviour} sent an answer over 256 kB"
    assert peak < 8 * 2**20, f"read {peak / 2**20:.0f} MB of a 50 MB answer"
    assert elapsed < 10


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("all-ones", "gave an impossible answer: a USDC balance of 2**128 or more"),
        ("wide", "gave an answer that is not JSON-RPC"),
        ("minus", "gave an answer that is not JSON-RPC"),
        ("minus-hex", "gave an impossible answer: a negative ETH balance"),
    ],
)
def test_an_impossible_balance_is_refused(hostile: Hostile, behaviour: str, reason: str) -> None:
    message, _ = _read(f"{hostile.url}/{behaviour}")
    assert message == f"RPC endpoint {hostile.url}/{behaviour} {reason}"


def test_a_password_echoed_back_is_masked_in_every_form(hostile: Hostile) -> None:
    host = hostile.url.removeprefix("http://")
    message, _ = _read(f"http://{USER}:{PASSWORD}@{host}/echo")
    assert message.startswith(f"RPC endpoint http://***@{host}/echo returned an error: invalid credentials")
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, PASSWORD.upper(), USER, basic, basic.rstrip("="), "hunter2"):
        assert secret not in message, message


def test_a_url_encoded_password_is_masked_too(hostile: Hostile) -> None:
    host = hostile.url.removeprefix("http://")
    message, _ = _read(f"http://{USER}:{quote('hunter2pw')}@{host}/echo")
    assert PASSWORD not in message and USER not in message


# -- the store and the page ------------------------------------------------------------------------


def _settings(url: str):
    settings, _ = parse_settings(
        {"rpc_url": url, "wallet_address": WALLET, "usdc_address": USDC, "chain_id": str(CHAIN_ID)}
    )
    return settings


@pytest.mark.slow
def test_a_dripping_endpoint_leaves_reading_and_falls_back(hostile: Hostile) -> None:
    live = LiveBalances()
    try:
        first, _ = live.get(_settings(hostile.url + "/drip"), wait_s=0)
        assert first is not None and first.note == READING_NOTE
        time.sleep(6)  # the read gives up after 5 s, whatever the endpoint does
        later, _ = live.get(_settings(hostile.url + "/drip"), wait_s=0)
        assert later is not None and later.note is not None and "timed out after 5 s" in later.note
        # The one chain thread is free again: the next read of another endpoint answers.
        honest, _ = live.get(_settings(hostile.url + "/honest"), wait_s=5)
        assert honest is not None and honest.usdc_micro == 12_345_678
    finally:
        live.close()


def test_a_read_that_fails_at_once_does_not_hang_the_store() -> None:
    # The read of an ftp:// URL fails at once, in the chain thread, while get() adds its callback.
    live = LiveBalances()
    answers: list[object] = []

    def many_reads() -> None:
        for i in range(200):
            answers.append(live.get(_settings(f"ftp://rpc{i}.example/"), wait_s=1)[0])

    worker = threading.Thread(target=many_reads, daemon=True)
    worker.start()
    worker.join(timeout=20)
    live.close()
    assert not worker.is_alive(), f"LiveBalances.get hung after {len(answers)} reads"
    assert all("is not an http:// or https:// URL" in answer.note for answer in answers)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_snapshot_gives_up_on_a_dripping_endpoint_within_ten_seconds(hostile: Hostile, tmp_path) -> None:
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.call(1_795_608_000_000).balance(1_795_607_000_000, usdc_micro=1_500_000, eth_wei="1")
    builder.setting("rpc_url", f"http://{USER}:{PASSWORD}@{hostile.url.removeprefix('http://')}/drip")
    builder.setting("wallet_address", WALLET).setting("usdc_address", USDC).setting("chain_id", str(CHAIN_ID))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "snapshot", "--db", builder.write()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    balances = json.loads(result.stdout)["balances"]
    assert balances["source"] == "snapshot" and "timed out after 5 s" in balances["note"]
    assert PASSWORD not in result.stdout + result.stderr
    assert elapsed < 15  # 5 s of budget, plus the start of Python and polars on a busy machine


@pytest.mark.slow
def test_snapshot_shows_an_endpoint_error_without_the_password_in_any_form(hostile: Hostile, tmp_path) -> None:
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.call(1_795_608_000_000).balance(1_795_607_000_000, usdc_micro=1_500_000, eth_wei="1")
    builder.setting("rpc_url", f"http://{USER}:{PASSWORD}@{hostile.url.removeprefix('http://')}/echo")
    builder.setting("wallet_address", WALLET).setting("usdc_address", USDC).setting("chain_id", str(CHAIN_ID))
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "snapshot", "--db", builder.write()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    note = json.loads(result.stdout)["balances"]["note"]
    assert "returned an error: invalid credentials" in note
    basic = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, PASSWORD.upper(), USER, basic, basic.rstrip("="), quote(PASSWORD)):
        assert secret not in result.stdout + result.stderr
