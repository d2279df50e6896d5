"""ccanalytics.collect.payment: x402's headers read without x402, whatever a client or facilitator sends."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace

import pytest

from ccanalytics.collect.payment import (
    Payment,
    Settlement,
    consumer_hash,
    paid_micro,
    read_payment,
    read_settlement,
    route_price_micro,
)

PAYER, TX = "0x" + "Ab" * 20, "0x" + "CD" * 32


def header(value: object, *, urlsafe: bool = False, strip: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = encode(json.dumps(value).encode()).decode()
    return text.rstrip("=") if strip else text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"payload": {"authorization": {"from": PAYER, "value": "1000"}}}, Payment(PAYER, 1000)),
        ({"payload": {"authorization": {"from": "0xnothex", "value": 5}}}, Payment(None, 5)),
        ({"payload": {"authorization": {"from": PAYER, "value": -5}}}, Payment(PAYER, None)),
        ({"payload": {"authorization": {"from": PAYER, "value": True}}}, Payment(PAYER, None)),
        ({"payload": {"authorization": {"from": PAYER, "value": "9" * 40}}}, Payment(PAYER, None)),
        ({"payload": {"permit2Authorization": {"owner": PAYER, "permitted": {"amount": "7"}}}}, Payment(PAYER, 7)),
        ({"payload": {}, "accepted": {"amount": "42"}}, Payment(None, 42)),
        ({"payload": "odd"}, Payment(None, None)),
    ],
)
def test_read_payment(value: object, expected: Payment) -> None:
    assert read_payment(header(value)) == expected


@pytest.mark.parametrize("raw", [None, "", "%%%", header([1, 2]), header("text"), b"\xff\xfe"])
def test_an_unreadable_payment_header_is_none(raw: str | bytes | None) -> None:
    assert read_payment(raw) is None and read_settlement(raw) is None


def test_headers_in_urlsafe_base64_without_padding_and_as_bytes_are_read() -> None:
    value = {"payload": {"authorization": {"from": PAYER, "value": "1"}}, "pad": "??>>"}
    assert read_payment(header(value, urlsafe=True, strip=True)) == Payment(PAYER, 1)
    assert read_payment(f"  {header(value)}\n".encode()) == Payment(PAYER, 1)


def test_read_settlement_keeps_only_what_is_well_formed() -> None:
    good = read_settlement(header({"success": True, "transaction": TX, "payer": PAYER, "amount": "250"}))
    assert good == Settlement(True, TX.lower(), PAYER, 250)
    odd = read_settlement(header({"success": "true", "transaction": "0x12", "payer": 5, "amount": 1.5}))
    assert odd == Settlement(False, None, None, None)


def test_paid_micro_is_what_was_settled() -> None:
    payment = Payment(PAYER, 1000)
    assert paid_micro(payment, Settlement(True, TX, PAYER, 250)) == 250
    assert paid_micro(payment, Settlement(True, TX, PAYER, None)) == 1000
    assert paid_micro(Payment(PAYER, None), Settlement(True, TX, PAYER, None)) == 0
    assert paid_micro(None, Settlement(True, TX, PAYER, None)) == 0
    assert paid_micro(payment, None) == 0


def test_a_consumer_is_the_same_whatever_the_case_of_its_address() -> None:
    assert consumer_hash(PAYER) == consumer_hash(PAYER.lower()) == consumer_hash(PAYER.upper().replace("0X", "0x"))
    assert len(consumer_hash(PAYER) or "") == 64 and consumer_hash(None) is None


@pytest.mark.parametrize(
    ("route", "micro"),
    [
        ({"accepts": {"price": "$0.001"}}, 1000),
        ({"accepts": {"price": "1,000"}}, 1_000_000_000),
        ({"accepts": {"price": 0.25}}, 250_000),
        ({"accepts": [{"price": 2}]}, 2_000_000),
        ({"accepts": []}, 0),
        ({"accepts": {"price": "-1"}}, 0),
        ({"accepts": {"price": "free"}}, 0),
        ({"accepts": {"price": "NaN"}}, 0),
        ({"accepts": {"price": True}}, 0),
        ({"accepts": {"price": {"amount": "-3"}}}, 0),
        (SimpleNamespace(accepts=SimpleNamespace(price=SimpleNamespace(amount="77"))), 77),
        (None, 0),
    ],
)
def test_route_price_micro(route: object, micro: int) -> None:
    assert route_price_micro(route) == micro
