"""An x402 seller that records its paid calls into a ccanalytics store.

A FastAPI app protected by x402's own payment middleware, settled by x402's
own facilitator (in-process, signing with ``--facilitator-key``), with the
three lines of ccanalytics that record every paid call (marked below).

    python examples/x402_seller.py --db seller.db --rpc-url http://127.0.0.1:8545 \\
        --facilitator-key 0x… --pay-to 0x… [--port 4021] [--commission-bps 0]

``examples/x402_demo.py`` runs it on a local anvil chain with a buyer that pays.
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from x402 import x402Facilitator, x402ResourceServer
from x402.http.middleware.fastapi import PaymentMiddlewareASGI
from x402.mechanisms.evm.exact import register_exact_evm_facilitator, register_exact_evm_server
from x402.mechanisms.evm.signers import FacilitatorWeb3Signer

from ccanalytics.collect import StoreWriter, x402_seller

NETWORK = "eip155:84532"  # Base Sepolia, as a local anvil node started with --chain-id 84532 claims to be


def build(args: argparse.Namespace) -> object:
    """The seller's ASGI app: FastAPI + x402's middleware + the ccanalytics recorder."""
    facilitator = x402Facilitator()
    signer = FacilitatorWeb3Signer(
        private_key=args.facilitator_key, rpc_url=args.rpc_url, confirmation_timeout_seconds=15
    )
    register_exact_evm_facilitator(facilitator, signer, networks=NETWORK)
    server = x402ResourceServer(facilitator)
    register_exact_evm_server(server, networks=NETWORK)

    def accepts(price: str) -> dict[str, str]:
        return {"scheme": "exact", "payTo": args.pay_to, "price": price, "network": NETWORK}

    routes = {
        # x402 ignores `api_id` and `api_name`; the recorder names the API with them.
        "GET /weather/[city]": {"accepts": accepts("$0.001"), "api_id": "weather", "api_name": "Weather by city"},
        "GET /ticker/[count]": {"accepts": accepts("$0.0025"), "api_id": "ticker", "api_name": "Streamed ticker"},
        # Without them, an API is named by its method and path template: "GET /flaky", "GET /boom".
        "GET /flaky": {"accepts": accepts("$0.002")},
        "GET /boom": {"accepts": accepts("$0.002")},
    }

    app = FastAPI()

    @app.get("/weather/{city}")
    async def weather(city: str) -> dict[str, object]:
        return {"city": city, "forecast": "sunny", "celsius": 21}

    @app.get("/ticker/{count}")
    async def ticker(count: int) -> StreamingResponse:
        async def ticks():
            for i in range(count):
                await asyncio.sleep(0.005)
                yield f"tick {i}\n"

        return StreamingResponse(ticks(), media_type="text/plain")

    @app.get("/flaky")
    async def flaky() -> JSONResponse:
        return JSONResponse({"error": "upstream failed"}, status_code=503)  # not charged by x402

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("the handler failed")  # a 500, not charged by x402

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"ok": "yes"}

    app.add_middleware(PaymentMiddlewareASGI, routes=routes, server=server)

    # -- the ccanalytics lines ----------------------------------------------
    settings = {"wallet_address": args.pay_to, "rpc_url": args.rpc_url, "chain_id": "84532"}
    writer = StoreWriter(args.db, settings=settings, balance_every_minutes=args.balance_every_minutes)
    return x402_seller(app, writer, routes=routes, commission_bps=args.commission_bps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the store to record into (created when missing)")
    parser.add_argument("--rpc-url", required=True, help="the chain's JSON-RPC endpoint")
    parser.add_argument("--facilitator-key", required=True, help="private key of the facilitator's (funded) account")
    parser.add_argument("--pay-to", required=True, help="the seller's wallet address")
    parser.add_argument("--port", type=int, default=4021)
    parser.add_argument("--commission-bps", type=int, default=0)
    parser.add_argument("--balance-every-minutes", type=float, default=1.0)
    args = parser.parse_args()
    uvicorn.run(build(args), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
