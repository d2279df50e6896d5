"""cli/reconcile.py: without a wallet and an RPC URL there is nothing to reconcile: one line, exit 1."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccanalytics.cli import main
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def test_a_store_without_chain_settings_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = StoreBuilder(tmp_path / "cc.db").call(1_000).write()
    assert main(["reconcile", "--db", db, "--dry-run"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("ccanalytics: ") and err.count("\n") == 1
