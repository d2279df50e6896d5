"""``ccanalytics fleet``: every node's snapshot and the fleet's figures as JSON."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from ccanalytics.errors import CCError
from ccanalytics.fleet import fleet_snapshot
from ccanalytics.metrics.views import RANGES

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """``ccanalytics fleet --lake DIR [--now T] [--engine polars|spark] [--range R] [--tz Z] [--master URL]``."""
    from ccanalytics.fleet.lake import require_fleet_extra

    require_fleet_extra()
    from ccanalytics.fleet.engines import engine

    if args.range is not None and args.range not in RANGES:
        raise CCError(f"--range must be one of {', '.join(RANGES)}")
    chosen = engine(args.engine, args.master)
    result = fleet_snapshot(args.lake, args.now, engine=chosen, timezone=args.tz, range_name=args.range)
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return 0
