"""What the x402 recorder adds to a request: the median time per request with and without it.

The same FastAPI app answers a paid call (a request with ``PAYMENT-SIGNATURE``
and a settled ``PAYMENT-RESPONSE``, as x402's middleware gives it) through
ASGI directly, so that network and event-loop noise is not measured: once bare,
once wrapped by ``x402_seller`` writing to a real store (whose writer thread
commits while the requests run). The two are interleaved round by round, so
a machine busy with other work disturbs both alike.

    python -m benchmarks.collect [--requests 20000] [--rounds 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from ccanalytics.collect import StoreWriter, x402_seller

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAYER = "0x" + "ab" * 20
ROUTES = {"GET /weather/[city]": {"accepts": {"scheme": "exact", "price": "$0.001"}, "api_id": "weather"}}


def _b64(value: dict) -> bytes:
    return base64.b64encode(json.dumps(value).encode())


PAYMENT = _b64({"payload": {"authorization": {"from": PAYER, "to": "0x" + "11" * 20, "value": "1000"}}})
SETTLED = _b64({"success": True, "transaction": "0x" + "cd" * 32, "payer": PAYER, "network": "eip155:84532"})


def seller_app() -> ASGIApp:
    """A FastAPI app whose answer carries a settlement, as behind x402's middleware."""
    app = FastAPI()

    @app.get("/weather/{city}")
    async def weather(city: str) -> dict[str, str]:
        return {"city": city}

    async def settled(scope: Scope, receive: Receive, send: Send) -> None:
        async def with_settlement(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"payment-response", SETTLED)]}
            await send(message)

        await app(scope, receive, with_settlement)

    settled.routes = app.routes  # type: ignore[attr-defined]
    return settled


async def _time(app: ASGIApp, n: int, prefix: str) -> list[float]:
    """Per-request times in microseconds, calling the ASGI app directly."""

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        pass

    times = []
    for i in range(n):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/weather/oslo",
            "raw_path": b"/weather/oslo",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"payment-signature", PAYMENT), (b"x-request-id", f"{prefix}-{i}".encode())],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8000),
        }
        started = time.perf_counter_ns()
        await app(scope, receive, send)
        times.append((time.perf_counter_ns() - started) / 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000, help="requests per side and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        writer = StoreWriter(db)
        bare = seller_app()
        recorded = x402_seller(seller_app(), writer, routes=ROUTES)
        base, rec = [], []
        for r in range(args.rounds):
            base += asyncio.run(_time(bare, args.requests, f"b{r}"))
            rec += asyncio.run(_time(recorded, args.requests, f"r{r}"))
        writer.close()
        import sqlite3

        con = sqlite3.connect(db)
        stored = con.execute("SELECT count(*) FROM calls").fetchone()[0]
        con.close()
    figures = {
        "requests": args.requests * args.rounds,
        "bare_median_us": round(statistics.median(base), 1),
        "recorded_median_us": round(statistics.median(rec), 1),
        "added_median_us": round(statistics.median(rec) - statistics.median(base), 1),
        "recorded_p99_us": round(statistics.quantiles(rec, n=100)[98], 1),
        "bare_p99_us": round(statistics.quantiles(base, n=100)[98], 1),
        "stored": stored,
        "lost": writer.dropped + writer.failed,
    }
    print(f"requests per side              {figures['requests']:,}")
    print(f"median per request, bare       {figures['bare_median_us']} µs (p99 {figures['bare_p99_us']} µs)")
    print(f"median per request, recorded   {figures['recorded_median_us']} µs (p99 {figures['recorded_p99_us']} µs)")
    print(f"added by the recorder (median) {figures['added_median_us']} µs")
    print(f"calls in the store             {stored:,} (lost to a full queue, counted: {figures['lost']:,})")
    if args.json:
        print(json.dumps(figures))
    # Every call is either stored or counted as lost: nothing vanishes silently.
    return 0 if stored + figures["lost"] == figures["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
