"""``reconcile``: the settings checked first, then paid calls matched with a node's Transfer logs.

The node is a tiny JSON-RPC server on a thread (a real socket and web3's real client); it
knows the chain id, the latest block, the wallet's logs and no receipts.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

from ccanalytics.contract import USDC_BY_CHAIN
from ccanalytics.errors import CCError
from ccanalytics.reconcile import MAX_BLOCKS, Reconciliation, match_transfers, reconcile
from ccanalytics.reconcile.logs import TRANSFER_TOPIC
from tests.support.http import local_http
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

WALLET, PAYER = "0x" + "aa" * 20, "0x" + "bb" * 20
PAID, GONE, STRAY = "0x" + "01" * 32, "0x" + "02" * 32, "0x" + "03" * 32
CHAIN = 84532


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def log(tx: str, block: int, value: int) -> dict[str, Any]:
    return {
        "address": USDC_BY_CHAIN[CHAIN],
        "topics": [TRANSFER_TOPIC, topic(PAYER), topic(WALLET)],
        "data": "0x" + value.to_bytes(32, "big").hex(),
        "blockNumber": hex(block),
        "transactionHash": tx,
        "transactionIndex": "0x0",
        "blockHash": "0x" + "cc" * 32,
        "logIndex": "0x0",
        "removed": False,
    }


class Node(BaseHTTPRequestHandler):
    asked: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method, params = body["method"], body.get("params", [])
        type(self).asked.append(method)
        if method == "eth_chainId":
            result: Any = hex(CHAIN)
        elif method == "eth_blockNumber":
            result = hex(100)
        elif method == "eth_getLogs":
            incoming = params[0]["topics"][2:] == [topic(WALLET)]
            result = [log(PAID, 7, 1_000), log(STRAY, 9, 5)] if incoming else []
        else:  # eth_getTransactionReceipt: no such transaction
            result = None
        answer = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def node() -> Iterator[str]:
    with local_http(Node) as url:
        yield f"{url}/v2/SECRETKEY"


def store(path: Path, **settings: str) -> str:
    builder = StoreBuilder(str(path))
    for key, value in {"wallet_address": WALLET, "chain_id": str(CHAIN), **settings}.items():
        builder.setting(key, value)
    consumer = hashlib.sha256(PAYER.encode()).hexdigest()
    builder.call(1_000, role="seller", request_id="r-paid", price_micro=1_000, tx_hash=PAID, consumer=consumer)
    builder.call(2_000, role="seller", request_id="r-gone", price_micro=2_000, tx_hash=GONE, consumer=consumer)
    builder.call(3_000, role="seller", request_id="r-free", price_micro=0)
    return builder.write()


def test_the_public_names() -> None:
    assert (MAX_BLOCKS, Reconciliation.__name__, match_transfers.__name__) == (
        2_000,
        "Reconciliation",
        "match_transfers",
    )


def test_matched_missing_and_unrecorded_and_the_result_is_appended(tmp_path: Path, node: str) -> None:
    path = store(tmp_path / "node.db", rpc_url=node)
    result = reconcile(path)
    assert (result.from_block, result.to_block) == (0, 100)
    assert [m["request_id"] for m in result.matched] == ["r-paid"]
    assert [m["request_id"] for m in result.missing_on_chain] == ["r-gone"]
    assert [(u["tx_hash"], u["usdc"]) for u in result.unrecorded] == [(STRAY, "0.000005")]
    assert not result.clean
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT count(*) FROM reconciliations").fetchone() == (1,)


def test_a_dry_run_writes_nothing(tmp_path: Path, node: str) -> None:
    path = store(tmp_path / "node.db", rpc_url=node)
    reconcile(path, 10, 20, dry_run=True)
    with sqlite3.connect(path) as con:
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master")}
    assert "reconciliations" not in tables


def test_another_chain_is_one_line_without_the_urls_secret(tmp_path: Path, node: str) -> None:
    path = store(tmp_path / "node.db", rpc_url=node, chain_id="8453")
    with pytest.raises(CCError) as raised:
        reconcile(path)
    assert "serves chain 84532, but the settings say chain_id 8453" in str(raised.value)
    assert "SECRETKEY" not in str(raised.value)


@pytest.mark.parametrize(
    ("settings", "args", "message"),
    [
        ({"rpc_url": ""}, (), "settings lack rpc_url"),
        ({"chain_id": "base"}, (), "chain_id 'base' is not an integer"),
        ({"chain_id": "1"}, (), "settings lack usdc_address for chain 1"),
        ({"usdc_address": "0x1234"}, (), "usdc_address '0x1234' is not an address"),
        ({}, (-1, None), "--from-block must be 0 or more"),
        ({}, (9, 3), "--from-block is after --to-block"),
    ],
)
def test_bad_settings_and_blocks_are_one_line_before_any_read(
    tmp_path: Path, settings: dict[str, str], args: tuple, message: str
) -> None:
    path = store(tmp_path / "node.db", **{"rpc_url": "http://127.0.0.1:9/", **settings})
    with pytest.raises(CCError, match=message):
        reconcile(path, *args)


def test_an_unreachable_node_is_one_line(tmp_path: Path) -> None:
    from tests.support.chain_fixtures import free_port

    path = store(tmp_path / "node.db", rpc_url=f"http://127.0.0.1:{free_port()}/key/SECRETKEY")
    with pytest.raises(CCError, match="unreachable") as raised:
        reconcile(path)
    assert "SECRETKEY" not in str(raised.value)
