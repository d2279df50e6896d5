"""A real x402 market on anvil for the recorder's tests: the token, wallets, a seller process, buyers.

The seller is ``examples/x402_seller.py`` (FastAPI + x402's payment middleware +
x402's in-process facilitator + the recorder), run as a subprocess: x402 calls
``os._exit`` on a misconfigured route, and the crash test kills it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ccanalytics.collect.localchain import place_usdc
from tests.support.chain_fixtures import free_port

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from tests.support.chain_fixtures import Anvil

REPO = Path(__file__).resolve().parents[2]
SELLER = REPO / "examples" / "x402_seller.py"
NETWORK = "eip155:84532"


@dataclass
class World:
    """The token at Base Sepolia's USDC address and the anvil node it lives on."""

    anvil: Anvil
    token: Any

    def wallet(self, usdc_micro: int = 0, eth_wei: int = 0) -> LocalAccount:
        """A fresh random wallet holding exactly this much."""
        account = self.anvil.new_wallet()
        if usdc_micro:
            self.anvil.mined(self.token.functions.mint(account.address, usdc_micro).transact({"from": self.owner}))
        if eth_wei:
            self.anvil.set_eth(account.address, eth_wei)
        return account

    @property
    def owner(self) -> str:
        return self.anvil.deployer

    def usdc(self, address: str) -> int:
        return int(self.token.functions.balanceOf(address).call())


def make_world(anvil: Anvil) -> World:
    return World(anvil=anvil, token=place_usdc(anvil.w3, anvil.deployer))


@dataclass
class Seller:
    """A running seller process and what it was started with."""

    process: subprocess.Popen[bytes]
    url: str
    db: Path
    wallet: LocalAccount
    stderr: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """Kill -9: no clean shutdown of anything."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


def start_seller(world: World, db: Path, tmp: Path, *, commission_bps: int = 0) -> Seller:
    """Start the example seller on a free port with its own facilitator account; wait until it answers."""
    wallet = world.wallet()
    facilitator = world.wallet(eth_wei=10**20)
    port = free_port()
    stderr = tmp / f"seller-{port}.stderr"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                str(SELLER),
                "--db",
                str(db),
                "--rpc-url",
                world.anvil.url,
                "--facilitator-key",
                facilitator.key.hex(),
                "--pay-to",
                wallet.address,
                "--port",
                str(port),
                "--commission-bps",
                str(commission_bps),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the seller exited with {process.returncode}: {stderr.read_text()[-3000:]}", pytrace=False)
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return Seller(process=process, url=url, db=db, wallet=wallet, stderr=stderr)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("the seller did not answer within 60 s", pytrace=False)


def paying_client(buyer: LocalAccount) -> httpx.AsyncClient:
    """x402's own httpx client, paying with ``buyer``'s USDC."""
    from x402 import x402Client
    from x402.http.clients.httpx import x402HttpxClient
    from x402.mechanisms.evm.exact import register_exact_evm_client
    from x402.mechanisms.evm.signers import EthAccountSigner

    client = x402Client()
    register_exact_evm_client(client, EthAccountSigner(buyer), networks=NETWORK)
    return x402HttpxClient(client, timeout=30)
