"""The ``ccanalytics`` command: a thin front over the package.

Every subcommand turns its arguments into one call of the package; errors the
user can act on (``CCError``) become one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ccanalytics.allocator import return_freed_memory
from ccanalytics.cli.help import describe, package_version
from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ccanalytics",
        description="The Dashboard of an API-marketplace control center.",
    )
    parser.add_argument("--version", action="version", version=f"ccanalytics {package_version()}")
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
    serve.add_argument("--lake", metavar="DIR", help="serve the fleet page of this lake instead (fleet.md)")

    snap = sub.add_parser("snapshot", help="print the dashboard's numbers as JSON")
    snap.add_argument("--db", required=True, help="the store")
    snap.add_argument("--now", help="compute for this moment: ISO-8601 or epoch milliseconds")
    snap.add_argument("--events", default="50", help="how many events to list (default 50)")
    snap.add_argument("--range", choices=("1h", "24h", "7d", "30d", "90d"), help="add the ranged view of this range")
    snap.add_argument("--api", help="limit the ranged view to this api_id (needs --range)")

    demo = sub.add_parser("demo", help="write a realistic demo store")
    demo.add_argument("--db", required=True, help="the store to write (must not exist)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--days", type=int, default=30, help="days of history (default 30)")

    ingest = sub.add_parser("ingest", help="add calls from CSV, NDJSON or Parquet files to a store")
    ingest.add_argument("--db", required=True, help="the store (created when missing)")
    ingest.add_argument("files", nargs="+", metavar="FILE", help="files to add (.csv, .ndjson/.jsonl, .parquet)")

    rec = sub.add_parser("reconcile", help="match the store's paid calls with the wallet's USDC transfers on chain")
    rec.add_argument("--db", required=True, help="the store (its settings name the wallet, RPC URL and chain)")
    rec.add_argument("--from-block", type=int, help="first block to read (default 0)")
    rec.add_argument("--to-block", type=int, help="last block to read (default: the latest)")
    rec.add_argument("--dry-run", action="store_true", help="print the result without appending it to the store")

    watch = sub.add_parser("watch", help="deliver the alert rules' transitions by webhook and e-mail")
    watch.add_argument("--db", required=True, help="the store")
    watch.add_argument("--interval", type=float, default=30.0, help="seconds between evaluations (default 30)")
    watch.add_argument("--state", help="the state file (default: in the user's state directory)")
    watch.add_argument("--once", action="store_true", help="evaluate once, deliver, and exit (for cron)")
    _fleet_commands(sub)
    describe(sub.choices)
    return parser


def _fleet_commands(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="write a store's calls and tables into a Parquet lake (fleet.md)")
    export.add_argument("--db", required=True, help="the store")
    export.add_argument("--to", required=True, metavar="DIR", help="the lake's folder (created when missing)")
    export.add_argument("--node", help="the node's name in the lake (default: the store's file name)")

    fleet = sub.add_parser("fleet", help="print every node's snapshot and the fleet's figures as JSON")
    fleet.add_argument("--lake", required=True, metavar="DIR", help="the lake written by `ccanalytics export`")
    fleet.add_argument("--now", help="compute for this moment: ISO-8601 or epoch milliseconds")
    fleet.add_argument("--engine", choices=("polars", "spark"), default="polars", help="the engine (default polars)")
    fleet.add_argument("--range", help="add each node's ranged view (views.md): 1h, 24h, 7d, 30d or 90d")
    fleet.add_argument("--tz", default="UTC", help="time zone of the fleet's hours (default UTC)")
    fleet.add_argument("--master", help="Spark master URL (default local[*]; SPARK_REMOTE for Spark Connect)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ccanalytics`` command line; return its exit status."""
    return_freed_memory()  # before any command loads polars (``ccanalytics.allocator``)
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "snapshot" and args.api is not None and args.range is None:
        parser.error("--api needs --range")
    try:
        if args.command == "snapshot":
            from ccanalytics.cli.snapshot import run
        elif args.command == "demo":
            from ccanalytics.cli.demo import run
        elif args.command == "ingest":
            from ccanalytics.cli.ingest import run
        elif args.command == "reconcile":
            from ccanalytics.cli.reconcile import run
        elif args.command == "watch":
            from ccanalytics.cli.watch import run
        elif args.command == "export":
            from ccanalytics.cli.export import run
        elif args.command == "fleet":
            from ccanalytics.cli.fleet import run
        else:
            from ccanalytics.cli.serve import run
        return run(args)
    except CCError as exc:
        print(f"ccanalytics: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
