"""The EIP-3009 token x402 settles against: built from its source, and its rules on a real anvil node."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ccanalytics.collect.localchain import BASE_SEPOLIA_USDC, load_eip3009_artifact, place_usdc

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from tests.support.chain_fixtures import Anvil

CONTRACTS = Path(__file__).resolve().parent.parent / "ccanalytics" / "contracts"


def test_artifact_is_built_from_the_source() -> None:
    artifact = load_eip3009_artifact()
    source = (CONTRACTS / "EIP3009USDC.vy").read_bytes()
    assert artifact["source_sha256"] == hashlib.sha256(source).hexdigest()
    functions = {f["name"] for f in artifact["abi"] if f["type"] == "function"}
    assert {"transferWithAuthorization", "authorizationState", "name", "version", "decimals", "balanceOf"} <= functions
    events = {e["name"] for e in artifact["abi"] if e["type"] == "event"}
    assert {"Transfer", "AuthorizationUsed"} <= events
    assert artifact["bytecode_runtime"].startswith("0x") and len(artifact["bytecode_runtime"]) > 1000


def authorization(
    signer: LocalAccount,
    to: str,
    value: int,
    chain_id: int,
    *,
    valid_before: int | None = None,
    nonce: bytes | None = None,
) -> tuple[dict[str, Any], Any]:
    message = {
        "from": signer.address,
        "to": to,
        "value": value,
        "validAfter": 0,
        "validBefore": valid_before if valid_before is not None else int(time.time()) + 3600,
        "nonce": nonce or os.urandom(32),
    }
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "TransferWithAuthorization": [
                {"name": "from", "type": "address"},
                {"name": "to", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "validAfter", "type": "uint256"},
                {"name": "validBefore", "type": "uint256"},
                {"name": "nonce", "type": "bytes32"},
            ],
        },
        "primaryType": "TransferWithAuthorization",
        "domain": {"name": "USDC", "version": "2", "chainId": chain_id, "verifyingContract": BASE_SEPOLIA_USDC},
        "message": message,
    }
    return message, signer.sign_typed_data(full_message=typed)


@pytest.mark.chain
def test_transfer_with_authorization_moves_exactly_once(anvil: Anvil) -> None:
    from web3.exceptions import ContractLogicError

    token = place_usdc(anvil.w3, anvil.deployer)
    assert (token.functions.name().call(), token.functions.version().call()) == ("USDC", "2")
    assert token.functions.decimals().call() == 6
    payer, seller = anvil.new_wallet(), anvil.new_wallet()
    anvil.mined(token.functions.mint(payer.address, 5_000).transact({"from": anvil.deployer}))

    message, signed = authorization(payer, seller.address, 1_234, anvil.chain_id)
    args = [*message.values(), signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")]
    # Anyone may submit it (the facilitator does); the payer needs no gas.
    receipt = anvil.mined(token.functions.transferWithAuthorization(*args).transact({"from": anvil.deployer}))
    assert token.functions.balanceOf(seller.address).call() == 1_234
    assert token.functions.balanceOf(payer.address).call() == 5_000 - 1_234
    assert token.functions.authorizationState(payer.address, message["nonce"]).call() is True
    from web3.logs import DISCARD

    [used] = token.events.AuthorizationUsed().process_receipt(receipt, errors=DISCARD)
    assert used["args"]["authorizer"] == payer.address

    with pytest.raises(ContractLogicError, match="authorization is used or canceled"):
        token.functions.transferWithAuthorization(*args).call({"from": anvil.deployer})

    expired, signed = authorization(payer, seller.address, 1, anvil.chain_id, valid_before=1)
    args = [*expired.values(), signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")]
    with pytest.raises(ContractLogicError, match="authorization is expired"):
        token.functions.transferWithAuthorization(*args).call({"from": anvil.deployer})

    forged, signed = authorization(anvil.new_wallet(), seller.address, 1, anvil.chain_id)
    forged["from"] = payer.address  # signed by someone else
    args = [*forged.values(), signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")]
    with pytest.raises(ContractLogicError, match="invalid signature"):
        token.functions.transferWithAuthorization(*args).call({"from": anvil.deployer})

    too_much, signed = authorization(payer, seller.address, 10_000, anvil.chain_id)
    args = [*too_much.values(), signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")]
    with pytest.raises(ContractLogicError, match="transfer amount exceeds balance"):
        token.functions.transferWithAuthorization(*args).call({"from": anvil.deployer})

    # Placing it again keeps its state; only its owner could set it up.
    again = place_usdc(anvil.w3, anvil.deployer)
    assert again.functions.balanceOf(seller.address).call() == 1_234
    with pytest.raises(RuntimeError, match="already owned"):
        place_usdc(anvil.w3, anvil.w3.eth.accounts[1])
