"""Pytest plugin: a real ``ccanalytics serve`` and Debian's Chromium, for the end-to-end tests.

Registered by ``tests/conftest.py`` (``pytest_plugins``). The browser is
Debian's ``chromium`` (``apt-get install -y chromium``; ``$CCANALYTICS_CHROMIUM``
may name another binary) driven by the ``playwright`` package: ``playwright
install`` cannot download browsers here. A missing browser fails the tests
that need it: CI must run them, never skip them.

The benchmarks (``benchmarks.page_load``, ``benchmarks.many_tabs``) use
:class:`Server` and :func:`launch_chromium` too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ccanalytics.serve.sharing import SOCKET_ENV
from tests.support.chain_fixtures import free_port
from tests.support.procs import alive, rss_mb

__all__ = ["REPO", "Server", "Tabs", "free_port", "launch_chromium", "rss_mb", "running_server", "wait_for"]

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CCANALYTICS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 90.0  # imports, the store's first read and Voila's start, on a busy 2-core CI runner
STOP_TIMEOUT_S = 20.0


def _children(pid: int) -> list[int]:
    """The direct children of ``pid``, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid``."""
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> list[str]:
    """A process's arguments (empty when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def snapshot_socket(pid: int) -> Path:
    """The path of serve's snapshot socket that a kernel (``pid``) was given (its environment)."""
    prefix = SOCKET_ENV.encode() + b"="
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return Path(next(item for item in environ if item.startswith(prefix))[len(prefix) :].decode())


@dataclass
class Server:
    """A running ``python -m ccanalytics serve`` (its Voila child and that child's kernels).

    Attributes
    ----------
    port
        Where it listens, on 127.0.0.1.
    db
        The store served; ``None`` for the embedded demo.
    env
        Environment variables given to it on top of the test process's.
    """

    port: int
    db: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    args: tuple[str, ...] = ()  # more arguments for serve (``("--lake", DIR)``)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> Server:
        """Start serving and wait until serve announces its URL and the port answers.

        Serve announces its URL once its warm kernel is ready; the port is probed with a TCP connect
        (``GET /`` would start a kernel).
        """
        command = [sys.executable, "-m", "ccanalytics", "serve", "--port", str(self.port)]
        if self.db is not None:
            command += ["--db", str(self.db)]
        command += self.args
        env = {**os.environ, **self.env}
        if self.db is None:
            env.pop("CCANALYTICS_DB", None)  # the embedded demo
        fd, log = tempfile.mkstemp(prefix="ccanalytics-serve-", suffix=".log")
        self.log_path = Path(log)
        with os.fdopen(fd, "wb") as out:
            # Its own session: teardown can still find anything it left behind.
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ccanalytics serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                if b"ccanalytics: serving" in self.log_path.read_bytes():
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ccanalytics serve did not announce {self.port} within {timeout_s:.0f} s:\n{self.log()}")

    def log(self) -> str:
        """What the server printed so far (the end of it)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-4000:]

    def voila_pid(self) -> int | None:
        """The Voila child of the serve process."""
        if self.process is None:
            return None
        for pid in _children(self.process.pid):
            if "ccanalytics.serve.guard" in cmdline(pid):  # python -m ccanalytics.serve.guard: Voila with its checks
                return pid
        return None

    def kernel_pids(self) -> dict[str, int]:
        """Kernel id -> pid of every kernel process Voila runs now (the preheated one included)."""
        voila = self.voila_pid()
        kernels = {}
        for pid in descendants(voila) if voila else []:
            args = cmdline(pid)
            if "ipykernel_launcher" in args:
                # ... -f /tmp/voila_xxx/kernel-<id>.json
                connection = Path(args[args.index("-f") + 1]).stem
                kernels[connection.removeprefix("kernel-")] = pid
        return kernels

    def kernel_exists(self, kernel_id: str) -> bool:
        """Whether Voila still has this kernel (``GET /api/kernels/<id>``: 200, or 404 once shut down)."""
        try:
            with urllib.request.urlopen(f"{self.url}api/kernels/{kernel_id}", timeout=10) as answer:
                return answer.status == 200
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise

    def stop(self) -> list[int]:
        """Stop the server as an operator would (SIGTERM); return the pids it left behind (then killed)."""
        if self.process is None:
            return []
        tree = descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        deadline = time.monotonic() + 10
        left = [pid for pid in tree if Path(f"/proc/{pid}").exists()]
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = [pid for pid in left if alive(pid)]
        if left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)  # the session this server was started in
        if self.log_path is not None:
            with contextlib.suppress(OSError):
                self.log_path.unlink()
        return left


@contextlib.contextmanager
def running_server(db: Path | str | None, **env: str) -> Iterator[Server]:
    """A started :class:`Server` on ``db`` (``None``: the embedded demo), stopped afterwards.

    ``env`` adds environment variables (``CCANALYTICS_REFRESH_S="1"``...). Fails
    the test when the server leaves processes behind.
    """
    server = Server(free_port(), Path(db) if db is not None else None, dict(env))
    server.start()
    try:
        yield server
    finally:
        left = server.stop()
        if left:
            pytest.fail(f"ccanalytics serve left processes behind: {left}", pytrace=False)


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium under playwright; fails (never skips) when it is not installed."""
    if not os.access(CHROMIUM, os.X_OK):
        message = (
            f"{CHROMIUM} not found: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`, or set CCANALYTICS_CHROMIUM to a Chromium binary)"
        )
        if "pytest" in sys.modules:
            pytest.fail(message, pytrace=False)
        raise SystemExit(message)
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module.

    Not per session: Playwright's sync API keeps an event loop running in the
    main thread while it lives, and tests after it that call ``asyncio.run``
    would fail.
    """
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@dataclass
class Tabs:
    """Opens pages (each in its own browser context, like separate visitors) and closes them all."""

    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)

    def open(self, **context_options: Any) -> Page:
        context = self.browser.new_context(viewport={"width": 1440, "height": 900}, **context_options)
        self.contexts.append(context)
        return context.new_page()

    def close_all(self) -> None:
        from playwright.sync_api import Error as PlaywrightError

        for context in self.contexts:
            for page in context.pages:
                if not page.is_closed():
                    # As a person closing the tab: the page's beforeunload handlers run. A page a
                    # test already asked to close may finish closing meanwhile: that is fine.
                    try:
                        page.close(run_before_unload=True)
                    except PlaywrightError:
                        if not page.is_closed():
                            raise
            context.close()
        self.contexts.clear()


@pytest.fixture
def tabs(browser: Browser) -> Iterator[Tabs]:
    """Browser tabs for one test, closed at its end."""
    opened = Tabs(browser)
    try:
        yield opened
    finally:
        opened.close_all()


def wait_for(check: Callable[[], Any], timeout_s: float, interval_s: float = 0.25) -> Any:
    """Call ``check`` until it returns something truthy or ``timeout_s`` passes; return its last answer."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            return answer
        time.sleep(interval_s)
