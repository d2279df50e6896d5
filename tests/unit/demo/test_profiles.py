"""``demo.profiles``: the demo node's APIs and rhythm are coherent data."""

from __future__ import annotations

import math
import random

import pytest

from ccanalytics.demo.profiles import APIS, BY_ID, DEMO_WALLET, RHYTHMS, USDC, gas_wei, usdc_message


def test_each_roles_api_weights_share_out_its_calls() -> None:
    for role in ("buyer", "seller"):
        assert math.isclose(sum(a.weight for a in APIS if a.role == role), 1.0)
    assert len(BY_ID) == len(APIS)
    assert all(a.api_id.startswith("bb-") == (a.role == "seller") for a in APIS)


@pytest.mark.parametrize("role", ["buyer", "seller"])
def test_a_rhythms_hours_add_up_to_its_day(role: str) -> None:
    rhythm = RHYTHMS[role]
    assert len(rhythm.shape) == 24
    assert math.isclose(sum(rhythm.per_hour(h) for h in range(24)), rhythm.per_day)


def test_messages_show_money_with_at_least_two_decimals_and_never_round() -> None:
    assert usdc_message(50 * USDC) == "50.00 USDC"
    assert usdc_message(999_500) == "0.9995 USDC"
    assert usdc_message(999_999) == "0.999999 USDC"
    assert usdc_message(0) == "0.00 USDC"


def test_a_settlements_gas_is_about_a_tenth_of_a_micro_eth() -> None:
    rng = random.Random(1)
    assert all(60_000_000_000 <= gas_wei(rng) < 60_000_000_000 + 2**36 for _ in range(100))


def test_the_demo_wallet_is_an_address() -> None:
    assert len(DEMO_WALLET) == 42 and DEMO_WALLET.startswith("0x")
    int(DEMO_WALLET, 16)
