"""`ccanalytics snapshot` on a store whose settings name a real JSON-RPC node (anvil)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from tests.support.chain_fixtures import free_port
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from tests.support.chain_fixtures import Anvil

pytestmark = pytest.mark.chain  # every test reads a real anvil

NOW = 1_795_608_000_000
SECRET = "sk_live_4f9a8b7c6d5e4f3a2b1c"


def snapshot(path: str) -> tuple[dict, str]:
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "snapshot", "--db", path, "--now", str(NOW)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stdout + result.stderr


@pytest.fixture
def store(tmp_path, anvil: Anvil, funded: tuple[str, LocalAccount]) -> StoreBuilder:
    token, wallet = funded
    builder = StoreBuilder(str(tmp_path / "store.db"))
    builder.call(NOW - 1000).balance(NOW - 60_000, usdc_micro=1_500_000, eth_wei="900000000000000")
    builder.setting("rpc_url", anvil.url).setting("wallet_address", wallet.address)
    builder.setting("usdc_address", token).setting("chain_id", str(anvil.chain_id))
    return builder


def test_balances_come_from_the_chain_to_the_last_unit(store):
    snap, _ = snapshot(store.write())
    assert snap["balances"]["source"] == "chain"
    assert snap["balances"]["usdc"] == "12.345678"
    assert snap["balances"]["eth"] == "0.004200000000000001"
    assert snap["balances"]["as_of"] is not None


def test_a_transfer_shows_up_in_the_next_snapshot(store, anvil: Anvil, funded):
    token, wallet = funded
    path = store.write()
    receiver = anvil.new_wallet().address
    transfer = anvil.token(token).functions.transfer(receiver, 2_345_678)
    anvil.send_signed(wallet, transfer.build_transaction({"from": wallet.address, "gas": 100_000}))
    snap, _ = snapshot(path)
    assert snap["balances"]["usdc"] == "10.000000"
    eth = int(snap["balances"]["eth"].replace(".", ""))
    assert 0 < eth < 4_200_000_000_000_001  # gas was paid


def test_an_unreachable_endpoint_falls_back_to_the_snapshot_without_showing_its_key(store):
    store.setting("rpc_url", f"http://127.0.0.1:{free_port()}/v2/{SECRET}?apikey={SECRET}")
    snap, output = snapshot(store.write())
    assert snap["balances"]["source"] == "snapshot"
    assert snap["balances"]["usdc"] == "1.500000"
    assert "unreachable" in snap["balances"]["note"]
    assert SECRET not in output


def test_a_silent_endpoint_falls_back_within_ten_seconds(store, silent_endpoint):
    store.setting("rpc_url", f"{silent_endpoint}/{SECRET}")
    started = time.monotonic()
    snap, output = snapshot(store.write())
    assert time.monotonic() - started < 10
    assert snap["balances"]["source"] == "snapshot"
    assert "timed out" in snap["balances"]["note"]
    assert SECRET not in output


def test_an_endpoint_on_another_chain_is_a_data_issue(store, anvil: Anvil):
    store.setting("chain_id", "8453")
    snap, _ = snapshot(store.write())
    assert snap["balances"]["source"] == "snapshot"
    assert {"table": "settings", "rule": f"rpc_url is on chain {anvil.chain_id}, not chain_id 8453", "rows": 1} in (
        snap["data_issues"]
    )
