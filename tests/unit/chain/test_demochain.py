"""The embedded demo chain: served on loopback, read like any node, paid from in-process."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ccanalytics.chain import ChainError, read_balances
from ccanalytics.chain.demochain import DEMO_ETH_WEI, DEMO_USDC_MICRO, DemoChain, load_token_artifact

if TYPE_CHECKING:
    from collections.abc import Iterator

ETH_TESTER_CHAIN_ID = 131277322940537
CONTRACTS = Path(__file__).resolve().parents[3] / "ccanalytics" / "contracts"


@pytest.fixture(scope="module")
def chain() -> Iterator[DemoChain]:
    with DemoChain.start() as running:
        yield running


def rpc(url: str, method: str, params: list[Any], request_id: Any = 1) -> dict[str, Any]:
    """One raw JSON-RPC call over HTTP, as any client would send it."""
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def balances(chain: DemoChain, wallet: str | None = None) -> tuple[int, int]:
    read = read_balances(chain.rpc_url, wallet or chain.wallet_address, chain.usdc_address, chain.chain_id)
    return read.usdc_micro, read.eth_wei


def test_another_chain_serves_on_loopback_on_a_port_of_its_own(chain: DemoChain) -> None:
    # How fast it starts is a figure, not a test (CONTRIBUTING: tests never assert a speed).
    with DemoChain.start() as fresh:
        parts = urlsplit(fresh.rpc_url)
        assert (parts.scheme, parts.hostname) == ("http", "127.0.0.1")
        assert parts.port and parts.port != urlsplit(chain.rpc_url).port
        answer = rpc(fresh.rpc_url, "eth_chainId", [], request_id="x")
        assert answer == {"jsonrpc": "2.0", "id": "x", "result": hex(ETH_TESTER_CHAIN_ID)}


def test_chain_id_is_what_the_endpoint_reports(chain: DemoChain) -> None:
    assert chain.chain_id == ETH_TESTER_CHAIN_ID
    assert int(rpc(chain.rpc_url, "eth_chainId", [])["result"], 16) == chain.chain_id


def test_the_demo_wallet_starts_funded(chain: DemoChain) -> None:
    fresh = DemoChain.start()
    try:
        assert balances(fresh) == (DEMO_USDC_MICRO, DEMO_ETH_WEI)
        # The same wallet and token on every start: the demo store's settings are stable.
        assert (fresh.wallet_address, fresh.usdc_address) == (chain.wallet_address, chain.usdc_address)
    finally:
        fresh.stop()


def test_pay_lowers_usdc_exactly(chain: DemoChain) -> None:
    usdc_before, eth_before = balances(chain)
    shop_before, _ = balances(chain, chain.marketplace_address)
    tx = chain.pay(1_234)
    assert tx is not None and tx.startswith("0x") and len(tx) == 66

    usdc_after, eth_after = balances(chain)
    assert usdc_after == usdc_before - 1_234
    assert balances(chain, chain.marketplace_address)[0] == shop_before + 1_234
    # The wallet pays its gas, as on Base: a little, but something.
    assert 0 < eth_before - eth_after < 10**14


def test_many_payments_add_up(chain: DemoChain) -> None:
    before, _ = balances(chain)
    for amount in (1, 10, 100, 1_000, 2_500):
        chain.pay(amount)
    assert balances(chain)[0] == before - 3_611


def test_paying_nothing_sends_nothing(chain: DemoChain) -> None:
    block = rpc(chain.rpc_url, "eth_blockNumber", [])["result"]
    before = balances(chain)
    assert chain.pay(0) is None
    assert balances(chain) == before
    assert rpc(chain.rpc_url, "eth_blockNumber", [])["result"] == block


def test_paying_more_than_held_is_refused() -> None:
    with DemoChain.start(usdc_micro=500) as small:
        with pytest.raises(ChainError, match="holds 500 micro-USDC, cannot pay 501"):
            small.pay(501)
        with pytest.raises(ValueError, match="negative"):
            small.pay(-1)
        assert balances(small)[0] == 500


def test_deposit_adds_exactly(chain: DemoChain) -> None:
    usdc_before, eth_before = balances(chain)
    chain.deposit(usdc_micro=5_000_000, eth_wei=10**15)
    assert balances(chain) == (usdc_before + 5_000_000, eth_before + 10**15)


def test_any_path_is_served(chain: DemoChain) -> None:
    # Hosted endpoints put their key in the path; the demo answers wherever it is asked.
    read = read_balances(
        chain.rpc_url + "/v2/demo-key-123456", chain.wallet_address, chain.usdc_address, chain.chain_id
    )
    assert read.usdc_micro == balances(chain)[0]


def test_only_reads_are_served(chain: DemoChain) -> None:
    send = {"from": chain.wallet_address, "to": chain.marketplace_address, "value": "0x1"}
    answer = rpc(chain.rpc_url, "eth_sendTransaction", [send], request_id=7)
    assert answer["id"] == 7
    assert answer["error"]["code"] == -32601
    assert "not available on the demo chain" in answer["error"]["message"]


def test_json_rpc_errors_and_batches(chain: DemoChain) -> None:
    bad = rpc(chain.rpc_url, "eth_getBalance", ["0xzz", "latest"], request_id=3)
    assert bad["id"] == 3 and bad["error"]["code"] == -32602

    reverted = rpc(chain.rpc_url, "eth_call", [{"to": chain.usdc_address, "data": "0xdeadbeef"}, "latest"])
    assert reverted["error"]["code"] == 3

    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_getBalance", "params": [chain.wallet_address, "latest"]},
    ]
    request = urllib.request.Request(chain.rpc_url, data=json.dumps(batch).encode())
    with urllib.request.urlopen(request, timeout=5) as response:
        answers = json.loads(response.read())
    assert [a["id"] for a in answers] == [1, 2]
    assert int(answers[1]["result"], 16) == balances(chain)[1]

    request = urllib.request.Request(chain.rpc_url, data=b"{not json")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["error"]["code"] == -32700


def test_reads_from_many_threads_while_paying(chain: DemoChain) -> None:
    # Every Voila kernel reads at once while the serve process pays.
    before, _ = balances(chain)
    paid = threading.Event()

    def pay() -> None:
        for _ in range(10):
            chain.pay(7)
        paid.set()

    payer = threading.Thread(target=pay)
    payer.start()
    with ThreadPoolExecutor(8) as pool:
        reads = list(pool.map(lambda _: balances(chain)[0], range(40)))
    payer.join()
    assert paid.is_set()
    assert all(before - 70 <= usdc <= before for usdc in reads)
    assert balances(chain)[0] == before - 70


def test_stop_closes_the_port() -> None:
    chain = DemoChain.start()
    url, wallet, token, chain_id = chain.rpc_url, chain.wallet_address, chain.usdc_address, chain.chain_id
    chain.stop()
    chain.stop()  # twice is harmless
    with pytest.raises(ChainError, match="connection refused"):
        read_balances(url, wallet, token, chain_id)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.org", "::1"])
def test_refuses_to_serve_off_loopback(host: str) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        DemoChain.start(host=host)


def test_artifact_is_built_from_the_source() -> None:
    # A source edited without `python scripts/build_token.py` would deploy stale code.
    artifact = load_token_artifact()
    source = (CONTRACTS / "DemoUSDC.vy").read_bytes()
    assert artifact["source_sha256"] == hashlib.sha256(source).hexdigest()
    functions = {f["name"] for f in artifact["abi"] if f["type"] == "function"}
    expected = {"transfer", "transferFrom", "approve", "balanceOf", "decimals", "symbol", "name", "mint"}
    assert expected <= functions
    assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 1000
