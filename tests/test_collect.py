"""The recorder without a chain: the writer's promises, the seller layer's rules, the buyer hook's rows.

The x402 protocol itself (real middleware, facilitator, client, anvil) is
exercised in ``test_collect_x402.py``; here the payment layer is a small ASGI
app that answers as x402's does (its headers), at the unit's edge.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ccanalytics.chain.demochain import DEMO_ETH_WEI, DEMO_USDC_MICRO, DemoChain
from ccanalytics.collect import StoreWriter, x402_buyer, x402_seller
from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from pathlib import Path

PAYER = "0x" + "Ab12" * 10
TX = "0x" + "cd" * 32


def call(request_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "ts_ms": 1_700_000_000_000,
        "role": "seller",
        "api_id": "a",
        "status_code": 200,
        **extra,
    }


def rows(db: Path, sql: str = "SELECT * FROM calls ORDER BY rowid") -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def wait_for(predicate: Any, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- the writer ------------------------------------------------------------------------------------


def test_creates_a_wal_store_with_the_contract_schema_and_settings(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    with StoreWriter(db, settings={"wallet_address": PAYER, "chain_id": 84532}):
        pass
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"calls", "events", "apis", "balance_snapshots", "backups", "settings"} <= tables
    assert dict(con.execute("SELECT key, value FROM settings")) == {"wallet_address": PAYER, "chain_id": "84532"}
    events = con.execute("SELECT type, severity FROM events ORDER BY id").fetchall()
    con.close()
    assert events == [("startup", "info"), ("shutdown", "info")]


def test_calls_are_committed_while_it_runs_and_flushed_on_close(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    writer = StoreWriter(db)
    writer.record(call("first"))
    # Committed by the writer thread within its 250 ms batch window, not at close.
    assert wait_for(lambda: len(rows(db)) == 1)
    for i in range(450):
        writer.record(call(f"r{i}"))
    writer.close()
    assert len(rows(db)) == 451
    assert writer.written == 451 and writer.dropped == 0 and writer.failed == 0
    writer.close()  # twice is harmless


def test_a_retried_record_adds_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with StoreWriter(db) as writer:
        writer.record(call("same", status_code=200))
        writer.record(call("same", status_code=500))
        assert writer.flush()
        writer.record(call("same", status_code=502))
        writer.record(call("other"))
    assert (writer.written, writer.duplicates) == (2, 2)  # what was written, not what was asked
    with StoreWriter(db) as writer:  # and after a restart
        writer.record(call("same", status_code=504))
    assert (writer.written, writer.duplicates) == (0, 1)
    assert [(r["request_id"], r["status_code"]) for r in rows(db)] == [("same", 200), ("other", 200)]


def test_defaults_and_bad_calls(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with StoreWriter(db) as writer:
        writer.record(call("r1"))
        with pytest.raises(ValueError, match="needs api_id"):
            writer.record({"request_id": "x", "ts_ms": 1, "role": "seller", "status_code": 200})
    [row] = rows(db)
    assert (row["price_micro"], row["revenue_micro"], row["demo"], row["tx_hash"]) == (0, 0, 0, None)


def test_a_full_queue_drops_the_oldest_counts_them_and_says_so(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    writer = StoreWriter(db, queue_calls=50)
    # Hold the writer thread out of the store, so that the queue fills up.
    blocker = sqlite3.connect(db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    time.sleep(0.3)  # let a batch that is already under way fail or finish
    before = writer.failed
    for i in range(120):
        writer.record(call(f"r{i}"))
    dropped = writer.dropped
    blocker.execute("COMMIT")
    blocker.close()
    writer.close()
    assert dropped >= 120 - 50 - 2 * 1  # at most what one batch took out of the queue escapes the count
    kept = [r["request_id"] for r in rows(db)]
    assert kept == [f"r{i}" for i in range(120 - len(kept), 120)]  # the newest survive, in order
    assert len(kept) + writer.dropped + (writer.failed - before) == 120
    [message] = [r["message"] for r in rows(db, "SELECT message FROM events WHERE type = 'error'")]
    assert f"{writer.dropped} calls were lost" in message


def test_a_store_that_cannot_be_written_loses_calls_counted_never_raises(tmp_path: Path, caplog: Any) -> None:
    db = tmp_path / "s.db"
    writer = StoreWriter(db)
    con = sqlite3.connect(db)
    con.execute("DROP TABLE calls")  # someone breaks the store under the writer
    con.commit()
    con.close()
    with caplog.at_level(logging.WARNING, logger="ccanalytics.collect"):
        for i in range(5):
            writer.record(call(f"r{i}"))  # never raises on the request path
        writer.flush()
        writer.close()
    assert writer.failed == 5 and writer.written == 0
    assert "could not write 5 calls" in caplog.text
    # The next transaction that succeeds (here the shutdown event's) says what was lost.
    errors = [r["message"] for r in rows(db, "SELECT message FROM events WHERE type = 'error'")]
    assert errors == ["x402 recorder: 5 calls were lost (the store could not be written: no such table: calls)"]
    # A store whose calls table has only the required columns is written all the same.
    con = sqlite3.connect(db)
    con.execute(
        "CREATE TABLE calls (request_id TEXT PRIMARY KEY, ts_ms INTEGER, role TEXT, api_id TEXT, status_code INTEGER)"
    )
    con.commit()
    con.close()
    with StoreWriter(db) as again:
        again.record(call("after"))
    assert [r["request_id"] for r in rows(db)] == ["after"]


def test_a_file_that_is_not_a_store_is_refused_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CCError, match=r"bad\.db: cannot be written as a store"):
        StoreWriter(bad)


def test_a_crash_leaves_whole_batches_only(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    script = (
        "import sys, time\n"
        "from ccanalytics.collect import StoreWriter\n"
        "w = StoreWriter(sys.argv[1])\n"
        "print('ready', flush=True)\n"
        "i = 0\n"
        "while True:\n"
        "    w.record({'request_id': f'r{i:07d}', 'ts_ms': 1, 'role': 'seller', 'api_id': 'a', 'status_code': 200,\n"
        "              'api_name': 'x' * 200, 'tx_hash': '0x' + 'ab' * 32})\n"
        "    i += 1\n"
        "    if i % 100 == 0:\n"
        "        time.sleep(0.001)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stdout.readline() == b"ready\n"
        assert wait_for(lambda: len(rows(db, "SELECT request_id FROM calls")) > 1000, timeout_s=30)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    ids = [r for (r,) in con.execute("SELECT request_id FROM calls ORDER BY rowid")]
    assert ids == [f"r{i:07d}" for i in range(len(ids))]  # a prefix: no batch half-written
    assert con.execute("SELECT count(*) FROM calls WHERE api_name IS NULL OR tx_hash IS NULL").fetchone()[0] == 0
    assert [t for (t,) in con.execute("SELECT type FROM events")] == ["startup"]
    con.close()


def test_balance_snapshots_are_read_from_the_chain(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with DemoChain.start() as chain:
        settings = {
            "wallet_address": chain.wallet_address,
            "rpc_url": chain.rpc_url,
            "chain_id": chain.chain_id,
            "usdc_address": chain.usdc_address,
        }
        writer = StoreWriter(db, settings=settings, balance_every_minutes=0.002)  # every 120 ms
        first = wait_for(lambda: len(rows(db, "SELECT * FROM balance_snapshots")) >= 1)
        chain.pay(1_234)
        later = wait_for(
            lambda: any(r["usdc_micro"] < DEMO_USDC_MICRO for r in rows(db, "SELECT * FROM balance_snapshots"))
        )
        writer.close()
    assert first and later
    snaps = rows(db, "SELECT * FROM balance_snapshots ORDER BY rowid")
    assert (snaps[0]["usdc_micro"], snaps[0]["eth_wei"]) == (DEMO_USDC_MICRO, str(DEMO_ETH_WEI))
    assert snaps[-1]["usdc_micro"] == DEMO_USDC_MICRO - 1_234


# -- the seller layer -----------------------------------------------------------------------------


def b64(value: dict[str, Any]) -> bytes:
    return base64.b64encode(json.dumps(value).encode())


def payment(value: int, payer: str = PAYER) -> bytes:
    return b64(
        {"x402Version": 2, "payload": {"authorization": {"from": payer, "to": "0x" + "11" * 20, "value": str(value)}}}
    )


def settled(success: bool = True, payer: str = PAYER) -> bytes:
    return b64({"success": success, "transaction": TX if success else "", "payer": payer, "network": "eip155:84532"})


def starlette_app(outcome: dict[str, Any]) -> Any:
    """A Starlette app behind a layer answering like x402: 402 without payment, settlement headers with one."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    async def weather(request: Any) -> Any:
        return JSONResponse({"city": request.path_params["city"]})

    async def ticks(request: Any) -> Any:
        async def body() -> Any:
            for i in range(4):
                await asyncio.sleep(0.02)
                yield f"{i}\n"

        return StreamingResponse(body())

    async def free(request: Any) -> Any:
        return JSONResponse({"free": True})

    inner = Starlette(routes=[Route("/weather/{city}", weather), Route("/ticks", ticks), Route("/free", free)])

    async def x402_like(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers") or ())
        if scope["type"] != "http" or scope["path"] == "/free":
            await inner(scope, receive, send)
            return
        if b"payment-signature" not in headers:
            await send({"type": "http.response.start", "status": 402, "headers": [(b"payment-required", b"e30=")]})
            await send({"type": "http.response.body", "body": b"{}"})
            return

        async def with_settlement(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and outcome.get("settle") is not None:
                message = {**message, "headers": [*message["headers"], (b"payment-response", outcome["settle"])]}
                if not outcome.get("settle_ok", True):
                    message["status"] = 402
            await send(message)

        await inner(scope, receive, with_settlement)

    x402_like.routes = inner.routes  # type: ignore[attr-defined]
    return x402_like


ROUTES = {
    "GET /weather/[city]": {"accepts": {"scheme": "exact", "price": "$0.001999", "payTo": "0x" + "11" * 20}},
    "GET /ticks": {"accepts": {"price": "$0.002"}, "api_id": "ticks", "api_name": "Ticks"},
}


def serve(app: Any, requests: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://seller") as client:
            return [await client.get(path, headers=headers) for path, headers in requests]

    return asyncio.run(main())


def test_seller_rows_follow_the_rules(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    outcome: dict[str, Any] = {"settle": settled()}
    writer = StoreWriter(db)
    app = x402_seller(starlette_app(outcome), writer, routes=ROUTES, commission_bps=500)
    paid = {"payment-signature": payment(1999).decode(), "x-request-id": "paid-1"}
    answers = serve(
        app,
        [
            ("/weather/oslo", {}),  # the challenge: not recorded
            ("/weather/oslo", paid),
            ("/weather/oslo", paid),  # the same request id again: one row
            ("/free", {"payment-signature": "x"}),  # not a paid route
            ("/ticks", {"payment-signature": payment(2000).decode(), "x-request-id": "stream-1"}),
        ],
    )
    outcome.update(settle=settled(success=False), settle_ok=False)
    answers += serve(
        app, [("/weather/rome", {"payment-signature": payment(1999).decode(), "x-request-id": "failed-1"})]
    )
    writer.close()
    assert [a.status_code for a in answers] == [402, 200, 200, 200, 200, 402]
    got = {r["request_id"]: r for r in rows(db)}
    assert set(got) == {"paid-1", "stream-1", "failed-1"}
    one = got["paid-1"]
    assert (one["api_id"], one["api_name"], one["status_code"]) == ("GET /weather/{city}", "GET /weather/{city}", 200)
    assert (one["price_micro"], one["revenue_micro"], one["tx_hash"]) == (1999, 1899, TX)  # 1999 × 0.95, rounded down
    assert one["consumer"] == hashlib.sha256(PAYER.lower().encode()).hexdigest()
    assert (one["delivery"], one["role"], one["demo"]) == ("p2p", "seller", 0)
    stream = got["stream-1"]
    assert (stream["api_id"], stream["api_name"], stream["price_micro"]) == ("ticks", "Ticks", 2000)
    assert stream["latency_ms"] >= 60  # four chunks 20 ms apart: measured until the body was complete
    failed = got["failed-1"]
    assert (failed["status_code"], failed["price_micro"], failed["revenue_micro"], failed["tx_hash"]) == (
        402,
        0,
        0,
        None,
    )
    apis = {r["api_id"]: (r["name"], r["price_micro"]) for r in rows(db, "SELECT * FROM apis")}
    assert apis == {"GET /weather/{city}": ("GET /weather/{city}", 1999), "ticks": ("Ticks", 2000)}


def test_a_broken_writer_never_fails_the_request(tmp_path: Path, caplog: Any) -> None:
    class Broken:
        def record(self, call: Any) -> None:
            raise OSError("disk on fire")

        def register_api(self, *args: Any) -> None:
            raise OSError("disk on fire")

    app = x402_seller(starlette_app({"settle": settled()}), Broken(), routes=ROUTES)  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="ccanalytics.collect"):
        [answer] = serve(app, [("/weather/oslo", {"payment-signature": payment(1999).decode()})])
    assert answer.status_code == 200 and answer.json() == {"city": "oslo"}
    assert app.calls_not_recorded == 1
    assert "could not be recorded" in caplog.text


def test_commission_must_be_basis_points(tmp_path: Path) -> None:
    with StoreWriter(tmp_path / "s.db") as writer:
        for bad in (-1, 10_001, 2.5):
            with pytest.raises(ValueError, match="commission_bps"):
                x402_seller(starlette_app({}), writer, routes=ROUTES, commission_bps=bad)  # type: ignore[arg-type]


# -- the buyer hook ---------------------------------------------------------------------------------


def test_buyer_rows_streams_and_failures(tmp_path: Path) -> None:
    db = tmp_path / "b.db"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.example":
            raise httpx.ConnectError("refused", request=request)
        if request.url.path == "/paid":
            return httpx.Response(200, headers={"payment-response": settled().decode()}, text="ok")
        return httpx.Response(200, stream=Chunks())

    class Chunks(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            for _ in range(3):
                await asyncio.sleep(0.01)
                yield b"x" * 100

    async def main(writer: StoreWriter) -> None:
        transport = httpx.MockTransport(answer)
        names = lambda request: "api:" + request.url.path  # noqa: E731
        async with x402_buyer(httpx.AsyncClient(transport=transport), writer, api_id=names) as client:
            headers = {"payment-signature": payment(1500).decode(), "x-request-id": "paid"}
            await client.get("https://api.example/paid", headers=headers)
            async with client.stream("GET", "https://api.example/big", headers={"x-request-id": "streamed"}) as r:
                assert writer.flush() and rows(db) and len(rows(db)) == 1  # not recorded before the body is read
                await r.aread()
            with pytest.raises(httpx.ConnectError):
                await client.get("https://down.example/x", headers={"x-request-id": "down"})

    with StoreWriter(db) as writer:
        asyncio.run(main(writer))
    got = {r["request_id"]: r for r in rows(db)}
    assert set(got) == {"paid", "streamed", "down"}
    assert (got["paid"]["price_micro"], got["paid"]["tx_hash"], got["paid"]["api_id"]) == (1500, TX, "api:/paid")
    assert (got["streamed"]["status_code"], got["streamed"]["price_micro"]) == (200, 0)
    assert (got["down"]["status_code"], got["down"]["api_id"]) == (504, "api:/x")
    assert all(r["role"] == "buyer" for r in got.values())
