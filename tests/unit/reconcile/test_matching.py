"""ccanalytics.reconcile.matching: paid calls against transfers, on literal data."""

from __future__ import annotations

from ccanalytics.collect.payment import consumer_hash
from ccanalytics.reconcile.matching import PaidCall, Reconciliation, Transfer, match_transfers

WALLET, PAYER, OTHER = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20


def tx(n: int) -> str:
    return "0x" + f"{n:02x}" * 32


def test_nothing_to_match() -> None:
    assert match_transfers([], [], WALLET, {}) == ([], [], [])


def test_a_seller_call_matches_the_exact_transfer_from_its_consumer_once() -> None:
    transfers = [Transfer(tx(1), 0, 5, PAYER, WALLET, 1000), Transfer(tx(1), 1, 5, PAYER, WALLET, 1000)]
    calls = [PaidCall("r1", "seller", 1000, tx(1), consumer_hash(PAYER))]
    matched, missing, unrecorded = match_transfers(calls, transfers, WALLET.upper().replace("0X", "0x"), {})
    assert [(m["request_id"], m["block"], m["usdc"]) for m in matched] == [("r1", 5, "0.001000")]
    assert missing == []
    assert [(u["tx_hash"], u["direction"], u["counterparty"]) for u in unrecorded] == [(tx(1), "in", PAYER)]


def test_a_buyer_call_matches_money_out_of_the_wallet() -> None:
    transfers = [Transfer(tx(2), 0, 9, WALLET, OTHER, 250)]
    matched, missing, unrecorded = match_transfers([PaidCall("b", "buyer", 250, tx(2), None)], transfers, WALLET, {})
    assert [m["request_id"] for m in matched] == ["b"] and missing == unrecorded == []


def test_why_a_call_is_missing_on_chain() -> None:
    transfers = [Transfer(tx(3), 0, 1, PAYER, WALLET, 999), Transfer(tx(4), 0, 1, OTHER, WALLET, 10)]
    calls = [
        PaidCall("none", "seller", 10, None, None),
        PaidCall("amount", "seller", 1000, tx(3), None),
        PaidCall("payer", "seller", 10, tx(4), consumer_hash(PAYER)),
        PaidCall("absent", "seller", 10, tx(5), None),
        PaidCall("failed", "seller", 10, tx(6), None),
        PaidCall("no-usdc", "buyer", 10, tx(7), None),
        PaidCall("elsewhere", "seller", 10, tx(8), None),
    ]
    receipts: dict[str, int | None] = {tx(5): None, tx(6): 0, tx(7): 1, tx(8): -1}
    _, missing, unrecorded = match_transfers(calls, transfers, WALLET, {}, receipts)
    assert {m["request_id"]: m["reason"] for m in missing} == {
        "none": "the call names no transaction",
        "amount": "the transaction moved 0.000999 USDC, not 0.001000",
        "payer": "the transaction's payer is not the call's consumer",
        "absent": "no such transaction on chain",
        "failed": "the transaction failed",
        "no-usdc": "the transaction moved no USDC out of the wallet",
    }
    assert len(unrecorded) == 2


def test_an_unrecorded_transfer_is_named_by_the_event_that_names_its_hash() -> None:
    transfers = [Transfer(tx(9), 0, 3, OTHER, WALLET, 5_000_000), Transfer(tx(10), 0, 4, WALLET, OTHER, 1)]
    _, _, unrecorded = match_transfers([], transfers, WALLET, {tx(9): "deposit"})
    assert [(u["kind"], u["direction"], u["usdc"]) for u in unrecorded] == [
        ("deposit", "in", "5.000000"),
        ("transfer", "out", "0.000001"),
    ]


def test_the_result_totals_its_lists_and_hides_its_sums() -> None:
    result = Reconciliation(0, 9, [{"request_id": "a", "_micro": 1500}], [], [{"tx_hash": "t", "_micro": 2}])
    shown = result.to_dict()
    assert not result.clean and result.micro("matched") == 1500
    assert shown["matched"] == [{"request_id": "a"}] and shown["totals"]["unrecorded_usdc"] == "0.000002"
    assert shown["totals"]["missing_on_chain"] == 0 and Reconciliation(0, 0).clean
