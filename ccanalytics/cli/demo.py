"""``ccanalytics demo``: write the demo store and say what it holds."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from ccanalytics.demo import write_demo
from ccanalytics.units import count_text

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """``ccanalytics demo --db PATH [--seed S] [--days N]``: write the demo store and say what it holds."""
    write_demo(args.db, seed=args.seed, days=args.days)
    con = sqlite3.connect(args.db)
    try:
        counts = dict(con.execute("SELECT role, count(*) FROM calls GROUP BY role").fetchall())
        n_events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        con.close()
    total = sum(counts.values())
    print(
        f"wrote {count_text(total)} calls ({count_text(counts.get('seller', 0))} served, "
        f"{count_text(counts.get('buyer', 0))} made) and {count_text(n_events)} events "
        f"over {args.days} days to {args.db}"
    )
    return 0
