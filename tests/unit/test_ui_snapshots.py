"""The widget tests' literal snapshots (tests/support/ui_snapshots.py) have exactly a real snapshot's keys.

A key the package adds to ``Snapshot.to_dict()`` and the literals lack would
leave the widgets untested on it; a key only the literals have would test the
widgets on data no store gives.
"""

from __future__ import annotations

from typing import Any

import pytest

import ccanalytics as cc
from tests.support import ui_snapshots as snaps
from tests.support.stores import StoreBuilder

NOW = 1_795_608_000_000  # ui_snapshots.NOW
HOUR = 3_600_000


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A store with every list of the snapshot non-empty: both roles, an event, a bad row, a backup."""
    path = tmp_path_factory.mktemp("keys") / "cc.db"
    builder = StoreBuilder(path).api("wx", "Weather")
    builder.call(NOW - HOUR, role="buyer", api_name="Alpha").call(NOW - 2 * HOUR, role="seller", api_id="wx")
    builder.call(NOW - 3 * HOUR, status_code=700).event(NOW - HOUR, type="startup").backup(NOW - HOUR)
    builder.balance(NOW - HOUR, usdc_micro=5_000_000, eth_wei="1000").write()
    with cc.open_store(path) as store:
        return store.snapshot(now=NOW).to_dict()


def _differences(real: Any, literal: Any, where: str) -> list[str]:
    """Where ``literal``'s keys differ from ``real``'s: in every dict, and in every row of a list of dicts."""
    if isinstance(real, dict):
        if not isinstance(literal, dict):
            return [f"{where}: {type(literal).__name__}, not a dict"]
        found = [f"{where}: missing {sorted(real.keys() - literal.keys())}"] if real.keys() - literal.keys() else []
        found += [f"{where}: extra {sorted(literal.keys() - real.keys())}"] if literal.keys() - real.keys() else []
        for key in real.keys() & literal.keys():
            found += _differences(real[key], literal[key], f"{where}.{key}")
        return found
    if isinstance(real, list) and real and isinstance(real[0], dict) and isinstance(literal, list):
        return [d for i, row in enumerate(literal) for d in _differences(real[0], row, f"{where}[{i}]")]
    return []


def test_the_real_snapshot_has_every_list_filled(real: dict[str, Any]) -> None:
    for key in ("events", "data_issues", "alerts"):
        assert real[key], key
    for role in ("buyer", "seller"):
        assert real[role]["breakdown"] and real[role]["call_rate"], role
    assert "view" not in real  # the default view: the literals are of that one


@pytest.mark.parametrize("name", ["BUYER", "SELLER", "EMPTY", "ALARMS", "NASTY"])
def test_a_literal_snapshot_has_exactly_the_real_keys(real: dict[str, Any], name: str) -> None:
    assert _differences(real, getattr(snaps, name), name) == []


def test_the_comparison_sees_a_missing_and_an_extra_key(real: dict[str, Any]) -> None:
    literal = {**snaps.BUYER, "surplus": 1}
    literal["buyer"] = {k: v for k, v in snaps.BUYER["buyer"].items() if k != "total_calls"}
    assert _differences(real, literal, "x") == ["x: extra ['surplus']", "x.buyer: missing ['total_calls']"]
