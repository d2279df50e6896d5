"""The buyer's recorder: an httpx hook that writes one ``buyer`` call per call (collect.md, "Buyers").

``x402_buyer(client, writer)`` wraps ``client.send`` (every ``get``, ``post``,
``request`` and ``stream`` goes through it), so a call is what the caller
asked for: x402's challenge and paid retry, or redirects, are one call. To
learn the amount authorized, it also watches the requests x402's payment
transport sends underneath (the paid retry's ``PAYMENT-SIGNATURE``).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from ccanalytics.collect.payment import PAYMENT_HEADERS, SETTLEMENT_HEADERS, paid_micro, read_payment, read_settlement
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import httpx

    from ccanalytics.collect.writer import StoreWriter

__all__ = ["x402_buyer"]

log = logging.getLogger("ccanalytics.collect")
_KEY = "ccanalytics.call"


class _PaymentSpy:
    """Sits under x402's payment transport and notes the payment header each call's last request carried."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        holder = request.extensions.get(_KEY)
        if isinstance(holder, dict):
            header = next((request.headers[h] for h in PAYMENT_HEADERS if h in request.headers), None)
            if header is not None:
                holder["payment"] = header
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)


def _watch_payments(transport: Any) -> None:
    # x402's transport keeps the transport it sends through in `_transport`.
    inner = getattr(transport, "_transport", None)
    if hasattr(transport, "_http_client") and inner is not None and not isinstance(inner, _PaymentSpy):
        transport._transport = _PaymentSpy(inner)


def _status_for(exc: BaseException) -> int:
    """The status a call that got no answer counts as: 402 unpaid, 504 unreachable, else 502."""
    import httpx

    if any(cls.__name__.endswith("PaymentError") for cls in type(exc).__mro__):
        return 402
    if isinstance(exc, (httpx.TimeoutException, httpx.ConnectError)):
        return 504
    return 502


def _record_stream(response: httpx.Response, done: Callable[[], None]) -> None:
    """Record a streamed response once its body has been read or it is closed."""
    import httpx

    inner = response.stream

    class Recorded(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in inner:  # type: ignore[union-attr]
                yield chunk

        async def aclose(self) -> None:
            try:
                await inner.aclose()  # type: ignore[union-attr]
            finally:
                done()

    response.stream = Recorded()


def x402_buyer(
    client: httpx.AsyncClient,
    writer: StoreWriter,
    api_id: Callable[[httpx.Request], str] | str | None = None,
) -> httpx.AsyncClient:
    """Record each call made with ``client`` (an ``httpx.AsyncClient``, x402's ``x402HttpxClient`` included).

    Parameters
    ----------
    client
        The client; it is changed in place and returned.
    writer
        Where the calls go.
    api_id
        ``api_id(request)`` names the API of a call (or one name for all);
        default: the URL's host and path.

    Returns
    -------
    httpx.AsyncClient
        ``client``, now recording.

    Examples
    --------
    >>> import asyncio, os, tempfile, sqlite3, httpx
    >>> from ccanalytics.collect import StoreWriter
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> writer = StoreWriter(path)
    >>> answer = httpx.MockTransport(lambda request: httpx.Response(200, text="sunny"))
    >>> async def main():
    ...     async with x402_buyer(httpx.AsyncClient(transport=answer), writer) as client:
    ...         return (await client.get("https://api.example.org/weather/oslo?units=si")).text
    >>> asyncio.run(main())
    'sunny'
    >>> writer.close()
    >>> sqlite3.connect(path).execute("SELECT role, api_id, status_code, price_micro FROM calls").fetchall()
    [('buyer', 'api.example.org/weather/oslo', 200, 0)]
    """
    if getattr(client, "_ccanalytics_writer", None) is not None:
        raise ValueError("this client already records its calls")
    send = client.send
    for transport in (getattr(client, "_transport", None), *(getattr(client, "_mounts", {}) or {}).values()):
        if transport is not None:
            _watch_payments(transport)

    def name_of(request: httpx.Request) -> str:
        if callable(api_id):
            return str(api_id(request))
        if isinstance(api_id, str) and api_id:
            return api_id
        return f"{request.url.host}{request.url.path}"

    def record(request: httpx.Request, holder: dict[str, Any], status: int, response: httpx.Response | None) -> None:
        latency_ms = (time.perf_counter() - holder["started"]) * 1000.0
        try:
            settlement = None
            if response is not None:
                header = next((response.headers[h] for h in SETTLEMENT_HEADERS if h in response.headers), None)
                settlement = read_settlement(header)
            sent = holder.get("payment") or next(
                (request.headers[h] for h in PAYMENT_HEADERS if h in request.headers), None
            )
            price = paid_micro(read_payment(sent), settlement)
            given_id = request.headers.get("x-request-id")
            writer.record(
                {
                    "request_id": given_id or str(uuid.uuid4()),
                    "ts_ms": holder["ts"],
                    "role": "buyer",
                    "api_id": name_of(request),
                    "api_name": None,
                    "status_code": status,
                    "latency_ms": latency_ms,
                    "price_micro": price,
                    "revenue_micro": 0,
                    "demo": 0,
                    "tx_hash": settlement.tx_hash if settlement is not None and price > 0 else None,
                    "delivery": "p2p",
                    "consumer": None,
                }
            )
        except Exception:
            log.exception("ccanalytics: a buyer call could not be recorded")

    async def recording_send(request: httpx.Request, **kwargs: Any) -> httpx.Response:
        holder: dict[str, Any] = {"ts": now_ms(), "started": time.perf_counter()}
        request.extensions = {**request.extensions, _KEY: holder}
        try:
            response = await send(request, **kwargs)
        except Exception as exc:
            record(request, holder, _status_for(exc), None)
            raise
        if kwargs.get("stream") and not response.is_closed:
            recorded = False

            def done() -> None:
                nonlocal recorded
                if not recorded:
                    recorded = True
                    record(request, holder, response.status_code, response)

            _record_stream(response, done)
        else:
            record(request, holder, response.status_code, response)
        return response

    client.send = recording_send  # type: ignore[method-assign]
    client._ccanalytics_writer = writer  # type: ignore[attr-defined]
    return client
