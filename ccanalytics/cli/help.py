"""What ``ccanalytics COMMAND --help`` says beyond the flags: a description, examples, environment.

Kept apart from ``cli.py`` (which only declares the flags) so the texts can
grow without crowding the parser.
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version

__all__ = ["HELP", "describe", "package_version"]

HELP: dict[str, tuple[str, str]] = {
    "serve": (
        "Serve the dashboard with Voila: the store named by --db (or $CCANALYTICS_DB), else the "
        "embedded demo (a month of history, live traffic and an in-process chain).",
        """examples:
  ccanalytics serve                                   # the embedded demo at http://localhost:8866/
  ccanalytics serve --db control-center.db --port 8900
  ccanalytics serve --db cc.db --host 0.0.0.0 --token-file ~/.cc-token
  ccanalytics serve --lake /srv/lake                   # the fleet page of a lake written by `export`

environment:
  CCANALYTICS_DB          the store, when --db is not given
  CCANALYTICS_TOKEN       the token, when --token is not given (never on a command line)
  CCANALYTICS_MAX_KERNELS cap on live kernels, when --max-kernels is not given (default: by memory and cores)
  CCANALYTICS_REFRESH_S   seconds between page refreshes (default 30; fractions allowed)
  CCANALYTICS_CULL_IDLE_S seconds a closed or sleeping tab's kernel is kept (default 120)
  CCANALYTICS_DEMO_SPEED  multiplies the embedded demo's live traffic (default 1: its history's rate)""",
    ),
    "snapshot": (
        "Print every number of the dashboard as JSON (the snapshot of docs/spec/metrics.md), for scripts, "
        "cron and monitoring.",
        """examples:
  ccanalytics snapshot --db control-center.db
  ccanalytics snapshot --db cc.db --now 2026-11-25T12:00:00+01:00 --events 10
  ccanalytics snapshot --db cc.db --range 7d --api bb-graphql""",
    ),
    "demo": (
        "Write a realistic demo store: a dozen APIs with their own prices and latencies, a daily rhythm, "
        "error bursts, a low-balance pause, restarts, backups. The same seed writes the same store.",
        """examples:
  ccanalytics demo --db demo.db
  ccanalytics demo --db week.db --days 7 --seed 42""",
    ),
    "ingest": (
        "Add calls from CSV, NDJSON or Parquet files to a store (created when missing). Each file is added "
        "whole or not at all; running it twice adds nothing. The columns are in docs/spec/data-contract.md (calls): "
        "request_id, ts_ms, role, api_id and status_code are required.",
        """examples:
  ccanalytics ingest --db control-center.db calls-2026-11.csv
  ccanalytics ingest --db cc.db exports/*.parquet""",
    ),
    "reconcile": (
        "Match the store's paid calls with the wallet's USDC Transfer logs on chain (wallet, RPC URL, chain "
        "and token from the store's settings) and print matched, missing_on_chain and unrecorded as JSON; "
        "exit 1 when anything is missing or unrecorded. The result is appended to the store unless --dry-run.",
        """examples:
  ccanalytics reconcile --db control-center.db --dry-run
  ccanalytics reconcile --db cc.db --from-block 23000000 --to-block 23100000""",
    ),
    "watch": (
        "Evaluate the store's alert rules (docs/spec/alerts.md) every --interval seconds and deliver each "
        "firing, reminder and resolution by webhook (setting alert_webhook_url) and e-mail (alert_email_to, "
        "alert_smtp_url); the state file keeps what was delivered across restarts.",
        """examples:
  ccanalytics watch --db control-center.db
  ccanalytics watch --db cc.db --interval 60 --state /var/lib/ccanalytics/watch.json
  ccanalytics watch --db cc.db --once              # from cron: evaluate, deliver, exit""",
    ),
    "export": (
        "Write the store into a Parquet lake as one node (docs/spec/fleet.md): its calls by UTC day, hourly "
        "rollups, bad rows counted, the small tables; again later, it adds the new days. Needs the fleet extra.",
        """examples:
  ccanalytics export --db control-center.db --to /srv/lake
  ccanalytics export --db eu-1.db --to /srv/lake --node eu-1""",
    ),
    "fleet": (
        "Print every node's snapshot and the fleet's figures (all nodes' calls together, rankings) as JSON, "
        "computed with polars on this machine or with Apache Spark. Needs the fleet extra.",
        """examples:
  ccanalytics fleet --lake /srv/lake
  ccanalytics fleet --lake /srv/lake --range 7d --tz Europe/Berlin
  ccanalytics fleet --lake /srv/lake --engine spark --master spark://host:7077

environment:
  SPARK_REMOTE   a Spark Connect URL: --engine spark connects there instead of starting Spark""",
    ),
}


def describe(parsers: dict[str, argparse.ArgumentParser]) -> None:
    """Give the subcommands in ``HELP`` their description and examples (shown by ``--help``)."""
    for name, (description, epilog) in HELP.items():
        parser = parsers.get(name)
        if parser is None:
            continue
        parser.description = description
        parser.epilog = epilog
        parser.formatter_class = argparse.RawDescriptionHelpFormatter


def package_version() -> str:
    """The installed ccanalytics version ("unknown" when it is not installed).

    Examples
    --------
    >>> package_version().count(".") >= 1 or package_version() == "unknown"
    True
    """
    try:
        return version("ccanalytics")
    except PackageNotFoundError:
        return "unknown"
