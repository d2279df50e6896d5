"""ccanalytics.ui.wallet: the wallet line, its low-balance warnings, and where the balances come from."""

from __future__ import annotations

from datetime import UTC

import pytest

from ccanalytics.ui.wallet import WalletLine, balance_source, low_balances, wallet_html

LOW_USDC = {"rule": "low_usdc", "firing": True, "threshold": "1.000000"}
LOW_GAS = {"rule": "low_gas", "firing": True, "threshold": "0.000500000000000000"}


@pytest.mark.parametrize(
    ("snapshot", "low"),
    [
        ({}, {}),
        ({"alerts": "garbage", "banners": []}, {}),
        ({"alerts": [LOW_USDC, {**LOW_GAS, "firing": "yes"}, None]}, {"usdc": "1.00 USDC"}),
        ({"alerts": [LOW_GAS]}, {"eth": "0.0005 ETH"}),
        ({"alerts": [{**LOW_USDC, "threshold": None}]}, {"usdc": "—"}),
        ({"banners": {"low_gas": True}, "alerts": [LOW_GAS]}, {"eth": "0.0005 ETH"}),
    ],
)
def test_low_balances(snapshot: dict[str, object], low: dict[str, str]) -> None:
    assert low_balances(snapshot) == low


def test_where_the_balances_come_from() -> None:
    assert balance_source({"source": "chain", "note": 7}, UTC) == ("live", "live", "")
    assert balance_source({"source": "snapshot", "as_of": None}, UTC) == ("as of —", "", "")
    assert balance_source({"source": "elsewhere", "note": "why"}, UTC) == ("not available", "", "why")


def test_the_line_warns_per_low_balance_and_says_the_threshold_when_known() -> None:
    html = wallet_html({"balances": {"usdc": "0.5", "source": "chain"}, "alerts": [{**LOW_USDC, "threshold": None}]})
    assert "cc-wallet-low" in html and "⚠ Low USDC</span>" in html and "below" not in html
    html = wallet_html({"alerts": [LOW_GAS], "banners": {"low_gas": True}})
    assert "Low gas — below 0.0005 ETH" in html and "Low USDC" not in html and "not available" in html
    calm = wallet_html({"balances": {"usdc": "<b>5</b>", "eth": None}})
    assert "cc-wallet-low" not in calm and "<b>" not in calm and calm.count("—") == 2


def test_the_widget_follows_the_snapshot() -> None:
    line = WalletLine()
    line.update({"balances": {"usdc": "2.000000", "source": "chain"}})
    assert "2.00 USDC" in line.widget.value and "cc-wallet" in line.widget._dom_classes
