"""cli/fleet.py: ``ccanalytics fleet`` prints every node's snapshot and the fleet's figures as JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ccanalytics.cli import main
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

NOW = 1_795_608_000_000


def test_the_fleet_of_two_nodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = tmp_path / "lake"
    for node, calls in (("alpha", 2), ("beta", 1)):
        builder = StoreBuilder(tmp_path / f"{node}.db")
        for i in range(calls):
            builder.call(NOW - 1_000 - i, role="seller", price_micro=1_000)
        assert main(["export", "--db", builder.write(), "--to", str(lake)]) == 0
    capsys.readouterr()
    assert main(["fleet", "--lake", str(lake), "--now", str(NOW)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sorted(result["nodes"]) == ["alpha", "beta"]
    assert result["nodes"]["alpha"]["seller"]["calls_24h"] == 2


def test_a_missing_lake_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "--lake", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ccanalytics: ") and err.count("\n") == 1
