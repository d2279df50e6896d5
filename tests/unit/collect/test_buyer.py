"""The buyer's recorder: one ``buyer`` call per call made, with what it paid (collect.md, "Buyers")."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
from typing import TYPE_CHECKING

import httpx
import pytest

from ccanalytics.collect.buyer import _status_for, x402_buyer
from ccanalytics.collect.writer import StoreWriter

if TYPE_CHECKING:
    from pathlib import Path

TX = "0x" + "ab" * 32
PAYER = "0x" + "11" * 20


def b64(value: dict) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def calls(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT role, api_id, status_code, price_micro, tx_hash, request_id FROM calls").fetchall()


def run(path: Path, handler, *, api_id=None, headers=None) -> httpx.Response | Exception:
    writer = StoreWriter(path)

    async def main() -> httpx.Response:
        client = x402_buyer(httpx.AsyncClient(transport=httpx.MockTransport(handler)), writer, api_id)
        async with client:
            return await client.get("https://api.example.org/weather/oslo?units=si", headers=headers)

    try:
        return asyncio.run(main())
    except Exception as exc:
        return exc
    finally:
        writer.close()


def test_a_settled_payment_is_recorded_with_its_amount_and_transaction(tmp_path: Path) -> None:
    payment = b64({"payload": {"authorization": {"from": PAYER, "to": "0x" + "22" * 20, "value": "1000"}}})
    settled = b64({"success": True, "transaction": TX, "payer": PAYER})
    response = run(
        tmp_path / "s.db",
        lambda request: httpx.Response(200, text="sunny", headers={"payment-response": settled}),
        api_id="weather",
        headers={"payment-signature": payment, "x-request-id": "req-1"},
    )
    assert isinstance(response, httpx.Response)
    assert response.text == "sunny"
    assert calls(tmp_path / "s.db") == [("buyer", "weather", 200, 1000, TX, "req-1")]


def test_an_unpaid_call_is_recorded_at_zero_under_host_and_path(tmp_path: Path) -> None:
    run(tmp_path / "s.db", lambda request: httpx.Response(503))
    [(role, api_id, status, price, tx, _)] = calls(tmp_path / "s.db")
    assert (role, api_id, status, price, tx) == ("buyer", "api.example.org/weather/oslo", 503, 0, None)


def test_a_call_that_got_no_answer_is_recorded_as_504_and_still_raises(tmp_path: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert isinstance(run(tmp_path / "s.db", refuse), httpx.ConnectError)
    assert [row[2] for row in calls(tmp_path / "s.db")] == [504]


def test_the_status_of_a_call_without_an_answer() -> None:
    class PaymentError(Exception):
        pass

    assert _status_for(PaymentError()) == 402
    assert _status_for(httpx.ReadTimeout("slow")) == 504
    assert _status_for(RuntimeError("other")) == 502


def test_a_client_is_wrapped_once(tmp_path: Path) -> None:
    writer = StoreWriter(tmp_path / "s.db")
    try:
        client = x402_buyer(httpx.AsyncClient(), writer)
        with pytest.raises(ValueError, match="already records"):
            x402_buyer(client, writer)
        asyncio.run(client.aclose())
    finally:
        writer.close()
