"""A real ``ccanalytics serve`` as an attacker on the same machine or a rebinding web page would probe it.

One server with ``--token`` on its command line serves
the whole module; every request goes to 127.0.0.1, with raw HTTP so that the
Host, Origin and Sec-Fetch-Site headers are exactly the ones forged.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ccanalytics.serve import REFILL_DELAY_S
from tests.support.browser_fixtures import REPO, Server, cmdline, descendants, free_port, wait_for
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from collections.abc import Iterator

TOKEN = "t0ken-Vk3Xq9Zr7Lm2"
MAX_KERNELS = 8  # room for the pages the tests open (their kernels live until culled)
ATTACKER = "rebind.attacker.example"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = _store(tmp_path_factory.mktemp("guard"))
    env = {"CCANALYTICS_REFRESH_S": "3600", "CCANALYTICS_CULL_IDLE_S": "600"}
    served = Server(free_port(), db, env, args=("--token", TOKEN, "--max-kernels", str(MAX_KERNELS)))
    served.start()
    try:
        # The warm kernel is up: counts below start from a settled server.
        assert wait_for(lambda: len(served.kernel_pids()) == 1, 60), served.log()
        yield served
    finally:
        left = served.stop()
        assert not left, f"serve left processes behind: {left}"


def _store(folder: Path) -> Path:
    store = StoreBuilder(str(folder / "cc.db"))
    now_ms = time.time_ns() // 1_000_000
    for i in range(5):
        store.call(now_ms - (i + 1) * 3_600_000, api_id="api-a", api_name="Search", price_micro=5000)
    return Path(store.write())


def get(server: Server, path: str, **headers: str) -> tuple[int, dict[str, str], str]:
    """One GET, its status, headers and body (read whole: a page renders to its end)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=90)
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read().decode(errors="replace")
    finally:
        conn.close()


