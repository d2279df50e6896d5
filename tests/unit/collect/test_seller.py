"""The seller's recorder: a paid route's call is one ``seller`` row; the 402 challenge is none."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sqlite3
from typing import TYPE_CHECKING

from ccanalytics.collect.seller import compile_routes, x402_seller
from ccanalytics.collect.writer import StoreWriter

if TYPE_CHECKING:
    from pathlib import Path

TX = "0x" + "cd" * 32
PAYER = "0x" + "Ab" * 20
ROUTES = {"GET /w/[city]": {"accepts": {"price": "$0.001"}}}


def b64(value: dict) -> bytes:
    return base64.b64encode(json.dumps(value).encode())


def app_answering(status: int, headers: list[tuple[bytes, bytes]]):
    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def serve(path: Path, app, requests: list[tuple[str, list]], commission_bps: int = 0) -> list[tuple]:
    writer = StoreWriter(path)
    recorded = x402_seller(app, writer, routes=ROUTES, commission_bps=commission_bps)

    async def call(target: str, headers: list) -> None:
        async def send(message: dict) -> None:
            pass

        await recorded({"type": "http", "method": "GET", "path": target, "headers": headers}, None, send)

    for target, headers in requests:
        asyncio.run(call(target, headers))
    writer.close()
    with sqlite3.connect(path) as con:
        return con.execute(
            "SELECT api_id, status_code, price_micro, revenue_micro, tx_hash, consumer, request_id FROM calls"
        ).fetchall()


def test_a_settled_call_has_its_price_revenue_less_commission_and_hashed_consumer(tmp_path: Path) -> None:
    import hashlib

    settled = [(b"payment-response", b64({"success": True, "transaction": TX, "payer": PAYER}))]
    payment = b64({"payload": {"authorization": {"from": PAYER, "value": "1001"}}})
    rows = serve(
        tmp_path / "s.db",
        app_answering(200, settled),
        [("/w/oslo", [(b"payment-signature", payment), (b"x-request-id", b"q1")])],
        commission_bps=500,
    )
    consumer = hashlib.sha256(PAYER.lower().encode()).hexdigest()
    # 1001 less 5 %, rounded down: 950
    assert rows == [("GET /w/{city}", 200, 1001, 950, TX, consumer, "q1")]


def test_the_challenge_and_free_routes_are_not_calls(tmp_path: Path) -> None:
    rows = serve(tmp_path / "s.db", app_answering(402, []), [("/w/oslo", []), ("/free", [(b"x-payment", b"e30=")])])
    assert rows == []


def test_an_app_that_fails_before_answering_is_a_500(tmp_path: Path) -> None:
    async def broken(scope, receive, send) -> None:
        raise RuntimeError("boom")

    writer = StoreWriter(tmp_path / "s.db")
    recorded = x402_seller(broken, writer, routes=ROUTES)

    async def call() -> None:
        async def send(message: dict) -> None:
            pass

        scope = {"type": "http", "method": "GET", "path": "/w/oslo", "headers": [(b"payment-signature", b"e30=")]}
        await recorded(scope, None, send)

    with contextlib.suppress(RuntimeError):
        asyncio.run(call())
    writer.close()
    with sqlite3.connect(tmp_path / "s.db") as con:
        assert con.execute("SELECT status_code, price_micro FROM calls").fetchall() == [(500, 0)]


def test_routes_compile_like_x402s() -> None:
    routes = compile_routes({"GET /weather/[city]": {"accepts": {}}, "/a/:b/*": {"accepts": {}}})
    assert [(r.verb, r.template) for r in routes] == [("GET", "/weather/{city}"), ("*", "/a/{b}/*")]
    assert routes[0].regex.match("/weather/oslo")
    assert not routes[0].regex.match("/weather/oslo/extra")
