"""Pytest plugin: a real JSON-RPC node (anvil) for the chain tests.

Registered by ``tests/conftest.py`` (``pytest_plugins``).
anvil comes from npm (``npm install @foundry-rs/anvil`` in the repository
root); ``$CCANALYTICS_ANVIL`` may name another binary. A missing anvil fails
the tests that need it: CI must run them, never skip them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from ccanalytics.chain.demochain import load_token_artifact

if TYPE_CHECKING:
    from collections.abc import Iterator

    from eth_account.signers.local import LocalAccount
    from web3 import Web3
    from web3.types import TxParams

ANVIL_CHAIN_ID = 84532  # Base Sepolia's id: the settings a real user would have
REPO = Path(__file__).resolve().parents[2]
_START_TIMEOUT_S = 30.0


def anvil_binary() -> str:
    """Where anvil is: ``$CCANALYTICS_ANVIL``, ``<repo>/node_modules/.bin/anvil``, or on PATH."""
    candidates = [os.environ.get("CCANALYTICS_ANVIL"), str(REPO / "node_modules" / ".bin" / "anvil")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("anvil")
    if found is None:
        pytest.fail(
            "anvil not found: run `npm install @foundry-rs/anvil` in the repository root "
            "(or set CCANALYTICS_ANVIL to the binary)",
            pytrace=False,
        )
    return found


def free_port() -> int:
    """A loopback TCP port nobody listens on (closed again before returning)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Anvil:
    """A running anvil node and the helpers the tests need on it.

    Attributes
    ----------
    url
        ``http://127.0.0.1:PORT``.
    chain_id
        What the node reports (84532).
    deployer
        An unlocked, funded account of the node; deploys and owns the tokens.
    w3
        A client for set-up work (not the code under test).
    """

    url: str
    chain_id: int
    deployer: str
    w3: Web3

    def deploy_token(self) -> str:
        """Deploy a fresh DemoUSDC owned by :attr:`deployer`; return its address."""
        artifact = load_token_artifact()
        contract = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx = contract.constructor().transact({"from": self.deployer})
        address = self.w3.eth.wait_for_transaction_receipt(tx, timeout=10)["contractAddress"]
        assert address is not None, "the deployment's receipt names no contract"
        return address

    def token(self, address: str) -> Any:
        """The DemoUSDC contract at ``address`` (a web3 contract object)."""
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=load_token_artifact()["abi"])

    def mint(self, token: str, to: str, amount_micro: int) -> None:
        """Mint ``amount_micro`` of the token at ``token`` to ``to``."""
        tx = self.token(token).functions.mint(to, amount_micro).transact({"from": self.deployer})
        self.mined(tx)

    def set_eth(self, address: str, wei: int) -> None:
        """Set ``address``'s ETH balance exactly (``anvil_setBalance``)."""
        from web3.types import RPCEndpoint

        response = self.w3.provider.make_request(RPCEndpoint("anvil_setBalance"), [address, hex(wei)])
        assert "error" not in response, response

    def new_wallet(self) -> LocalAccount:
        """A wallet with a fresh random key (nothing hard-coded), unknown to the node."""
        from eth_account import Account

        return Account.create()

    def send_signed(self, account: LocalAccount, tx: dict[str, Any]) -> Any:
        """Sign ``tx`` with ``account``'s key, send it, and return the receipt once mined."""
        tx = {
            "from": account.address,
            "nonce": self.w3.eth.get_transaction_count(account.address),
            "chainId": self.chain_id,
            "maxPriorityFeePerGas": 1_000_000_000,
            "maxFeePerGas": 2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + 1_000_000_000,
            **tx,
        }
        tx.setdefault("gas", self.w3.eth.estimate_gas(cast("TxParams", tx)))
        signed = account.sign_transaction(tx)
        return self.mined(self.w3.eth.send_raw_transaction(signed.raw_transaction))

    def mined(self, tx: Any) -> Any:
        """Wait for ``tx`` to be mined and check it succeeded; return the receipt."""
        receipt = self.w3.eth.wait_for_transaction_receipt(tx, timeout=10)
        assert receipt["status"] == 1, receipt
        return receipt


def _wait_until_answering(w3: Web3, process: subprocess.Popen[bytes], stderr_path: Path) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"anvil exited with {process.returncode}: {stderr_path.read_text()[-2000:]}", pytrace=False)
        try:
            w3.eth.chain_id  # noqa: B018 - the first answer is the readiness signal
            return
        except Exception:
            time.sleep(0.05)
    pytest.fail(f"anvil did not answer within {_START_TIMEOUT_S:g} s", pytrace=False)


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The npm `anvil` is a node wrapper around the real binary: signal the whole
    # process group started for it, so no anvil outlives the tests.
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.fixture
def funded(anvil: Anvil) -> tuple[str, LocalAccount]:
    """A fresh token and a fresh random wallet holding 12.345678 USDC and 0.004200000000000001 ETH."""
    token = anvil.deploy_token()
    wallet = anvil.new_wallet()
    anvil.mint(token, wallet.address, 12_345_678)
    anvil.set_eth(wallet.address, 4_200_000_000_000_001)
    return token, wallet


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    """A fresh anvil node on a free loopback port (``--chain-id 84532``), stopped after the session."""
    import requests
    from web3 import HTTPProvider, Web3

    binary = anvil_binary()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp, requests.Session() as session:
        stderr_path = Path(tmp) / "anvil.stderr"
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                [binary, "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(ANVIL_CHAIN_ID), "--silent"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        try:
            w3 = Web3(HTTPProvider(url, session=session, request_kwargs={"timeout": 10}))
            _wait_until_answering(w3, process, stderr_path)
            yield Anvil(url=url, chain_id=w3.eth.chain_id, deployer=w3.eth.accounts[0], w3=w3)
        finally:
            _stop(process)
