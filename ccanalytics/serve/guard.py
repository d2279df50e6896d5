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

The checks are plain functions, tested here:

>>> allowed = frozenset({"localhost", "127.0.0.1", "::1"})
>>> host_allowed("localhost:8866", allowed, wildcard=False)
True
>>> host_allowed("rebind.attacker.example:8866", allowed, wildcard=False)
False
"""

from __future__ import annotations

import html
import ipaddress
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["GUARD_ENV", "TOKEN_ENV", "cross_site", "default_max_kernels", "host_allowed", "main", "page"]

TOKEN_ENV = "CCANALYTICS_TOKEN"
# What serve tells this process (JSON): {"hosts": [...], "wildcard": bool, "max_kernels": int}.
GUARD_ENV = "CCANALYTICS_GUARD"
# A file serve names: written once the warm kernel has run the whole page, so that serve
# announces its URL only when a first visitor is served at full speed.
READY_ENV = "CCANALYTICS_READY_FILE"
READY_WAIT_S = 90.0  # past this the file is written anyway: a slow machine still gets its URL
KERNEL_MB = 300  # a dashboard kernel's resident memory, measured: about 270 MB
RETRY_AFTER_S = 30
# An admitted page counts as one more kernel until its kernel registers, at most this long while it
# renders and HOLD_S after: a page served from the warm kernel renders in milliseconds, and the
# pool's refill (started a second later) registers after that.
ADMISSION_S = 120.0
HOLD_S = 10.0


def _bare_host(host_header: str) -> str:
    """The host of a ``Host`` header, lowercase, without port, brackets or a final dot.

    >>> _bare_host("[::1]:8866"), _bare_host("LocalHost.:80"), _bare_host("127.0.0.1")
    ('::1', 'localhost', '127.0.0.1')
    """
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def host_allowed(host_header: str, allowed: frozenset[str], wildcard: bool) -> bool:
    """Whether a request's ``Host`` header names this server.

    Parameters
    ----------
    host_header
        The header as sent (``name:port``, ``[v6]:port``...).
    allowed
        The names and addresses allowed (lowercase, bare).
    wildcard
        The server is bound to ``0.0.0.0`` or ``::``: any IP address names it.

    Returns
    -------
    bool
        ``True`` for an allowed name or a loopback address (or any address on a wildcard).

    Examples
    --------
    >>> names = frozenset({"localhost", "dash.example.org"})
    >>> [host_allowed(h, names, False) for h in ("[::1]:1", "dash.example.org", "10.0.0.5:80")]
    [True, True, False]
    >>> host_allowed("10.0.0.5:80", names, wildcard=True)
    True
    """
    host = _bare_host(host_header)
    if host in allowed:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or wildcard


def cross_site(headers: Mapping[str, str], host_header: str) -> bool:
    """Whether a request comes from another site than the page's own.

    Parameters
    ----------
    headers
        The request's headers (``Origin``, ``Sec-Fetch-Site``).
    host_header
        The request's ``Host`` header.

    Returns
    -------
    bool
        ``True`` when ``Origin`` names another host (or is ``null``), or
        ``Sec-Fetch-Site`` is neither ``same-origin`` nor ``none`` (typed in).

    Examples
    --------
    >>> cross_site({"Origin": "http://attacker.example"}, "127.0.0.1:8866")
    True
    >>> cross_site({"Origin": "http://127.0.0.1:8866", "Sec-Fetch-Site": "same-origin"}, "127.0.0.1:8866")
    False
    >>> cross_site({"Sec-Fetch-Site": "cross-site"}, "127.0.0.1:8866"), cross_site({}, "127.0.0.1:8866")
    (True, False)
    """
    origin = headers.get("Origin")
    if origin is not None:
        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return True
        if netloc != host_header.strip().lower():
            return True
    site = headers.get("Sec-Fetch-Site")
    return site is not None and site.strip().lower() not in ("same-origin", "none")


def default_max_kernels(memory_bytes: int | None = None, cpus: int | None = None) -> int:
    """The default cap on live kernels: a quarter of the memory at 300 MB each, 4 per core, 2 to 32.

    Parameters
    ----------
    memory_bytes, cpus
        The machine's (read from the system when ``None``).

    Examples
    --------
    >>> default_max_kernels(24 * 2**30, 2), default_max_kernels(2 * 2**30, 8), default_max_kernels(2**40, 64)
    (8, 2, 32)
    """
    if memory_bytes is None:
        try:
            memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            memory_bytes = 4 * 2**30
    cpus = cpus or os.cpu_count() or 1
    return max(2, min(memory_bytes // 4 // (KERNEL_MB * 2**20), 4 * cpus, 32))


def page(title: str, text: str, link: str | None = None) -> str:
    """A small, self-contained HTML page (no script, nothing from elsewhere); every text is escaped.

    >>> "<b>" in page("T", "<b>x</b>")
    False
    """
    more = f'<p><a href="{html.escape(link)}">Open the dashboard</a></p>' if link is not None else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width">'
        "<style>body{font:16px system-ui,sans-serif;margin:4rem auto;max-width:36rem;color:#222}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{more}</body></html>"
    )


def login_page(action: str, xsrf: str, error: str | None = None) -> str:
    """The sign-in form: the token only, posted back to the same address; every text is escaped.

    >>> "Wrong token" in login_page("/login?next=%2F", "x", "Wrong token")
    True
    >>> "new_password" in login_page("/", "x") or "jupyter server list" in login_page("/", "x")
    False
    """
    wrong = f'<p role="alert" style="color:#b42318">{html.escape(error)}</p>' if error else ""
    form = (
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="_xsrf" value="{html.escape(xsrf)}">'
        '<p><label for="password">Token</label><br>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required '
        'style="font:inherit;padding:.4rem;width:100%;box-sizing:border-box"></p>'
        '<p><button type="submit" style="font:inherit;padding:.4rem 1rem">Open the dashboard</button></p></form>'
    )
    text = (
        "This dashboard needs its token. Open the address `ccanalytics serve` printed (it carries the token), "
        "or paste the token here."
    )
    return page("ccanalytics — sign in", text).replace("</body>", f"{wrong}{form}</body>")


class Guard:
    """What the checks need to know: allowed hosts, the cap, and the pages admitted lately.

    A page admitted will add one kernel (the warm one's refill, or its own),
    registered only a moment later. Each admission therefore remembers the
    count it expects once its kernel is there, and counts as one more kernel
    until the count reaches it, or until its page has rendered and ``HOLD_S``
    passed. A burst is thus never let past the cap.
    """

    def __init__(self, hosts: frozenset[str], wildcard: bool, max_kernels: int) -> None:
        self.hosts = hosts
        self.wildcard = wildcard
        self.max_kernels = max_kernels
        self.kernel_manager: Any = None
        # key -> (admitted at, kernels expected once its kernel registers, rendered at or None)
        self._admitted: dict[int, tuple[float, int, float | None]] = {}

    @classmethod
    def from_env(cls) -> Guard:
        raw = json.loads(os.environ.get(GUARD_ENV) or "{}")
        hosts = {"localhost", "127.0.0.1", "::1", *(_bare_host(h) for h in raw.get("hosts", []))}
        return cls(frozenset(hosts), bool(raw.get("wildcard")), int(raw.get("max_kernels") or default_max_kernels()))

    def _kernels(self) -> int:
        manager = self.kernel_manager
        return len(set(getattr(manager, "_kernels", {})) | set(getattr(manager, "_pending_kernels", {})))

    def live_kernels(self) -> int:
        """Kernels running or starting, plus admitted pages whose kernel is not counted yet."""
        now, kernels = time.monotonic(), self._kernels()

        def waiting(entry: tuple[float, int, float | None]) -> bool:
            admitted, expected, rendered = entry
            young = now - admitted < ADMISSION_S if rendered is None else now - rendered < HOLD_S
            return young and kernels < expected

        self._admitted = {k: e for k, e in self._admitted.items() if waiting(e)}
        return kernels + len(self._admitted)

    def admit(self, key: int) -> None:
        self._admitted[key] = (time.monotonic(), self.live_kernels() + 1, None)

    def release(self, key: int) -> None:
        entry = self._admitted.get(key)
        if entry is not None and entry[2] is None:
            self._admitted[key] = (entry[0], entry[1], time.monotonic())


# -- on the serve side ------------------------------------------------------------------------------


def read_token(flag: str | None, token_file: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The token visitors must present: ``--token-file``, ``--token`` or ``$CCANALYTICS_TOKEN``.

    A token file must be readable by its owner only (mode 0600), as an SSH key.

    Raises
    ------
    CCError
        Two sources at once, an empty token, or a token file that is missing or open to others.

    Examples
    --------
    >>> read_token(None, None, {"CCANALYTICS_TOKEN": "s3cret"}), read_token("t0k", None, {})
    ('s3cret', 't0k')
    >>> read_token(None, None, {}) is None
    True
    """
    from ccanalytics.errors import CCError

    if flag is not None and token_file is not None:
        raise CCError("give --token or --token-file, not both")
    if token_file is not None:
        try:
            mode = os.stat(token_file).st_mode
            with open(token_file, encoding="utf-8") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or "not text"
            raise CCError(f"--token-file {token_file}: cannot read it ({why})") from None
        if mode & 0o077:
            raise CCError(f"--token-file {token_file} is readable by other users: chmod 600 it")
        token: str | None = text.strip()
    elif flag is not None:
        token = flag
    else:
        token = environ.get(TOKEN_ENV) or None
    if token is not None and (not token.strip() or any(c.isspace() for c in token)):
        raise CCError("the token must be one word, without spaces")
    return token


def argv_without(argv: list[str], token: str) -> list[str]:
    """``argv`` without ``--token T`` / ``--token=T`` (serve then runs again with the token in its environment).

    >>> argv_without(["serve", "--token", "t0k", "--port", "1"], "t0k")
    ['serve', '--port', '1']
    >>> argv_without(["serve", "--token=t0k"], "t0k")
    ['serve']
    """
    kept: list[str] = []
    for arg in argv:
        if token in arg:
            if arg == token and kept and kept[-1].startswith("--t"):
                kept.pop()
            continue
        kept.append(arg)
    return kept


def _without_token(request: Any) -> None:
    """Take ``token`` out of a request's query, so that no kernel (and no /voila/query client) sees it."""
    request.arguments.pop("token", None)
    request.query_arguments.pop("token", None)
    pairs = [(name, value) for name, values in request.query_arguments.items() for value in values]
    request.query = urlencode(pairs, doseq=False) if pairs else ""
    request.uri = request.path + (f"?{request.query}" if request.query else "")


def _build() -> type:
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
        class Login(base):  # type: ignore[misc, valid-type]
            """The sign-in form in the dashboard's own words (not the stock Jupyter one, which offers to
            set a password and tells how to list running servers)."""

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


def main(argv: list[str] | None = None) -> None:
    """Run Voila with the checks: ``python -m ccanalytics.serve.guard NOTEBOOK [voila options]``."""
    _build().launch_instance(argv=sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
