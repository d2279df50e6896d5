"""The embedded demo chain: an in-process EVM with a USDC-like token, served over HTTP.

``ccanalytics serve`` without a store starts one :class:`DemoChain`; the demo
store's settings point at its ``rpc_url``, so every dashboard kernel (each
Voila tab is its own process) reads balances from it exactly as it would from
Base, through :func:`ccanalytics.chain.read_balances`. The serve process pays
for the demo's buyer calls with :meth:`DemoChain.pay`, so the USDC card falls
(and the gas card a little) while the demo runs.

The chain is web3's ``EthereumTesterProvider`` (py-evm); the token is
``contracts/DemoUSDC.vy``, deployed from its committed artifact. The HTTP side
answers read-only JSON-RPC only: the tester's accounts are unlocked, so
sending transactions is kept to this process.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import TYPE_CHECKING, Any, cast

from ccanalytics.chain import ChainError
from ccanalytics.net import is_loopback

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DEMO_ETH_WEI", "DEMO_USDC_MICRO", "DemoChain", "load_token_artifact"]

DEMO_USDC_MICRO = 25_000_000  # 25 USDC: well above the default 1 USDC low-balance threshold
DEMO_ETH_WEI = 4_200_000_000_000_000  # 0.0042 ETH: above the default 0.0005 ETH low-gas threshold

# Fixed keys make the demo the same on every start (same wallet, same token address).
_WALLET_SEED = b"ccanalytics demo wallet"
_MARKETPLACE_SEED = b"ccanalytics demo marketplace"

# What a dashboard (or a curious user with curl) may ask; everything that
# would change the chain stays in-process.
READ_METHODS = frozenset(
    {
        "web3_clientVersion",
        "net_version",
        "net_listening",
        "eth_chainId",
        "eth_syncing",
        "eth_blockNumber",
        "eth_gasPrice",
        "eth_maxPriorityFeePerGas",
        "eth_feeHistory",
        "eth_getBalance",
        "eth_getCode",
        "eth_getTransactionCount",
        "eth_getStorageAt",
        "eth_call",
        "eth_estimateGas",
        "eth_getBlockByNumber",
        "eth_getBlockByHash",
        "eth_getTransactionByHash",
        "eth_getTransactionReceipt",
        "eth_getLogs",
    }
)
_MAX_BODY = 1 << 20

# Explicit gas limits: py-evm's estimator runs a binary search of full
# executions (≈ 1 s at start-up) and assumes the block's whole gas limit is
# affordable, which a wallet holding 0.0042 ETH is not.
_GAS = {"deploy": 1_000_000, "mint": 150_000, "transfer": 100_000, "send": 21_000}


def load_token_artifact() -> dict[str, Any]:
    """The compiled DemoUSDC token: ``{"abi": [...], "bytecode": "0x…", ...}``.

    Examples
    --------
    >>> artifact = load_token_artifact()
    >>> sorted(f["name"] for f in artifact["abi"] if f["type"] == "function")[:4]
    ['allowance', 'approve', 'balanceOf', 'decimals']
    """
    text = resources.files("ccanalytics").joinpath("contracts", "DemoUSDC.json").read_text(encoding="utf-8")
    return json.loads(text)


def _to_wire(value: Any) -> Any:
    """eth-tester answers with Python ints and bytes; JSON-RPC wants hex quantities and data."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {key: _to_wire(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_wire(item) for item in value]
    return str(value)


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


class _Server(ThreadingHTTPServer):
    """A ThreadingHTTPServer that knows which function answers a JSON-RPC body."""

    def __init__(self, address: tuple[str, int], answer: Callable[[bytes], bytes]) -> None:
        super().__init__(address, _Handler)
        self.answer = answer


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.0: one request per connection, so no handler thread outlives stop().
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.send_error(413)
            return
        body = self.server.answer(self.rfile.read(length))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.send_error(405, "JSON-RPC takes POST")

    def log_message(self, format: str, *args: Any) -> None:
        # Silence: the serve process's output is the user's terminal.
        pass


