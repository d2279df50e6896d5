"""The Voila server of ``ccanalytics serve``, with checks in front of every request.

``ccanalytics serve`` runs ``python -m ccanalytics.serve.guard NOTEBOOK [voila options]``:
Voila itself, with these differences.

- **Host header** (DNS rebinding): every HTTP and websocket request must name
  the server by an allowed host — ``localhost``, a loopback address, the bound
  host and the ``--allow-host`` names (any IP address when bound to a
  wildcard address: an IP never rebinds). Anything else gets 403.
- **Cross-site requests** (``Origin`` or ``Sec-Fetch-Site`` other than the
  page's own) never start a kernel and never open a websocket: a navigation
  from another site gets a small page with a link to open the dashboard.
- **A cap on live kernels** (the warm one included): a visitor over it gets a
  small "busy" page (503, ``Retry-After``) at once.
- **The token** comes from the environment (``CCANALYTICS_TOKEN``, removed
  from it at start, so no kernel inherits it), never from the command line;
  it is taken out of the query string before a kernel sees it, and
  ``/voila/query/<kernel_id>`` wants it like every other endpoint.
- ``?template=`` / ``?theme=`` are refused (404), ``/voila/templates/..``
  is a clean 404, ``/logout`` signs out.

The checks are plain functions (``ccanalytics.serve.checks``), the pages
too (``ccanalytics.serve.pages``); the token's sources are
``ccanalytics.serve.token``.  This module builds the Voila application that
runs them.

>>> allowed = frozenset({"localhost", "127.0.0.1", "::1"})
>>> host_allowed("localhost:8866", allowed, wildcard=False)
True
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from ccanalytics.serve.checks import GUARD_ENV, Guard, cross_site, default_max_kernels, host_allowed
from ccanalytics.serve.pages import login_page, page
from ccanalytics.serve.sharing import FOLDER_PREFIX, SOCKET_ENV
from ccanalytics.serve.token import TOKEN_ENV, argv_without, read_token

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "GUARD_ENV",
    "READY_ENV",
    "READY_WAIT_S",
    "TOKEN_ENV",
    "Guard",
    "announce_ready",
    "argv_without",
    "cross_site",
    "default_max_kernels",
    "end_with_serve",
    "host_allowed",
    "login_page",
    "main",
    "page",
    "read_token",
]

# A file serve names: written once the warm kernel has run the whole page, so that serve
# announces its URL only when a first visitor is served at full speed.
READY_ENV = "CCANALYTICS_READY_FILE"
READY_WAIT_S = 90.0  # past this the file is written anyway: a slow machine still gets its URL
RETRY_AFTER_S = 30


def _without_token(request: Any) -> None:
    """Take ``token`` out of a request's query, so that no kernel (and no /voila/query client) sees it."""
    request.arguments.pop("token", None)
    request.query_arguments.pop("token", None)
    pairs = [(name, value) for name, values in request.query_arguments.items() for value in values]
    request.query = urlencode(pairs, doseq=False) if pairs else ""
    request.uri = request.path + (f"?{request.query}" if request.query else "")


