"""cli/export.py and cli/fleet.py's lake: ``ccanalytics export`` writes a node into a lake and says what it wrote."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ccanalytics.cli import main
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

NOW = 1_795_608_000_000


def test_export_reports_the_node_and_writes_nothing_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = StoreBuilder(tmp_path / "alpha.db").call(NOW - 1_000).call(NOW - 90_000_000, role="seller").write()
    lake = tmp_path / "lake"
    assert main(["export", "--db", db, "--to", str(lake)]) == 0
    first = capsys.readouterr().out
    assert re.fullmatch(
        r"exported node alpha: 2 calls over 2 days read \(0 bad rows counted\); \d+ files written, 0 unchanged\n", first
    )
    assert main(["export", "--db", db, "--to", str(lake), "--node", "alpha"]) == 0
    assert re.search(r"; 0 files written, \d+ unchanged\n$", capsys.readouterr().out)
