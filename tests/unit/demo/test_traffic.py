"""``demo.traffic``: live traffic extends a demo store inside its interval, in one transaction."""

from __future__ import annotations

import random
import sqlite3
from typing import TYPE_CHECKING

import pytest

from ccanalytics.demo import write_demo
from ccanalytics.demo.traffic import TOP_UP_MICRO, append_traffic
from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from pathlib import Path

NOW = 1_795_608_000_000


def test_calls_land_inside_the_interval_and_the_callback_gets_what_was_paid(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    write_demo(db, seed=1, days=1, now_ms=NOW)
    paid: list[tuple[int, int]] = []
    added = append_traffic(
        db, now_ms=NOW + 600_000, since_ms=NOW, rng=random.Random(1), on_paid_calls=lambda n, m: paid.append((n, m))
    )
    con = sqlite3.connect(db)
    new = con.execute(
        "SELECT count(*), min(ts_ms), max(ts_ms) FROM calls WHERE ts_ms > ?", (NOW,)
    ).fetchone()  # fmt: skip
    spent = con.execute(
        "SELECT count(*), sum(price_micro) FROM calls WHERE ts_ms > ? AND role = 'buyer' AND price_micro > 0", (NOW,)
    ).fetchone()
    latest = con.execute("SELECT max(ts_ms) FROM balance_snapshots").fetchone()
    con.close()
    assert added == new[0] > 0
    assert new[1] > NOW and new[2] <= NOW + 600_000
    assert paid == [spent]
    assert latest == (NOW + 600_000,)


def test_nothing_happens_in_an_empty_interval_and_a_missing_store_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert append_traffic(missing, now_ms=NOW, since_ms=NOW, rng=random.Random(1)) == 0
    with pytest.raises(CCError, match="no such store"):
        append_traffic(missing, now_ms=NOW + 1, since_ms=NOW, rng=random.Random(1))
    assert not missing.exists()
    assert TOP_UP_MICRO == 20_000_000
