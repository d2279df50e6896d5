"""``ccanalytics`` itself: the public names, imported when first used (no polars for ``errors``)."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import ccanalytics as cc

if TYPE_CHECKING:
    from pathlib import Path


def test_the_public_names_are_the_documented_ones() -> None:
    assert cc.__all__ == ["CCError", "Snapshot", "Store", "StoreError", "create_store", "open_store"]
    for name in cc.__all__:
        assert getattr(cc, name) is not None
    assert issubclass(cc.StoreError, cc.CCError)


def test_the_docstring_example_a_store_gives_a_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    cc.create_store(db)
    with cc.open_store(db) as store:
        snapshot = store.snapshot()
    assert isinstance(snapshot, cc.Snapshot)
    assert snapshot.to_dict()["mode"] in {"buyer", "seller", "both"}


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        cc.nope  # noqa: B018


def test_importing_the_package_loads_no_polars() -> None:
    code = "import sys, ccanalytics; from ccanalytics import CCError; print('polars' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
