"""A living x402 demo on a local chain: a seller, x402's facilitator, a buyer paying per call, the dashboard.

    python examples/x402_demo.py [--db x402-seller.db] [--port 8866] [--calls N]

It starts anvil (``node_modules/.bin/anvil``, ``$CCANALYTICS_ANVIL`` or on
PATH) as chain 84532, places the EIP-3009 token at Base Sepolia's USDC
address, funds a buyer with 10 USDC and a facilitator with gas, then runs:

- the seller, ``examples/x402_seller.py`` (FastAPI + x402's middleware + the
  recorder), recording into ``--db``;
- ``ccanalytics serve --db`` on that store: http://127.0.0.1:8866/;
- a buyer (x402's own httpx client, recorded with ``x402_buyer`` into
  ``<db>.buyer.db``) that calls a paid API about once a second, now and then
  one that fails;
- ``ccanalytics reconcile`` every minute, so the page shows how many paid
  calls were found on chain.

Ctrl-C stops everything. Every payment is a real EIP-3009 transfer settled by
x402's facilitator on the local chain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _anvil() -> str:
    for candidate in (os.environ.get("CCANALYTICS_ANVIL"), str(REPO / "node_modules" / ".bin" / "anvil")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("anvil")
    if found is None:
        sys.exit("anvil not found: run `npm install @foundry-rs/anvil` in the repository root")
    return found


def _wait(url: str, what: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    sys.exit(f"{what} did not answer within {timeout_s:g} s")


async def _buy(url: str, buyer: object, buyer_db: Path, calls: int | None) -> None:
    from x402 import x402Client
    from x402.http.clients.httpx import x402HttpxClient
    from x402.mechanisms.evm.exact import register_exact_evm_client
    from x402.mechanisms.evm.signers import EthAccountSigner

    from ccanalytics.collect import StoreWriter, x402_buyer

    client = x402Client()
    register_exact_evm_client(client, EthAccountSigner(buyer), networks="eip155:84532")
    writer = StoreWriter(buyer_db)
    done = 0
    try:
        while calls is None or done < calls:
            path = random.choices(
                [f"/weather/{random.choice(['oslo', 'rome', 'lima', 'pune'])}", "/ticker/5", "/flaky"],
                weights=[8, 2, 1],
            )[0]
            # A fresh client now and then: a failed handler closes its connection.
            async with x402_buyer(x402HttpxClient(client, timeout=30), writer) as http:
                try:
                    answer = await http.get(url + path, headers={"X-Request-ID": str(uuid.uuid4())})
                    print(f"{path:<16} {answer.status_code}", flush=True)
                except Exception as exc:
                    print(f"{path:<16} failed: {exc}", flush=True)
            done += 1
            await asyncio.sleep(random.uniform(0.3, 1.5))
    finally:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="x402-seller.db", help="the seller's store (default x402-seller.db)")
    parser.add_argument("--port", type=int, default=8866, help="the dashboard's port (default 8866)")
    parser.add_argument("--calls", type=int, help="stop after this many calls (default: run until Ctrl-C)")
    parser.add_argument("--seed", type=int, help="random seed of the buyer's choices")
    parser.add_argument(
        "--no-serve", action="store_true", help="do not start the dashboard (the store fills all the same)"
    )
    args = parser.parse_args()
    random.seed(args.seed)

    from eth_account import Account
    from web3 import HTTPProvider, Web3

    from ccanalytics.collect.localchain import place_usdc

    db = Path(args.db).absolute()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        chain_port = _free_port()
        rpc_url = f"http://127.0.0.1:{chain_port}"
        anvil = subprocess.Popen(
            [_anvil(), "--port", str(chain_port), "--chain-id", "84532", "--silent"], start_new_session=True
        )
        processes.append(anvil)
        w3 = Web3(HTTPProvider(rpc_url))
        deadline = time.monotonic() + 30
        while not w3.is_connected():
            if time.monotonic() > deadline:
                sys.exit("anvil did not start")
            time.sleep(0.1)
        owner = w3.eth.accounts[0]
        token = place_usdc(w3, owner)
        buyer, facilitator, seller = Account.create(), Account.create(), Account.create()
        w3.eth.wait_for_transaction_receipt(token.functions.mint(buyer.address, 10_000_000).transact({"from": owner}))
        w3.provider.make_request("anvil_setBalance", [facilitator.address, hex(10**20)])
        w3.provider.make_request("anvil_setBalance", [seller.address, hex(10**16)])

        seller_port = _free_port()
        seller_url = f"http://127.0.0.1:{seller_port}"
        processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "x402_seller.py"),
                    "--db",
                    str(db),
                    "--rpc-url",
                    rpc_url,
                    "--facilitator-key",
                    facilitator.key.hex(),
                    "--pay-to",
                    seller.address,
                    "--port",
                    str(seller_port),
                ]
            )
        )
        _wait(seller_url + "/health", "the seller", processes[-1])
        if not args.no_serve:
            serve = [sys.executable, "-m", "ccanalytics", "serve", "--db", str(db), "--port", str(args.port)]
            processes.append(subprocess.Popen(serve))
            print(f"dashboard http://127.0.0.1:{args.port}/", flush=True)
        print(f"seller {seller_url} · chain {rpc_url}", flush=True)

        async def run() -> None:
            async def reconcile_every_minute() -> None:
                while True:
                    await asyncio.sleep(60)
                    await asyncio.to_thread(
                        subprocess.run,
                        [sys.executable, "-m", "ccanalytics", "reconcile", "--db", str(db)],
                        stdout=subprocess.DEVNULL,
                    )

            reconciler = asyncio.create_task(reconcile_every_minute())
            try:
                await _buy(seller_url, buyer, db.with_suffix(".buyer.db"), args.calls)
            finally:
                reconciler.cancel()
            subprocess.run([sys.executable, "-m", "ccanalytics", "reconcile", "--db", str(db)], check=False)

        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    if process is processes[0]:
                        os.killpg(process.pid, signal.SIGTERM)
                    else:
                        process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)


if __name__ == "__main__":
    main()