def websocket(server: Server, path: str, **headers: str) -> tuple[int, socket.socket]:
    """A websocket handshake by hand: the status (101 when accepted) and the open socket."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {headers.pop('Host', f'127.0.0.1:{server.port}')}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
        "Sec-WebSocket-Version: 13",
        *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1]), sock


def read_frame(sock: socket.socket) -> str:
    """One unmasked text frame from the server."""

    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            assert chunk, "the socket closed"
            data += chunk
        return data

    length = exactly(2)[1] & 0x7F
    if length == 126:
        length = int.from_bytes(exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(exactly(8), "big")
    return exactly(length).decode()


def settled_kernels(server: Server) -> set[str]:
    """The kernels once none has started or stopped for longer than the warm pool waits to refill after a page."""
    last, since = set(server.kernel_pids()), time.monotonic()
    deadline, quiet = since + 60, REFILL_DELAY_S + 2
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.2)
        now = set(server.kernel_pids())
        if now != last:
            last, since = now, time.monotonic()
    return last


def kernel_id_of(page: str) -> str:
    found = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page) or re.search(
        r"kernel[-_]id[^0-9a-f]+([0-9a-f-]{36})", page
    )
    assert found, page[:2000]
    return found.group(1)


# -- the token stays secret -----------------------------------------------------------------------


def test_no_process_of_the_serve_tree_shows_the_token(server: Server) -> None:
    assert server.process is not None
    tree = [server.process.pid, *descendants(server.process.pid)]
    assert len(tree) >= 3, tree  # serve, its Voila child, the warm kernel
    for pid in tree:
        assert TOKEN not in " ".join(cmdline(pid)), (pid, cmdline(pid))
    for pid in server.kernel_pids().values():  # and no kernel inherits it
        assert TOKEN.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    # The operator's own terminal gets the URL to open, token included.
    assert f"at http://localhost:{server.port}/?token={TOKEN}" in server.log()


def test_every_kernel_returns_freed_memory_at_once(server: Server) -> None:
    # polars' allocator keeps freed pages for seconds by default; serve's kernels give them back (performance.md).
    kernels = server.kernel_pids().values()
    assert kernels
    for pid in kernels:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        (conf,) = [e for e in environ if e.startswith(b"_RJEM_MALLOC_CONF=")]
        # Kernels load no polars at start (they fetch serve's snapshot); one that falls back to computing
        # imports it, and polars puts its defaults in front of what it inherited: the last setting wins.
        assert conf.split(b"=", 1)[1].split(b",")[-2:] == [b"dirty_decay_ms:0", b"muzzy_decay_ms:0"], conf
        assert b"MALLOC_MMAP_THRESHOLD_=131072" in environ  # and glibc gives big blocks back too (allocator)


def test_the_query_websocket_refuses_a_client_without_the_token(server: Server) -> None:
    # Voila hands a page's query string to /voila/query/<kernel> when the page got the warm kernel;
    # a page that came before the warm kernel was ready gets none: then try the next page.
    for attempt in range(5):
        settled_kernels(server)  # the warm kernel has been refilled and has run the notebook
        time.sleep(2)
        status, _, page = get(server, f"/?token={TOKEN}&probe={attempt}")
        assert status == 200
        kernel = kernel_id_of(page)
        refused, sock = websocket(server, f"/voila/query/{kernel}")
        sock.close()
        assert refused == 403, refused
        # With the token it opens, and the query string it gives holds no token.
        accepted, sock = websocket(server, f"/voila/query/{kernel}?token={TOKEN}")
        try:
            assert accepted == 101
            sock.settimeout(10)
            try:
                info = json.loads(read_frame(sock))
            except TimeoutError:
                continue
        finally:
            sock.close()
        assert info["QUERY_STRING"] == f"probe={attempt}" and TOKEN not in json.dumps(info)
        return
    pytest.fail("no page got the warm kernel in 5 tries")


def test_a_tokenless_page_asks_for_the_token_and_the_login_page_works(server: Server) -> None:
    status, headers, _ = get(server, "/")
    assert status == 302 and "/login" in headers["Location"]
    status, headers, login = get(server, "/login")
    assert status == 200 and "<form" in login
    # The dashboard's own form: the token only, no password to set, no Jupyter instructions.
    assert "ccanalytics" in login and "new_password" not in login and "jupyter server list" not in login
    cookie = headers["Set-Cookie"].split(";")[0]
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
    for password, expected in (("wrong", 401), (TOKEN, 302)):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=90)
        body = f"_xsrf={xsrf}&password={password}"
        kinds = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        conn.request("POST", "/login?next=%2F", body=body, headers=kinds)
        answer = conn.getresponse()
        page = answer.read().decode(errors="replace")
        conn.close()
        assert answer.status == expected, page
        assert (expected == 401) == ("Invalid credentials" in page)
    status, _, signed_out = get(server, "/logout")
    assert status == 200 and "Signed out" in signed_out


# -- DNS rebinding and cross-site requests ----------------------------------------------------------


@pytest.mark.parametrize("host", [f"{ATTACKER}:{{port}}", ATTACKER, "10.9.8.7:{port}", "localhost.attacker.example"])
def test_a_forged_host_is_refused_on_every_endpoint(server: Server, host: str) -> None:
    host = host.format(port=server.port)
    before = settled_kernels(server)
    for path in (f"/?token={TOKEN}", "/login", "/voila/templates/ccanalytics/static/voila-style.js", "/api/kernels"):
        status, _, body = get(server, path, Host=host)
        assert status == 403 and "Wrong address" in body, (path, status)
    kernel = next(iter(before))
    status, sock = websocket(server, f"/api/kernels/{kernel}/channels?token={TOKEN}", Host=host)
    sock.close()
    assert status == 403
    assert set(server.kernel_pids()) == before


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "[::1]:{port}"])
def test_the_servers_own_names_are_answered(server: Server, host: str) -> None:
    status, _, _ = get(server, "/login", Host=host.format(port=server.port))
    assert status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://attacker.example"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"},
        {"Origin": "null"},
    ],
)
def test_a_cross_site_request_starts_no_kernel(server: Server, headers: dict[str, str]) -> None:
    before = settled_kernels(server)
    status, _, body = get(server, f"/?token={TOKEN}", **headers)
    assert status == 403 and "another site" in body
    time.sleep(1.5)  # a kernel started would show by now
    assert set(server.kernel_pids()) == before
    kernel = next(iter(before))
    status, sock = websocket(server, f"/api/kernels/{kernel}/channels?token={TOKEN}", **headers)
    sock.close()
    assert status == 403


# -- templates, paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/?token={TOKEN}&template=lab", 404),
        (f"/?token={TOKEN}&template=../../../../etc", 404),
        (f"/?token={TOKEN}&theme=dark", 404),
        ("/voila/templates/..", 404),
        ("/voila/templates/../../etc/passwd", 404),
        ("/voila/templates/lab/static/../../../x", 404),
        ("/voila/templates/nope/static/x.js", 404),
        ("/voila/files/../../etc/passwd", 403),
        ("/voila/static/../../etc/passwd", 403),
    ],
)
def test_odd_paths_get_a_clean_answer(server: Server, path: str, expected: int) -> None:
    status, _, _ = get(server, path)
    assert status == expected
    assert "Traceback" not in server.log()


# -- the kernel cap (its own server: a fresh count) -------------------------------------------------


CAP = 4


def test_visitors_one_after_another_then_a_burst_stay_under_the_cap(tmp_path: Path) -> None:
    flags = ("--max-kernels", str(CAP))
    served = Server(free_port(), _store(tmp_path), {"CCANALYTICS_REFRESH_S": "3600"}, args=flags)
    served.start()
    try:
        assert wait_for(lambda: len(served.kernel_pids()) == 1, 60), served.log()
        # Without a token too (the loopback default), a rebinding name gets nothing.
        status, _, body = get(served, "/", Host=f"{ATTACKER}:{served.port}")
        assert status == 403 and "Wrong address" in body
        assert len(served.kernel_pids()) == 1
        # Two visitors in a row are both served (each, with the refilled warm kernel, under the cap).
        for _ in range(2):
            settled_kernels(served)
            status, _, _ = get(served, "/")
            assert status == 200
        assert len(settled_kernels(served)) == 3
        _burst(served)
    finally:
        left = served.stop()
        assert not left, f"serve left processes behind: {left}"


def _burst(server: Server) -> None:
    """Eight visitors at once, one kernel left under the cap: one is served, the others told so at once."""
    peak = 0

    def load(_: int) -> tuple[int, str, float]:
        started = time.monotonic()
        status, _, body = get(server, "/")
        return status, body, time.monotonic() - started

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        loads = [pool.submit(load, i) for i in range(8)]
        while not all(f.done() for f in loads):
            peak = max(peak, len(server.kernel_pids()))
            time.sleep(0.1)
    answers = [f.result() for f in loads]
    time.sleep(3)  # the pool's refill, if any, has started by now
    peak = max(peak, len(server.kernel_pids()))
    assert peak <= CAP, f"{peak} kernels under a cap of {CAP}"
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] + [503] * 7, statuses
    for status, body, elapsed in answers:
        assert status in (200, 503)
        if status == 503:
            assert "busy" in body and f"({CAP} sessions)" in body
            assert elapsed < 10  # a clear page at once, not a hang


# -- refusing to start ------------------------------------------------------------------------------


def _serve(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ccanalytics", "serve", "--port", str(free_port()), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_a_token_file_open_to_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
    result = _serve("--token-file", str(path))
    assert result.returncode == 1 and result.stderr.strip() == (
        f"ccanalytics: --token-file {path} is readable by other users: chmod 600 it"
    )


def test_a_cap_below_two_is_refused() -> None:
    result = _serve("--max-kernels", "1")
    assert result.returncode == 1 and "--max-kernels must be 2 or more" in result.stderr


def test_the_ready_file_waits_for_the_warm_kernel_to_run_the_page(tmp_path: Path) -> None:
    import asyncio
    from types import SimpleNamespace

    from ccanalytics.serve.guard import announce_ready

    async def scenario() -> tuple[bool, bool]:
        loop = asyncio.get_running_loop()
        rendering = loop.create_future()
        pooled = loop.create_future()
        pooled.set_result({"task": rendering, "kernel_id": "k"})
        manager = SimpleNamespace(_pools={"dashboard.ipynb": [pooled]})
        ready = tmp_path / "ready"
        waiting = asyncio.ensure_future(announce_ready(manager, str(ready), timeout_s=30))
        await asyncio.sleep(0.3)
        before = ready.exists()  # the kernel started but is still running the notebook
        rendering.set_result(([], None))
        await asyncio.wait_for(waiting, 5)
        return before, ready.exists()

    assert asyncio.run(scenario()) == (False, True)
