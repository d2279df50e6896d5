"""The seller's recorder: an ASGI layer around x402's payment middleware (collect.md, "Sellers").

It sees every request before x402 does and every response after it, so it
knows what the client received. A request to a paid route that carries a
payment header is one ``seller`` call, whatever its outcome; the 402 challenge
without one is the protocol's handshake and is not recorded. Recording only
queues a row for the :class:`~ccanalytics.collect.StoreWriter`: it never
delays or fails the request, and a failure to record is logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ccanalytics.collect.payment import (
    PAYMENT_HEADERS,
    SETTLEMENT_HEADERS,
    consumer_hash,
    paid_micro,
    read_payment,
    read_settlement,
    route_price_micro,
)
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, MutableMapping

    from ccanalytics.collect.writer import StoreWriter

    Scope = MutableMapping[str, Any]  # ASGI's (as starlette spells them)
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]

__all__ = ["SellerRecorder", "x402_seller"]

log = logging.getLogger("ccanalytics.collect")


@dataclass(frozen=True)
class _Route:
    """One x402 route of the configuration, compiled like x402 compiles it."""

    verb: str  # "GET", …, or "*"
    regex: re.Pattern[str]
    template: str  # the path in FastAPI's syntax: /weather/{city}
    config: Any

    @property
    def api_id(self) -> str | None:
        return _option(self.config, "api_id")

    @property
    def api_name(self) -> str | None:
        return _option(self.config, "api_name")


def _option(config: Any, name: str) -> Any:
    value = config.get(name) if isinstance(config, dict) else getattr(config, name, None)
    return value if isinstance(value, str) and value else None


def _compile(pattern: str, config: Any) -> _Route:
    parts = pattern.split(None, 1)
    verb, path = (parts[0].upper(), parts[1]) if len(parts) == 2 else ("*", pattern)
    trailing = path.endswith("/*")
    body = path[:-2] if trailing else path
    regex = "^" + re.escape(body)
    regex = regex.replace(r"\*", ".*?")
    regex = re.sub(r"\\\[([^\]]+)\\\]", "[^/]+", regex)
    regex = re.sub(r":([A-Za-z_]\w*)", "[^/]+", regex)
    regex += r"(?:/.*?)?$" if trailing else "$"
    template = re.sub(r":([A-Za-z_]\w*)", r"{\1}", re.sub(r"\[([^\]]+)\]", r"{\1}", path))
    return _Route(verb, re.compile(regex, re.IGNORECASE | re.DOTALL), template, config)


def compile_routes(routes: Any) -> list[_Route]:
    """x402's route configuration as an ordered list (the first match wins, as in x402).

    Examples
    --------
    >>> [r.template for r in compile_routes({"GET /weather/[city]": {"accepts": {}}, "/a/:b/*": {"accepts": {}}})]
    ['/weather/{city}', '/a/{b}/*']
    >>> compile_routes({"accepts": {"price": "$1"}})[0].verb
    '*'
    """
    if isinstance(routes, dict) and "accepts" not in routes:
        return [_compile(pattern, config) for pattern, config in routes.items()]
    return [_compile("*", routes)]


def _normalize(path: str) -> str:
    path = re.sub(r"/+", "/", path.split("?")[0]).rstrip("/")
    return path or "/"


class SellerRecorder:
    """The ASGI app :func:`x402_seller` returns; ``calls_not_recorded`` counts what it failed to queue."""

    def __init__(self, app: Any, writer: StoreWriter, routes: Any, commission_bps: int = 0) -> None:
        if isinstance(commission_bps, bool) or not isinstance(commission_bps, int) or not 0 <= commission_bps <= 10_000:
            raise ValueError("commission_bps must be an integer from 0 to 10000")
        self.app = app
        self.writer = writer
        self.routes = compile_routes(routes)
        self.commission_bps = commission_bps
        self.calls_not_recorded = 0
        self._registered: set[str] = set()
        for route in self.routes:
            api_id = route.api_id or (f"{route.verb} {route.template}" if route.verb != "*" else None)
            if api_id is not None and "*" not in api_id:
                self._register(api_id, route)

    def __getattr__(self, name: str) -> Any:
        # The wrapped app's attributes (``routes``, ``state``, …) stay reachable.
        if name == "app":
            raise AttributeError(name)
        return getattr(self.app, name)

    def _register(self, api_id: str, route: _Route) -> None:
        if api_id in self._registered:
            return
        self._registered.add(api_id)
        try:
            self.writer.register_api(api_id, route.api_name or api_id, route_price_micro(route.config))
        except Exception:
            log.exception("ccanalytics: could not register API %s", api_id)

    def _match(self, scope: Scope) -> _Route | None:
        method = scope.get("method", "GET").upper()
        candidates = [_normalize(scope.get("path", "/"))]
        raw = scope.get("raw_path")
        if isinstance(raw, bytes):
            candidates.append(_normalize(raw.decode("latin-1")))
        for candidate in candidates:
            for route in self.routes:
                if route.regex.match(candidate) and route.verb in ("*", method):
                    return route
        return None

    def _template(self, scope: Scope, route: _Route) -> str:
        """The path template of the app route this request reaches (never the concrete path)."""
        partial = None
        for app_route in getattr(self.app, "routes", None) or ():
            try:
                match, _ = app_route.matches(scope)
            except Exception:
                continue
            path = getattr(app_route, "path", None)
            if not isinstance(path, str) or match.name == "NONE":
                continue
            if match.name == "FULL":
                return path
            partial = partial or path
        return partial or route.template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers") or ()}
        payment = next((headers[h] for h in PAYMENT_HEADERS if h in headers), None)
        route = self._match(scope) if payment is not None else None
        if payment is None or route is None:
            # A free route, or a challenge: the handshake is not a call.
            await self.app(scope, receive, send)
            return
        started, ts = time.perf_counter(), now_ms()
        seen: dict[str, Any] = {"status": None, "headers": {}, "done": False}

        async def recording_send(message: Message) -> None:
            kind = message.get("type")
            if kind == "http.response.start":
                seen["status"] = message.get("status")
                seen["headers"] = {k.decode("latin-1").lower(): v for k, v in message.get("headers") or ()}
            await send(message)
            if kind == "http.response.body" and not message.get("more_body", False) and not seen["done"]:
                seen["done"] = True
                self._record(scope, route, headers, payment, seen, ts, started)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            if not seen["done"]:
                # The app failed before completing a response, or the client left.
                seen["done"] = True
                if seen["status"] is None:
                    seen["status"] = 500
                self._record(scope, route, headers, payment, seen, ts, started)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the lifespan through; close the writer once the app has shut down.

        Servers such as uvicorn end the process with the signal they caught, so
        interpreter-exit hooks never run: the app's shutdown is where the
        queue is flushed and the ``shutdown`` event written.
        """

        async def closing_send(message: Message) -> None:
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await asyncio.to_thread(self.writer.close)
            await send(message)

        await self.app(scope, receive, closing_send)

    def _record(
        self,
        scope: Scope,
        route: _Route,
        request_headers: Mapping[str, bytes],
        payment_header: bytes,
        seen: dict[str, Any],
        ts: int,
        started: float,
    ) -> None:
        latency_ms = (time.perf_counter() - started) * 1000.0
        try:
            response_headers = seen["headers"]
            settlement_header = next((response_headers[h] for h in SETTLEMENT_HEADERS if h in response_headers), None)
            settlement = read_settlement(settlement_header)
            payment = read_payment(payment_header)
            price = paid_micro(payment, settlement)
            payer = (settlement.payer if settlement is not None else None) or (payment.payer if payment else None)
            api_id = route.api_id or f"{scope.get('method', 'GET').upper()} {self._template(scope, route)}"
            self._register(api_id, route)
            given_id = request_headers.get("x-request-id")
            self.writer.record(
                {
                    "request_id": given_id.decode("latin-1") if given_id else str(uuid.uuid4()),
                    "ts_ms": ts,
                    "role": "seller",
                    "api_id": api_id,
                    "api_name": route.api_name or api_id,
                    "status_code": int(seen["status"]),
                    "latency_ms": latency_ms,
                    "price_micro": price,
                    "revenue_micro": price * (10_000 - self.commission_bps) // 10_000,
                    "demo": 0,
                    "tx_hash": settlement.tx_hash if settlement is not None and price > 0 else None,
                    "delivery": "p2p",
                    "consumer": consumer_hash(payer),
                }
            )
        except Exception:
            self.calls_not_recorded += 1
            log.exception("ccanalytics: a seller call could not be recorded (%d so far)", self.calls_not_recorded)


