"""The ``ccanalytics`` command: a thin front over the package.

Every subcommand turns its arguments into one call of the package; errors the
user can act on (``CCError``) become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccanalytics",
        description="The Dashboard of an API-marketplace control center.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve the dashboard with Voila (the embedded demo without --db)")
    serve.add_argument("--db", help="the store (default: $CCANALYTICS_DB, else the embedded demo)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8866, help="port to bind (default 8866)")
    serve.add_argument("--token", help="token visitors must present; required off loopback ($CCANALYTICS_TOKEN)")
    serve.add_argument("--token-file", help="read the token from this file (mode 0600)")
    serve.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME", help="another name visitors reach it by"
    )
    serve.add_argument("--max-kernels", type=int, help="cap on live kernels (default: by memory and cores)")

    snap = sub.add_parser("snapshot", help="print the dashboard's numbers as JSON")
    snap.add_argument("--db", required=True, help="the store")
    snap.add_argument("--now", help="compute for this moment: ISO-8601 or epoch milliseconds")
    snap.add_argument("--events", type=int, default=50, help="how many events to list (default 50)")

    demo = sub.add_parser("demo", help="write a realistic demo store")
    demo.add_argument("--db", required=True, help="the store to write (must not exist)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--days", type=int, default=30, help="days of history (default 30)")

    ingest = sub.add_parser("ingest", help="add calls from CSV, NDJSON or Parquet files to a store")
    ingest.add_argument("--db", required=True, help="the store (created when missing)")
    ingest.add_argument("files", nargs="+", metavar="FILE", help="files to add (.csv, .ndjson/.jsonl, .parquet)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "snapshot":
            from ccanalytics.snapshot import run
        elif args.command == "demo":
            from ccanalytics.demo import run
        elif args.command == "ingest":
            from ccanalytics.ingest import run
        else:
            from ccanalytics.serve import run
        return run(args)
    except CCError as exc:
        print(f"ccanalytics: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
