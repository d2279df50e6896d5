# pragma version ~=0.4.3
"""
@title EIP3009USDC
@notice A USDC-like ERC-20 (6 decimals) with EIP-3009 `transferWithAuthorization`,
        so that x402's facilitator can settle payments against it on a local
        chain. It is not USDC: only its owner can mint, and it has no value.
@dev EIP-712 domain: name "USDC", version "2" (what x402 expects for Base
     Sepolia's USDC). The domain separator is computed at call time, so the
     runtime code can be placed at any address with `anvil_setCode` and then
     set up with `initialize(name, version)` (no constructor runs there).
     Revert strings are FiatTokenV2's, which x402 maps to its error codes.
     Rebuild the artifact next to this file with `python scripts/build_token.py`.
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event AuthorizationUsed:
    authorizer: indexed(address)
    nonce: indexed(bytes32)

DECIMALS: constant(uint8) = 6
EIP712_DOMAIN_TYPEHASH: constant(bytes32) = keccak256(
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
TRANSFER_WITH_AUTHORIZATION_TYPEHASH: constant(bytes32) = keccak256(
    "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
)
# Signatures with a high s are malleable (EIP-2): refused, as OpenZeppelin's ECDSA does.
S_MAX: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168

name: public(String[32])
version: public(String[8])
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
authorizationState: public(HashMap[address, HashMap[bytes32, bool]])
owner: public(address)


@deploy
def __init__():
    self._setup("USDC", "2", msg.sender)


@external
def initialize(name_: String[32], version_: String[8]):
    """Set up code placed without a constructor; the caller becomes the owner."""
    assert self.owner == empty(address), "already initialized"
    self._setup(name_, version_, msg.sender)


@internal
def _setup(name_: String[32], version_: String[8], owner_: address):
    self.name = name_
    self.version = version_
    self.owner = owner_


@view
@external
def symbol() -> String[8]:
    return "USDC"


@view
@external
def decimals() -> uint8:
    return DECIMALS


@view
@internal
def _domain_separator() -> bytes32:
    return keccak256(
        abi_encode(
            EIP712_DOMAIN_TYPEHASH,
            keccak256(self.name),
            keccak256(self.version),
            chain.id,
            self,
        )
    )


@view
@external
def DOMAIN_SEPARATOR() -> bytes32:
    return self._domain_separator()


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    assert self.allowance[sender][msg.sender] >= amount, "ERC20: insufficient allowance"
    self.allowance[sender][msg.sender] -= amount
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def transferWithAuthorization(
    sender: address,
    receiver: address,
    amount: uint256,
    validAfter: uint256,
    validBefore: uint256,
    nonce: bytes32,
    v: uint8,
    r: bytes32,
    s: bytes32,
):
    """EIP-3009: move `amount` from `sender`, who signed the authorization, to `receiver`."""
    assert block.timestamp > validAfter, "FiatTokenV2: authorization is not yet valid"
    assert block.timestamp < validBefore, "FiatTokenV2: authorization is expired"
    assert not self.authorizationState[sender][nonce], "FiatTokenV2: authorization is used or canceled"
    struct_hash: bytes32 = keccak256(
        abi_encode(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH, sender, receiver, amount, validAfter, validBefore, nonce
        )
    )
    digest: bytes32 = keccak256(concat(b"\x19\x01", self._domain_separator(), struct_hash))
    assert convert(s, uint256) <= S_MAX, "FiatTokenV2: invalid signature"
    signer: address = ecrecover(digest, convert(v, uint256), r, s)
    assert signer != empty(address) and signer == sender, "FiatTokenV2: invalid signature"
    self.authorizationState[sender][nonce] = True
    log AuthorizationUsed(authorizer=sender, nonce=nonce)
    self._transfer(sender, receiver, amount)


@external
def mint(receiver: address, amount: uint256):
    assert msg.sender == self.owner, "only the owner mints"
    assert receiver != empty(address), "mint to the zero address"
    self.totalSupply += amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "ERC20: transfer to the zero address"
    assert self.balanceOf[sender] >= amount, "ERC20: transfer amount exceeds balance"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)
