"""``ccanalytics ingest``: add calls from files, one line per file."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ccanalytics.ingest import IngestError, ingest
from ccanalytics.units import count_text

if TYPE_CHECKING:
    import argparse


def run(args: argparse.Namespace) -> int:
    """``ccanalytics ingest --db PATH FILE…``: one line per file; exit 1 when any file was refused."""
    refused = 0
    for file, outcome in ingest(args.db, args.files, progress=sys.stderr.isatty()):
        if isinstance(outcome, IngestError):
            refused += 1
            print(f"ccanalytics: {outcome}", file=sys.stderr, flush=True)
            continue
        line = f"{file}: added {count_text(outcome.added)}, skipped {count_text(outcome.skipped)}"
        if outcome.ignored_columns:
            line += f"; ignored columns: {', '.join(outcome.ignored_columns)}"
        print(line, flush=True)
    return 1 if refused else 0