def x402_seller(app: Any, writer: StoreWriter, routes: Any, commission_bps: int = 0) -> SellerRecorder:
    """Wrap an ASGI app protected by x402's payment middleware so each paid call is recorded.

    Parameters
    ----------
    app
        The FastAPI/Starlette app (with ``PaymentMiddlewareASGI`` added).
    writer
        Where the calls go.
    routes
        The same route configuration the payment middleware takes
        (``{"GET /weather/[city]": {"accepts": …, "api_id": …, "api_name": …}}``).
    commission_bps
        The platform's commission in basis points (0 for a direct x402 seller,
        500 on the reference marketplace); revenue is the price less it, rounded down.

    Returns
    -------
    SellerRecorder
        The ASGI app to serve (``uvicorn.run(x402_seller(app, …))``).

    Examples
    --------
    >>> import asyncio, os, tempfile, sqlite3
    >>> from ccanalytics.collect import StoreWriter
    >>> async def app(scope, receive, send):
    ...     await send({"type": "http.response.start", "status": 402, "headers": []})
    ...     await send({"type": "http.response.body", "body": b"{}"})
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> writer = StoreWriter(path)
    >>> recorded = x402_seller(app, writer, routes={"GET /w/[city]": {"accepts": {"price": "$0.001"}}})
    >>> async def call(headers):
    ...     scope = {"type": "http", "method": "GET", "path": "/w/oslo", "headers": headers}
    ...     async def send(message): pass
    ...     await recorded(scope, None, send)
    >>> asyncio.run(call([]))  # the challenge: not a call
    >>> asyncio.run(call([(b"payment-signature", b"e30=")]))  # a payment that fails: a call
    >>> writer.close()
    >>> sqlite3.connect(path).execute("SELECT api_id, status_code, price_micro FROM calls").fetchall()
    [('GET /w/{city}', 402, 0)]
    """
    return SellerRecorder(app, writer, routes, commission_bps)
