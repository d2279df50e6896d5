"""The builder runs a history's build in its own thread, reading the store through its own connection."""

from __future__ import annotations

import threading

from ccanalytics.store.builder import THREAD_NAME, Builder
from ccanalytics.store.follow import Cursor
from tests.support.stores import StoreBuilder


def test_a_build_runs_in_the_builders_thread_with_a_reader_up_to_the_cursor(tmp_path) -> None:
    store = StoreBuilder(str(tmp_path / "store.db"))
    for n in range(3):
        store.call(1_000 + n, role="buyer")
    path = store.write()
    builder = Builder(tmp_path / "store.db")
    seen: list = []

    def build(reader):
        seen.append(threading.current_thread().name)
        return reader(1, 10, 0, 10_000)["ts_ms"].to_list()

    try:
        cursor = Cursor(top=2)
        future = builder.later(cursor)(build)
        cursor.top = 3  # the ledger reads on: the build reads what was read when it was handed over
        assert future.result(timeout=30) == [1_000, 1_001]
        assert seen == [f"{THREAD_NAME}_0"]
        assert builder.later(None)(lambda reader: reader).result(timeout=30) is None
    finally:
        builder.close()
    assert path
