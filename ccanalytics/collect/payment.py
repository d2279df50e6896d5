"""What x402's headers say about a payment: read from their base64 JSON, without x402.

A paid retry carries ``PAYMENT-SIGNATURE`` (``X-PAYMENT`` in protocol v1): the
payment payload, whose ``payload.authorization`` names the payer (``from``)
and the authorized ``value`` in atomic units (micro-USDC for USDC). The answer
carries ``PAYMENT-RESPONSE`` (``X-PAYMENT-RESPONSE``): the settlement,
``{"success", "payer", "transaction", "network"}`` and, for schemes that
settle another amount than authorized, ``amount``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "PAYMENT_HEADERS",
    "SETTLEMENT_HEADERS",
    "Payment",
    "Settlement",
    "consumer_hash",
    "paid_micro",
    "read_payment",
    "read_settlement",
    "route_price_micro",
]

PAYMENT_HEADERS = ("payment-signature", "x-payment")
SETTLEMENT_HEADERS = ("payment-response", "x-payment-response")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_TX = re.compile(r"^0x[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Payment:
    """The payment payload of a paid request: who pays and how much they authorized."""

    payer: str | None
    value_micro: int | None


@dataclass(frozen=True)
class Settlement:
    """The settlement response: whether it succeeded, its transaction, payer and amount."""

    success: bool
    tx_hash: str | None
    payer: str | None
    amount_micro: int | None


def _decode(header: str | bytes | None) -> dict[str, Any] | None:
    if header is None:
        return None
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            value = json.loads(decode(padded))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        return value if isinstance(value, dict) else None
    return None


def _amount(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 40:
        return int(value)
    return None


def _address(value: object) -> str | None:
    return value if isinstance(value, str) and _ADDRESS.match(value) else None


def read_payment(header: str | bytes | None) -> Payment | None:
    """The payer and authorized value of a ``PAYMENT-SIGNATURE`` header; ``None`` when unreadable.

    Examples
    --------
    >>> import base64, json
    >>> auth = {"from": "0x" + "Ab" * 20, "to": "0x" + "22" * 20, "value": "1000"}
    >>> header = base64.b64encode(json.dumps({"payload": {"authorization": auth}}).encode())
    >>> read_payment(header)
    Payment(payer='0xAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAbAb', value_micro=1000)
    >>> read_payment("not base64 json") is None
    True
    """
    decoded = _decode(header)
    if decoded is None:
        return None
    payload = decoded.get("payload")
    authorization = payload.get("authorization") if isinstance(payload, dict) else None
    if not isinstance(authorization, dict):
        # Permit2 payloads name the payer `owner` and the value under `permitted.amount`.
        permit = payload.get("permit2Authorization") if isinstance(payload, dict) else None
        if isinstance(permit, dict):
            permitted = permit.get("permitted")
            amount = permitted.get("amount") if isinstance(permitted, dict) else None
            return Payment(payer=_address(permit.get("from") or permit.get("owner")), value_micro=_amount(amount))
        accepted = decoded.get("accepted")
        amount = accepted.get("amount") if isinstance(accepted, dict) else None
        return Payment(payer=None, value_micro=_amount(amount))
    return Payment(payer=_address(authorization.get("from")), value_micro=_amount(authorization.get("value")))


def read_settlement(header: str | bytes | None) -> Settlement | None:
    """The settlement a ``PAYMENT-RESPONSE`` header reports; ``None`` when absent or unreadable.

    Examples
    --------
    >>> import base64, json
    >>> body = {"success": True, "transaction": "0x" + "ab" * 32, "payer": "0x" + "11" * 20, "network": "eip155:8453"}
    >>> settled = read_settlement(base64.b64encode(json.dumps(body).encode()).decode())
    >>> settled.success, settled.tx_hash[:6], settled.amount_micro
    (True, '0xabab', None)
    """
    decoded = _decode(header)
    if decoded is None:
        return None
    tx = decoded.get("transaction")
    return Settlement(
        success=decoded.get("success") is True,
        tx_hash=tx.lower() if isinstance(tx, str) and _TX.match(tx) else None,
        payer=_address(decoded.get("payer")),
        amount_micro=_amount(decoded.get("amount")),
    )


def paid_micro(payment: Payment | None, settlement: Settlement | None) -> int:
    """What a call paid: the settled amount when the settlement succeeded, else 0.

    The exact scheme's settlement names no amount: then it is the payment's
    authorized value.

    Examples
    --------
    >>> paid_micro(Payment("0x" + "11" * 20, 1000), Settlement(True, None, None, None))
    1000
    >>> paid_micro(Payment("0x" + "11" * 20, 1000), Settlement(False, None, None, None))
    0
    """
    if settlement is None or not settlement.success:
        return 0
    if settlement.amount_micro is not None:
        return settlement.amount_micro
    return payment.value_micro if payment is not None and payment.value_micro is not None else 0


def consumer_hash(address: str | None) -> str | None:
    """SHA-256 hex of a wallet address, hashed as its lower-case ``0x…`` text.

    Examples
    --------
    >>> import hashlib
    >>> address = "0x" + "AB" * 20
    >>> consumer_hash(address) == hashlib.sha256(address.lower().encode()).hexdigest()
    True
    >>> consumer_hash(None) is None
    True
    """
    if address is None:
        return None
    return hashlib.sha256(address.lower().encode("ascii")).hexdigest()


def route_price_micro(route: object) -> int:
    """The price of an x402 route configuration in micro-USDC (0 when it is dynamic or unreadable).

    ``price`` is money (``"$0.001"``, ``"0.001"``, ``0.001``: USDC) or an asset
    amount (``{"amount": "1000", "asset": …}``: atomic units).

    Examples
    --------
    >>> route_price_micro({"accepts": {"scheme": "exact", "price": "$0.001"}})
    1000
    >>> route_price_micro({"accepts": [{"price": {"amount": "2500", "asset": "0x" + "11" * 20}}]})
    2500
    >>> route_price_micro({"accepts": {"price": lambda context: "$1"}})
    0
    """
    accepts = _field(route, "accepts")
    if isinstance(accepts, (list, tuple)):
        accepts = accepts[0] if accepts else None
    price = _field(accepts, "price")
    if isinstance(price, dict) or hasattr(price, "amount"):
        return _amount(_field(price, "amount")) or 0
    if isinstance(price, bool) or not isinstance(price, (str, int, float)):
        return 0
    text = str(price).strip().removeprefix("$").replace(",", "").strip()
    try:
        micro = Decimal(text) * 1_000_000
    except InvalidOperation:
        return 0
    return int(micro) if micro.is_finite() and micro >= 0 else 0


def _field(value: object, name: str) -> Any:
    if isinstance(value, dict):
        return value.get(name)
    return getattr(value, name, None)
