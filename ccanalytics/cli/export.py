"""``ccanalytics export``: a store into a Parquet lake."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ccanalytics.fleet.lake import export, require_fleet_extra

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """``ccanalytics export --db PATH --to DIR [--node NAME]``."""
    require_fleet_extra()
    report = export(args.db, args.to, args.node)
    sys.stdout.write(
        f"exported node {report.node}: {report.calls} calls over {report.days} days read"
        f" ({report.bad_rows} bad rows counted); {report.written} files written, {report.unchanged} unchanged\n"
    )
    return 0
