"""Fixtures of the snapshot channel's tests: a demo store and serve's snapshot server on it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from ccanalytics.demo import write_demo
from ccanalytics.serve.sharing import SnapshotCache, SnapshotServer, View
from ccanalytics.store import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "cc.db"
    write_demo(path, days=2, rpc_url=None)
    return path


@pytest.fixture
def server(store_path: Path) -> Iterator[SnapshotServer]:
    """Serve's snapshot server on the store, its log lines dropped."""
    store = open_store(store_path)

    def compute(view: View, wait: float) -> bytes:
        return json.dumps(store.snapshot(chain_wait_s=wait, range=view.range, api=view.api).to_dict()).encode()

    running = SnapshotServer(SnapshotCache(compute, reuse_s=0.5), log=lambda line: None).start()
    try:
        yield running
    finally:
        running.close()
        store.close()
