"""``ccanalytics reconcile`` on a real anvil node, behind a proxy that refuses large log ranges like hosted nodes do."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from ccanalytics.collect import StoreWriter
from ccanalytics.errors import CCError
from ccanalytics.reconcile import reconcile

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from eth_account.signers.local import LocalAccount

    from tests.support.chain_fixtures import Anvil

MAX_RANGE = 100


class RangeLimitedProxy:
    """Forwards JSON-RPC to anvil, refusing ``eth_getLogs`` over more than ``MAX_RANGE`` blocks (-32005)."""

    def __init__(self, upstream: str) -> None:
        self.ranges: list[tuple[int, int]] = []
        self.refused = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = json.loads(body)
                answer = None
                if isinstance(request, dict) and request.get("method") == "eth_getLogs":
                    low, high = (int(request["params"][0][k], 16) for k in ("fromBlock", "toBlock"))
                    if high - low + 1 > MAX_RANGE:
                        proxy.refused += 1
                        error = {"code": -32005, "message": f"query exceeds max block range {MAX_RANGE}"}
                        answer = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()
                    else:
                        proxy.ranges.append((low, high))
                if answer is None:
                    forward = urllib.request.Request(upstream, data=body, headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(forward, timeout=10) as response:
                        answer = response.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(anvil: Anvil) -> Iterator[RangeLimitedProxy]:
    running = RangeLimitedProxy(anvil.url)
    yield running
    running.close()


def tx_hex(receipt: Any) -> str:
    return "0x" + bytes(receipt["transactionHash"]).hex().removeprefix("0x")


def call(request_id: str, role: str, price: int, tx: str, consumer: str | None = None) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "ts_ms": 1_700_000_000_000,
        "role": role,
        "api_id": "a",
        "status_code": 200,
        "price_micro": price,
        "tx_hash": tx,
        "consumer": consumer,
    }


@pytest.mark.chain
def test_chunks_shrink_when_the_node_refuses_a_range_and_both_roles_match(
    anvil: Anvil, funded: tuple[str, LocalAccount], proxy: RangeLimitedProxy, tmp_path: Path
) -> None:
    token, wallet = funded
    seller = anvil.new_wallet()
    contract = anvil.token(token)
    # The wallet pays a seller (a buyer call), and is paid (a seller call): between them, 350 empty blocks.
    paid_out = anvil.send_signed(
        wallet, {"to": token, "data": contract.encode_abi("transfer", [seller.address, 1_500])}
    )
    anvil.w3.provider.make_request("anvil_mine", [hex(350)])
    payer = anvil.new_wallet()
    anvil.mint(token, payer.address, 10_000)
    anvil.set_eth(payer.address, 10**17)
    paid_in = anvil.send_signed(payer, {"to": token, "data": contract.encode_abi("transfer", [wallet.address, 2_000])})
    consumer = hashlib.sha256(payer.address.lower().encode()).hexdigest()

    db = tmp_path / "store.db"
    settings = {
        "wallet_address": wallet.address,
        "rpc_url": proxy.url,
        "chain_id": anvil.chain_id,
        "usdc_address": token,
    }
    with StoreWriter(db, settings=settings) as writer:
        writer.record(call("bought", "buyer", 1_500, tx_hex(paid_out)))
        writer.record(call("sold", "seller", 2_000, tx_hex(paid_in), consumer))
        writer.record(call("free", "seller", 0, None))  # unpaid: not reconciled
    start = int(paid_out["blockNumber"])
    result = reconcile(db, from_block=start, dry_run=True)
    assert [m["request_id"] for m in result.matched] == ["bought", "sold"]
    assert result.missing_on_chain == []
    # The wallet's funding mint lies before `start`: only the range is reconciled.
    assert result.unrecorded == []
    assert proxy.refused >= 2  # 2 000 blocks, then 1 000, … until the node accepts
    assert all(high - low + 1 <= MAX_RANGE for low, high in proxy.ranges)
    covered = sorted(proxy.ranges)
    assert covered[0][0] == start and covered[-1][1] == anvil.w3.eth.block_number

    # From block 0 the funding mint is a transfer no call accounts for.
    whole = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "reconcile", "--db", str(db), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert whole.returncode == 1, whole.stderr
    out = json.loads(whole.stdout)
    [mint] = out["unrecorded"]
    assert (mint["kind"], mint["direction"], mint["usdc"]) == ("transfer", "in", "12.345678")
    assert out["totals"]["matched"] == 2 and out["totals"]["matched_usdc"] == "0.003500"


@pytest.mark.chain
def test_another_chain_is_refused_in_one_line(anvil: Anvil, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    settings = {"wallet_address": "0x" + "11" * 20, "rpc_url": anvil.url, "chain_id": "8453"}
    StoreWriter(db, settings=settings).close()
    with pytest.raises(CCError, match=r"serves chain 84532, but the settings say chain_id 8453$"):
        reconcile(db)


def test_a_store_without_the_settings_is_refused_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    StoreWriter(db).close()
    with pytest.raises(CCError, match=r"store\.db: settings lack wallet_address"):
        reconcile(db)


def test_an_unreachable_node_is_one_line_without_its_key(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    settings = {"wallet_address": "0x" + "11" * 20, "rpc_url": "http://127.0.0.1:1/v2/AbCdEf0123456789xyz"}
    StoreWriter(db, settings=settings).close()
    out = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "reconcile", "--db", str(db)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == "ccanalytics: RPC endpoint http://127.0.0.1:1/v2/*** unreachable: connection refused\n"


def test_block_flags_are_checked(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    StoreWriter(db, settings={"wallet_address": "0x" + "11" * 20, "rpc_url": "http://127.0.0.1:1"}).close()
    with pytest.raises(CCError, match="--from-block is after --to-block"):
        reconcile(db, from_block=10, to_block=5)
    with pytest.raises(CCError, match="--to-block must be 0 or more"):
        reconcile(db, to_block=-1)
