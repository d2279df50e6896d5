"""``ccanalytics snapshot``: the dashboard's numbers as JSON."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ccanalytics.errors import CCError
from ccanalytics.store import open_store
from ccanalytics.units import parse_events, parse_now

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """``ccanalytics snapshot --db PATH [--now T] [--events N] [--range R [--api ID]]``."""
    try:
        now = parse_now(args.now)
        events = parse_events(args.events)
    except ValueError as exc:
        raise CCError(f"--{exc}") from None
    store = open_store(args.db)
    try:
        snap = store.snapshot(now=now, events=events, range=args.range, api=args.api)
    finally:
        store.close()
    sys.stdout.write(snap.to_json() + "\n")
    return 0
