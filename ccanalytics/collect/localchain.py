"""A local chain x402 settles on unchanged: an EIP-3009 token at Base Sepolia's USDC address.

x402's default asset on ``eip155:84532`` is USDC at
``0x036CbD53842c5426634e7929541eC2318f3dCF7e`` with EIP-712 name "USDC",
version "2". On a local node that allows it (anvil: ``anvil_setCode``),
:func:`place_usdc` puts ``contracts/EIP3009USDC.vy``'s runtime code there, so
that a seller, facilitator and buyer built only from the x402 package pay
each other for real. Used by the example under ``examples/`` and the tests.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import TYPE_CHECKING, Any

from ccanalytics.contract import USDC_BY_CHAIN

if TYPE_CHECKING:
    from web3 import Web3

__all__ = ["BASE_SEPOLIA", "BASE_SEPOLIA_USDC", "load_eip3009_artifact", "place_usdc", "usdc_contract"]

BASE_SEPOLIA = 84532
BASE_SEPOLIA_USDC = USDC_BY_CHAIN[BASE_SEPOLIA]


def load_eip3009_artifact() -> dict[str, Any]:
    """The compiled EIP-3009 token: ``abi``, ``bytecode`` and ``bytecode_runtime``.

    Examples
    --------
    >>> artifact = load_eip3009_artifact()
    >>> "transferWithAuthorization" in {f.get("name") for f in artifact["abi"]}
    True
    """
    text = resources.files("ccanalytics").joinpath("contracts", "EIP3009USDC.json").read_text(encoding="utf-8")
    return json.loads(text)


def usdc_contract(w3: Web3, address: str = BASE_SEPOLIA_USDC) -> Any:
    """The token at ``address`` as a web3 contract object."""
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=load_eip3009_artifact()["abi"])


def place_usdc(w3: Web3, owner: str, address: str = BASE_SEPOLIA_USDC, timeout_s: float = 10.0) -> Any:
    """Place the EIP-3009 token at ``address`` on an anvil node and make ``owner`` its minter.

    ``owner`` must be an account the node signs for (one of ``eth_accounts``).
    Placing it again keeps the balances (the code is replaced, the storage stays).
    Returns the token as a web3 contract object (``functions.mint(to, micro)``).
    """
    from web3.types import RPCEndpoint  # web3 is loaded already: ``w3`` is one

    runtime = load_eip3009_artifact()["bytecode_runtime"]
    answer = w3.provider.make_request(RPCEndpoint("anvil_setCode"), [address, runtime])
    if "error" in answer:
        raise RuntimeError(f"the node refused anvil_setCode: {answer['error']}")
    token = usdc_contract(w3, address)
    current = token.functions.owner().call()
    if int(current, 16) != 0:
        if current.lower() != owner.lower():
            raise RuntimeError(f"the token at {address} is already owned by {current}")
        return token
    tx = token.functions.initialize("USDC", "2").transact({"from": owner})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=timeout_s)
    if receipt["status"] != 1:
        raise RuntimeError("initialize reverted: the token was already set up at that address")
    return token
