"""The local chain's token: the compiled EIP-3009 USDC and where it is placed (no node needed here)."""

from __future__ import annotations

from typing import Any

import pytest
from web3 import Web3
from web3.providers.base import BaseProvider

from ccanalytics.collect.localchain import (
    BASE_SEPOLIA,
    BASE_SEPOLIA_USDC,
    load_eip3009_artifact,
    place_usdc,
    usdc_contract,
)


class RefusingNode(BaseProvider):
    """A node that is not anvil: it knows no ``anvil_setCode``."""

    def make_request(self, method: Any, params: Any) -> Any:
        return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32601, "message": f"{method} does not exist"}}


def test_the_token_is_at_x402s_default_address_for_base_sepolia() -> None:
    assert BASE_SEPOLIA == 84532
    assert BASE_SEPOLIA_USDC.lower() == "0x036cbd53842c5426634e7929541ec2318f3dcf7e"


def test_the_artifact_has_eip3009_and_runtime_code() -> None:
    artifact = load_eip3009_artifact()
    names = {f.get("name") for f in artifact["abi"]}
    assert {"transferWithAuthorization", "mint", "initialize", "owner", "balanceOf"} <= names
    assert artifact["bytecode_runtime"].startswith("0x")
    assert len(artifact["bytecode_runtime"]) > 100


def test_the_contract_object_is_at_the_checksummed_address() -> None:
    token = usdc_contract(Web3(), BASE_SEPOLIA_USDC.lower())
    assert token.address == Web3.to_checksum_address(BASE_SEPOLIA_USDC)


def test_a_node_that_refuses_set_code_is_one_clear_error() -> None:
    with pytest.raises(RuntimeError, match="the node refused anvil_setCode"):
        place_usdc(Web3(RefusingNode()), "0x" + "11" * 20)