def _build() -> type[Any]:
    """The Voila application class with the checks (imports Voila: seconds)."""
    import tornado.web
    from jupyter_server import DEFAULT_STATIC_FILES_PATH
    from jupyter_server.auth.decorator import allow_unauthenticated
    from jupyter_server.base.handlers import JupyterHandler
    from voila.app import Voila
    from voila.request_info_handler import RequestInfoSocketHandler
    from voila.static_file_handler import TemplateStaticFileHandler
    from voila.tornado.handler import TornadoVoilaHandler

    class Refusal(tornado.web.RequestHandler):
        """Answers any request with a small page and a status, before anything else runs."""

        def initialize(self, status: int, title: str, text: str, link: str | None = None) -> None:
            self._answer = (status, title, text, link)

        def prepare(self) -> None:
            status, title, text, link = self._answer
            self.set_status(status)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.set_header("Cache-Control", "no-store")
            if status == 503:
                self.set_header("Retry-After", str(RETRY_AFTER_S))
            self.finish(page(title, text, link))

    def refusal(status: int, title: str, text: str, link: str | None = None) -> tuple[type, dict]:
        return Refusal, {"status": status, "title": title, "text": text, "link": link}

    class GuardedApplication(tornado.web.Application):
        """Checks the Host header of every request, and the origin of websockets and non-GET requests."""

        def find_handler(self, request: Any, **kwargs: Any) -> Any:
            guard: Guard = self.settings["ccanalytics_guard"]
            if not host_allowed(request.host, guard.hosts, guard.wildcard):
                shown = request.host[:100]
                text = f"This dashboard does not answer to the name {shown!r}. Open it by its own address."
                return self.get_handler_delegate(request, *refusal(403, "Wrong address", text))
            upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
            if (upgrade or request.method not in ("GET", "HEAD")) and cross_site(request.headers, request.host):
                text = "This request came from another site."
                return self.get_handler_delegate(request, *refusal(403, "Refused", text))
            return super().find_handler(request, **kwargs)

    class Page(TornadoVoilaHandler):
        """The dashboard page: same-site only, one template, under the kernel cap, token kept from the kernel."""

        async def get(self, path: str | None = None) -> None:
            guard: Guard = self.settings["ccanalytics_guard"]
            if cross_site(self.request.headers, self.request.host):
                # A link from another site: no kernel until the visitor asks for one, from here.
                return self._refuse(403, "Opened from another site", "Nothing has started yet.", link=self.request.uri)
            if {"template", "theme"} & set(self.request.arguments):
                text = "This dashboard has one template and one theme; the address cannot change them."
                return self._refuse(404, "Not found", text)
            if self.current_user is not None:
                if guard.live_kernels() >= guard.max_kernels:
                    text = (
                        f"The dashboard is open in as many tabs as this server allows ({guard.max_kernels} "
                        f"sessions). Close a tab, or try again in a minute."
                    )
                    return self._refuse(503, "The dashboard is busy", text)
                _without_token(self.request)
                guard.admit(id(self))
            await super().get(path)

        def _refuse(self, status: int, title: str, text: str, link: str | None = None) -> None:
            self.set_status(status)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            if status == 503:
                self.set_header("Retry-After", str(RETRY_AFTER_S))
            self.finish(page(title, text, link))

        def on_finish(self) -> None:
            self.settings["ccanalytics_guard"].release(id(self))
            super().on_finish()

        def on_connection_close(self) -> None:
            self.settings["ccanalytics_guard"].release(id(self))
            super().on_connection_close()

    class Query(RequestInfoSocketHandler, JupyterHandler):
        """Voila's query-string websocket, behind the token like every other endpoint (403 without it)."""

        async def prepare(self) -> None:  # type: ignore[override]
            await JupyterHandler.prepare(self, _redirect_to_login=False)

        def write_error(self, status_code: int, **kwargs: Any) -> None:
            # jupyter_server's error page needs a setting Voila lacks (it would fail with a traceback).
            self.finish(page("Refused", f"HTTP {status_code}: this connection needs the dashboard's token."))

    class Templates(TemplateStaticFileHandler):
        """Voila's template files, with a clean 404 for a path that names no template file."""

        async def get(self, path: str, include_body: bool = True) -> None:
            # "<template>/static/<file>", with nothing that climbs out of it.
            parts = path.split("/")
            if len(parts) < 3 or parts[1] != "static" or any(p in ("", ".", "..") for p in parts):
                raise tornado.web.HTTPError(404)
            try:
                await super().get(path, include_body)
            except tornado.web.HTTPError:
                raise
            except Exception:
                raise tornado.web.HTTPError(404) from None

        def parse_url_path(self, url_path: str) -> str:
            try:
                return super().parse_url_path(url_path)
            except Exception:
                raise tornado.web.HTTPError(404) from None

        def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
            try:
                return super().validate_absolute_path(root, absolute_path)
            except tornado.web.HTTPError:
                raise
            except Exception:
                raise tornado.web.HTTPError(404) from None

    class Logout(JupyterHandler):
        """Signs out: clears the login cookie and says so."""

        @allow_unauthenticated
        def get(self) -> None:
            self.identity_provider.clear_login_cookie(self)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            text = "Open the dashboard's address with its token to sign in again."
            self.finish(page("Signed out", text))

    def login_class(base: type) -> type:
        class Login(base):
            """The sign-in form in the dashboard's own words.

            Not the stock Jupyter one, which offers to set a password and tells how to list running servers.
            """

            def _render(self, message: dict | None = None) -> None:
                error = (message or {}).get("error")
                self.set_header("Content-Type", "text/html; charset=utf-8")
                self.finish(login_page(self.request.uri, self.xsrf_token.decode(), error))

        return Login

    swaps = {
        TornadoVoilaHandler: Page,
        RequestInfoSocketHandler: Query,
        TemplateStaticFileHandler: Templates,
    }

    class GuardedVoila(Voila):
        """Voila, with the token from the environment and the checks in front."""

        def start(self) -> None:
            import tempfile

            # Before the kernel manager exists: no kernel ever inherits the token.
            token = os.environ.pop(TOKEN_ENV, "")
            ready = os.environ.pop(READY_ENV, "")
            self.token = token or None
            guard = Guard.from_env()
            logging.getLogger("tornado.general").addFilter(_no_ping_notice)
            self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
            settings = self.init_settings()
            guard.kernel_manager = self.kernel_manager
            # jupyter_server's error pages link its favicon through `static_url`: without a
            # static_path every 404 of its handlers (/voila/files/…) became a traceback.
            settings.setdefault("static_path", DEFAULT_STATIC_FILES_PATH)
            # The token is the only way in: no password can be set from the sign-in form.
            self.identity_provider.allow_password_change = False
            self.app = GuardedApplication(**settings, ccanalytics_guard=guard)
            self.app.settings.update(self.tornado_settings)
            handlers = []
            for pattern, handler, *rest in self.init_handlers():
                if pattern.rstrip("/").endswith("/logout"):
                    handler = Logout
                elif pattern.rstrip("/").endswith("/login"):
                    handler = login_class(handler)
                handlers.append((pattern, swaps.get(handler, handler), *rest))
            self.app.add_handlers(".*$", handlers)
            if ready:
                from tornado.ioloop import IOLoop

                IOLoop.current().spawn_callback(announce_ready, self.kernel_manager, ready)
            self.listen()

    return GuardedVoila