class DemoChain:
    """A running demo chain; create it with :meth:`DemoChain.start`, end it with :meth:`stop`.

    Usable as a context manager. All chain access (HTTP requests, ``pay``,
    ``deposit``) is serialised by one lock, because eth-tester is not
    thread-safe.
    """

    def __init__(self, w3: Any, token: Any, wallet: str, marketplace: str, server: _Server) -> None:
        self._w3 = w3
        self._token = token
        self._owner = w3.eth.accounts[0]
        self._wallet = wallet
        self._marketplace = marketplace
        self._server = server
        self._lock = threading.Lock()
        bare = type(w3)(w3.provider, middleware=[])
        # The provider's own middleware only (tester <-> JSON-RPC formats), none of
        # web3's client-side defaults: the answer is what a node would send.
        self._request = w3.provider.request_func(bare, bare.middleware_onion)
        self._chain_id = int(w3.eth.chain_id)
        self._thread = threading.Thread(target=server.serve_forever, name="ccanalytics-demochain", daemon=True)

    @classmethod
    def start(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        usdc_micro: int = DEMO_USDC_MICRO,
        eth_wei: int = DEMO_ETH_WEI,
    ) -> DemoChain:
        """Start the chain, deploy the token, fund the demo wallet and serve JSON-RPC.

        Parameters
        ----------
        host
            An IPv4 loopback address to bind (anything else is refused).
        port
            TCP port; ``0`` picks a free one (see :attr:`rpc_url`).
        usdc_micro, eth_wei
            What the demo wallet starts with.

        Returns
        -------
        DemoChain
            Already serving.

        Examples
        --------
        >>> from ccanalytics.chain import read_balances
        >>> def usdc(chain):
        ...     return read_balances(chain.rpc_url, chain.wallet_address, chain.usdc_address, chain.chain_id).usdc_micro
        >>> with DemoChain.start() as chain:
        ...     before = usdc(chain)
        ...     tx = chain.pay(1_000)
        ...     after = usdc(chain)
        >>> before - after
        1000
        """
        if not is_loopback(host) or ":" in host:  # the server is IPv4 (AF_INET)
            raise ValueError(f"the demo chain serves on IPv4 loopback only (127.0.0.1), not {host}")
        from eth_keys import keys
        from eth_utils import keccak
        from web3 import EthereumTesterProvider, Web3

        provider = EthereumTesterProvider()
        w3 = Web3(provider)
        owner = w3.eth.accounts[0]
        wallet_key = keys.PrivateKey(keccak(_WALLET_SEED))
        tester = provider.ethereum_tester
        assert tester is not None  # the provider made its own
        wallet = tester.add_account(wallet_key.to_hex())
        marketplace = keys.PrivateKey(keccak(_MARKETPLACE_SEED)).public_key.to_checksum_address()

        artifact = load_token_artifact()
        deploy = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        tx = deploy.constructor().transact({"from": owner, "gas": _GAS["deploy"]})
        receipt = w3.eth.get_transaction_receipt(tx)
        token = w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])

        server = _Server((host, port), answer=lambda body: b"")
        try:
            chain = cls(w3, token, wallet, marketplace, server)
            server.answer = chain._answer
            chain._deposit(usdc_micro, eth_wei)
        except BaseException:
            server.server_close()
            raise
        chain._thread.start()
        return chain

    # -- what the demo store's settings need --------------------------------

    @property
    def rpc_url(self) -> str:
        """``http://HOST:PORT`` of the JSON-RPC endpoint."""
        host, port = cast("tuple[str, int]", self._server.server_address[:2])  # an AF_INET server
        return f"http://{host}:{port}"

    @property
    def wallet_address(self) -> str:
        """The demo wallet (checksummed)."""
        return self._wallet

    @property
    def usdc_address(self) -> str:
        """The DemoUSDC token contract (checksummed)."""
        return self._token.address

    @property
    def marketplace_address(self) -> str:
        """Where :meth:`pay` sends the USDC."""
        return self._marketplace

    @property
    def chain_id(self) -> int:
        """The chain id the endpoint reports (eth-tester's: 131277322940537)."""
        return self._chain_id

    # -- moving money --------------------------------------------------------

    def pay(self, total_micro: int) -> str | None:
        """Pay the marketplace ``total_micro`` micro-USDC from the demo wallet.

        One ERC-20 transfer, sent and mined at once; the wallet also pays its
        gas in ETH, as on Base.

        Parameters
        ----------
        total_micro
            Amount in micro-USDC; ``0`` sends nothing.

        Returns
        -------
        str or None
            The transaction hash, ``0x…``; ``None`` when nothing was sent.

        Raises
        ------
        ChainError
            The wallet holds less than ``total_micro``.
        """
        if total_micro < 0:
            raise ValueError(f"cannot pay a negative amount ({total_micro})")
        if total_micro == 0:
            return None
        with self._lock:
            held = self._token.functions.balanceOf(self._wallet).call()
            if held < total_micro:
                raise ChainError(f"the demo wallet holds {held} micro-USDC, cannot pay {total_micro}")
            transfer = self._token.functions.transfer(self._marketplace, total_micro)
            tx = transfer.transact({"from": self._wallet, "gas": _GAS["transfer"], **self._fees()})
        return tx.to_0x_hex()

    def _fees(self) -> dict[str, int]:
        # No tip and twice the base fee as the cap: the wallet pays only the base
        # fee, which falls block after block (blocks here are nearly empty), so the
        # gas balance drops a little with each payment, like an L2's, and never
        # runs dry in a demo.
        base_fee = self._w3.eth.get_block("latest")["baseFeePerGas"]
        return {"maxFeePerGas": 2 * base_fee + 1, "maxPriorityFeePerGas": 0}

    def deposit(self, usdc_micro: int = 0, eth_wei: int = 0) -> None:
        """Top the demo wallet up: mint ``usdc_micro`` DemoUSDC and send ``eth_wei`` ETH.

        Parameters
        ----------
        usdc_micro
            micro-USDC to mint to the wallet.
        eth_wei
            wei to send the wallet from the chain's funded account.
        """
        if usdc_micro < 0 or eth_wei < 0:
            raise ValueError("deposits are not negative")
        with self._lock:
            self._deposit(usdc_micro, eth_wei)

    def _deposit(self, usdc_micro: int, eth_wei: int) -> None:
        if usdc_micro:
            mint = self._token.functions.mint(self._wallet, usdc_micro)
            mint.transact({"from": self._owner, "gas": _GAS["mint"], **self._fees()})
        if eth_wei:
            send = {"from": self._owner, "to": self._wallet, "value": eth_wei, "gas": _GAS["send"]}
            self._w3.eth.send_transaction({**send, **self._fees()})

    # -- JSON-RPC ------------------------------------------------------------

    def _answer(self, body: bytes) -> bytes:
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return json.dumps(_error(None, -32700, "parse error")).encode()
        if isinstance(request, list):
            answer: Any = [self._answer_one(item) for item in request] or _error(None, -32600, "empty batch")
        else:
            answer = self._answer_one(request)
        return json.dumps(answer).encode()

    def _answer_one(self, request: Any) -> dict[str, Any]:
        from eth_tester.exceptions import TransactionFailed

        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, -32600, "invalid request")
        request_id = request.get("id")
        method, params = request["method"], request.get("params", [])
        if method not in READ_METHODS:
            return _error(request_id, -32601, f"{method} is not available on the demo chain")
        if not isinstance(params, list):
            return _error(request_id, -32602, "params must be a list")
        try:
            with self._lock:
                response = self._request(method, params)
        except TransactionFailed as exc:
            return _error(request_id, 3, " ".join(str(exc).split())[:200] or "execution reverted")
        except Exception as exc:  # a bad parameter must not take the server down
            return _error(request_id, -32602, f"invalid params: {' '.join(str(exc).split())[:200]}")
        answer = {"jsonrpc": "2.0", "id": request_id}
        if "error" in response:
            answer["error"] = response["error"]
        else:
            answer["result"] = _to_wire(response.get("result"))
        return answer

    # -- lifetime ------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving and close the port. Safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> DemoChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"DemoChain(rpc_url={self.rpc_url!r}, chain_id={self.chain_id})"
