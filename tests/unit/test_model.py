"""model.py: the snapshot's value types."""

from __future__ import annotations

import dataclasses

import pytest

from ccanalytics.model import Balances, DataIssue


def test_balances_default_to_none_known_from_the_usdc_amount() -> None:
    assert Balances() == Balances(None, None, "none", None, None)
    assert not Balances().known
    assert Balances(usdc_micro=0, source="snapshot", as_of_ms=5).known  # zero is a known balance
    assert not Balances(eth_wei=10, source="chain").known


def test_value_types_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Balances().source = "chain"  # type: ignore[misc]
    issue = DataIssue("calls", "status_code outside 100..599", 2)
    assert (issue.table, issue.rule, issue.rows) == ("calls", "status_code outside 100..599", 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        issue.rows = 3  # type: ignore[misc]
