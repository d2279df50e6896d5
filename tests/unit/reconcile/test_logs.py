"""ccanalytics.reconcile.logs: chunked log reads, transfers decoded, failures told in our own words."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from web3.exceptions import Web3RPCError

from ccanalytics.reconcile.logs import (
    MAX_BLOCKS,
    TRANSFER_TOPIC,
    failure_reason,
    get_logs_chunked,
    read_transfers,
    receipt_status,
)

WALLET, PAYER = "0x" + "aa" * 20, "0x" + "bb" * 20


def test_chunks_never_exceed_the_maximum() -> None:
    asked: list[tuple[int, int]] = []
    get_logs_chunked(lambda p: asked.append((p["fromBlock"], p["toBlock"])) or [], {}, 10, 10 + 2 * MAX_BLOCKS, 10**9)
    assert asked == [(10, 2009), (2010, 4009), (4010, 4010)]
    assert get_logs_chunked(lambda p: [p], {}, 5, 4) == []


def test_an_error_other_than_too_large_is_raised_and_one_block_too_large_too() -> None:
    def broken(_: dict[str, Any]) -> list[Any]:
        raise ValueError("server on fire")

    with pytest.raises(ValueError, match="on fire"):
        get_logs_chunked(broken, {}, 0, 100)

    def refuses(_: dict[str, Any]) -> list[Any]:
        raise ValueError("response size exceeded")

    with pytest.raises(ValueError, match="response size"):
        get_logs_chunked(refuses, {}, 0, 3)


def _log(tx: int, index: int, block: int, sender: str, receiver: str, value: int, **more: Any) -> dict[str, Any]:
    def topic(address: str) -> bytes:
        return bytes(12) + bytes.fromhex(address[2:])

    return {
        "topics": [bytes.fromhex(TRANSFER_TOPIC[2:]), topic(sender), topic(receiver)],
        "transactionHash": bytes([tx]) * 32,
        "logIndex": index,
        "blockNumber": block,
        "data": value.to_bytes(32, "big"),
        **more,
    }


class FakeEth:
    def __init__(self, logs: list[dict[str, Any]], receipts: dict[str, Any]) -> None:
        self.logs, self.receipts = logs, receipts

    def get_logs(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.logs  # both queries (to and from the wallet) see every log: each is kept once

    def get_transaction_receipt(self, tx_hash: str) -> Any:
        from web3.exceptions import TransactionNotFound

        if tx_hash not in self.receipts:
            raise TransactionNotFound(tx_hash)
        return self.receipts[tx_hash]


def test_transfers_are_decoded_once_each_in_chain_order_without_removed_logs() -> None:
    logs = [
        _log(2, 0, 8, WALLET, PAYER, 7),
        _log(1, 3, 5, PAYER, WALLET, 1000),
        _log(3, 0, 9, PAYER, WALLET, 1, removed=True),
        {**_log(4, 0, 9, PAYER, WALLET, 1), "topics": [bytes(32)]},
    ]
    w3 = type("W3", (), {"eth": FakeEth(logs, {})})()
    found = read_transfers(w3, "0x" + "cc" * 20, WALLET, 0, 10)
    assert [(t.tx_hash, t.block, t.sender, t.receiver, t.value_micro) for t in found] == [
        ("0x" + "01" * 32, 5, PAYER, WALLET, 1000),
        ("0x" + "02" * 32, 8, WALLET, PAYER, 7),
    ]


def test_a_receipt_inside_outside_or_absent() -> None:
    eth = FakeEth([], {"a": {"blockNumber": 5, "status": 1}, "b": {"blockNumber": 50, "status": 1}, "c": None})
    w3 = type("W3", (), {"eth": eth})()
    assert [receipt_status(w3, tx, 0, 10) for tx in ("a", "b", "c", "d")] == [1, -1, None, None]


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (requests.Timeout("http://key@host"), "unreachable: timed out after 10 s"),
        (requests.ConnectionError("Connection refused"), "unreachable: connection refused"),
        (requests.ConnectionError("reset"), "unreachable: connection failed"),
        (
            Web3RPCError("x", rpc_response={"error": {"code": -32000, "message": "http://key@host"}}),
            "returned error -32000",
        ),
        (Web3RPCError("x", rpc_response={"error": "odd"}), "returned an error"),
        (KeyError("result"), "gave an answer that is not JSON-RPC"),
        (OSError("x"), "failed (OSError)"),
    ],
)
def test_failure_reason_never_quotes_the_library(exc: BaseException, reason: str) -> None:
    assert failure_reason(exc) == reason
