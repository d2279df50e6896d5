"""``ccanalytics reconcile``: the paid calls against the chain, as JSON."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from ccanalytics.reconcile import reconcile

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """``ccanalytics reconcile --db PATH [--from-block N] [--to-block M] [--dry-run]``."""
    result = reconcile(args.db, args.from_block, args.to_block, dry_run=args.dry_run)
    out = {"store": str(args.db), **result.to_dict(), "dry_run": bool(args.dry_run)}
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0 if result.clean else 1