def _no_ping_notice(record: logging.LogRecord) -> bool:
    """Drop tornado's notice that the websockets' ping timeout exceeds their interval.

    jupyter_server pings the kernel websockets itself (every ``ws_ping_interval``
    ms) and closes one whose last pong is older than ``ws_ping_timeout`` ms at
    a ping: that timeout must exceed the interval (share/config/voila.json sets
    three intervals), or a ping timer late by a few ms on a busy machine closes
    a healthy tab's websocket. tornado reads the same two numbers as seconds
    for pings of its own (one every 8 hours) and warns that the timeout is
    longer: a notice about a setting that is right.
    """
    return not str(record.msg).startswith("The websocket_ping_timeout")


def _warm(pools: list[Any]) -> bool:
    """Whether every pooled kernel has run its notebook to the end (Voila keeps tasks in ``_pools``)."""
    if not pools or not all(task.done() for task in pools):
        return False
    try:
        return all(task.result()["task"].done() for task in pools)
    except Exception:  # a kernel that failed to start: nothing more to wait for
        return True


async def announce_ready(manager: Any, path: str, timeout_s: float = READY_WAIT_S) -> None:
    """Write ``path`` once the preheated kernel has run the page, or after ``timeout_s``."""
    import asyncio

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _warm([task for pool in getattr(manager, "_pools", {}).values() for task in pool]):
            break
        await asyncio.sleep(0.05)
    with open(path, "w", encoding="utf-8") as ready:
        ready.write("ready\n")


def end_with_serve(
    serve: int, *, parent: Callable[[], int] = os.getppid, every_s: float = 0.5, stop: Callable[[], None] | None = None
) -> threading.Thread:
    """Stop this Voila (SIGTERM: its kernels are shut down) once its parent ``serve`` is gone (started thread).

    A serve killed outright (SIGKILL) cannot stop its Voila: without this, the
    orphan would keep the port and its kernels, and a new serve could not start.

    Examples
    --------
    >>> stopped = []
    >>> end_with_serve(42, parent=lambda: 1, every_s=0.01, stop=lambda: stopped.append(1)).join(5)
    >>> stopped
    [1]
    """

    def watch() -> None:
        while parent() == serve:
            time.sleep(every_s)
        (stop or _serve_gone)()

    thread = threading.Thread(target=watch, name="ccanalytics-end-with-serve", daemon=True)
    thread.start()
    return thread


def _serve_gone() -> None:
    """Remove the folder of serve's snapshot socket (serve cannot any more), then stop as on SIGTERM."""
    socket_path = os.environ.get(SOCKET_ENV)
    if socket_path and Path(socket_path).parent.name.startswith(FOLDER_PREFIX):
        shutil.rmtree(Path(socket_path).parent, ignore_errors=True)
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> None:
    """Run Voila with the checks: ``python -m ccanalytics.serve.guard NOTEBOOK [voila options]``."""
    end_with_serve(os.getppid())
    _build().launch_instance(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
