"""Write a big store for the benchmarks: N calls spread over a year, as a busy node would have.

    python -m benchmarks.generate --calls 10000000 benchmarks/data/10m.db

The rows are generated inside SQLite (a recursive CTE), so 10 M calls take
about a minute.  They keep the contract: a dozen APIs with their own prices
and latencies, two thirds served (seller) and one third bought, ~3 % errors,
~8 % free demo calls, a settlement hash on paid calls, a consumer hash on
served ones, and a daily rhythm (more calls by day than by night).  Times
increase with the rowid, as in a store that a control center appends to.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

from ccanalytics.contract import create_store

YEAR_MS = 365 * 86_400_000
END_MS = 1_795_608_000_000  # 2026-11-25T12:00:00Z: benchmarks replay this moment

# api_id, name, role, price_micro, base latency ms
APIS = [
    ("bb-sse-ticker", "BB Ticker Stream (SSE)", "seller", 500, 40),
    ("bb-graphql", "BB GraphQL Gateway", "seller", 2000, 160),
    ("bb-orderbook", "BB Order Book Snapshot", "seller", 1000, 90),
    ("bb-candles-v1", "BB Candles v1", "seller", 800, 120),
    ("wx-current", "Weather: Current Conditions", "buyer", 300, 120),
    ("wx-forecast-7d", "Weather: 7-Day Forecast", "buyer", 800, 240),
    ("geo-forward", "Geocoding", "buyer", 200, 80),
    ("geo-reverse", "Reverse Geocoding", "buyer", 250, 95),
    ("llm-summarize", "LLM Summarize", "buyer", 8000, 2600),
    ("llm-embed", "Text Embeddings", "buyer", 400, 310),
    ("ocr-receipt", "Receipt OCR", "buyer", 5000, 1800),
    ("wallet-screen", "Wallet Risk Screening", "buyer", 10000, 650),
]


def generate(path: Path, calls: int, end_ms: int = END_MS) -> None:
    create_store(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous = OFF")
    con.execute("CREATE TEMP TABLE api (k INTEGER PRIMARY KEY, api_id, name, role, price, latency)")
    con.executemany("INSERT INTO temp.api VALUES (?, ?, ?, ?, ?, ?)", [(i, *a) for i, a in enumerate(APIS)])
    sellers = [(api_id, name, price, end_ms - YEAR_MS) for api_id, name, role, price, _ in APIS if role == "seller"]
    con.executemany("INSERT INTO apis VALUES (?, ?, ?, ?, 1)", sellers)
    start = end_ms - YEAR_MS
    step = YEAR_MS / calls
    # The k-th call: its API from a hash of k (sellers twice as likely), a time that
    # advances with k and bunches up by day (a sine over 24 h), status and price.
    # The hash is arithmetic, not random(): SQLite may evaluate a subquery's
    # random() again at each use, and the API would not match the status.
    con.execute(
        f"""
        WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k < {calls - 1})
        INSERT INTO calls
        SELECT
            printf('%08x-%04x-7%03x-%04x-%012x', c.k, abs(random()) % 65536, abs(random()) % 4096,
                   abs(random()) % 65536, abs(random()) % 281474976710656),
            {start} + CAST(c.k * {step} AS INTEGER)
                + CAST(1800000 * sin(c.k * {step} / 86400000.0 * 6.283185307) AS INTEGER),
            api.role, api.api_id, api.name,
            CASE WHEN s % 100 < 3 THEN (CASE s % 3 WHEN 0 THEN 502 WHEN 1 THEN 504 ELSE 402 END) ELSE 200 END,
            CASE WHEN l % 997 = 0 THEN NULL ELSE api.latency * (0.5 + (l % 1000) / 1000.0) END,
            CASE WHEN s % 100 < 3 OR s % 100 >= 92 THEN 0 ELSE api.price END,
            CASE WHEN api.role = 'seller' AND NOT (s % 100 < 3 OR s % 100 >= 92) THEN api.price * 95 / 100 ELSE 0 END,
            CASE WHEN s % 100 >= 92 THEN 1 ELSE 0 END,
            CASE WHEN s % 100 < 3 OR s % 100 >= 92 THEN NULL ELSE '0x' || lower(hex(randomblob(32))) END,
            CASE l % 3 WHEN 0 THEN 'p2p' WHEN 1 THEN 'cloud-relay' ELSE 'onchain-relay' END,
            CASE WHEN api.role = 'seller' THEN lower(hex(randomblob(32))) END
        FROM (
            SELECT k,
                   (k * 2654435761 + 40503) % 4294967296 / 65536 AS a,      -- the API
                   (k * 2246822519 + 1013904223) % 4294967296 / 4096 AS s,  -- status, price, demo
                   (k * 3266489917 + 12345) % 4294967296 / 1024 AS l        -- latency, delivery
            FROM n
        ) AS c
        JOIN temp.api AS api ON api.k = CASE WHEN c.a % 3 < 2 THEN c.a % 4 ELSE 4 + (c.a / 3) % 8 END
        """
    )
    con.executemany(
        "INSERT INTO events (ts_ms, type, severity, message) VALUES (?, ?, ?, ?)",
        [(end_ms - d * 86_400_000, "catalog_sync", "info", "Catalog synced") for d in range(365)]
        + [(end_ms - 3 * 3_600_000, "startup", "info", "Control center started")],
    )
    con.executemany(
        "INSERT INTO balance_snapshots VALUES (?, ?, ?)",
        [(end_ms - h * 3_600_000, 50_000_000 + h * 1000, "4200000000000000") for h in range(24 * 30)],
    )
    con.execute("INSERT INTO backups VALUES (?, 'backup.db', 1048576)", (end_ms - 3 * 86_400_000,))
    con.execute("INSERT INTO settings VALUES ('timezone', 'Europe/Berlin')")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--calls", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.path.exists():
        sys.exit(f"{args.path}: already exists")
    args.path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    generate(args.path, args.calls)
    size = args.path.stat().st_size / 1e9
    print(f"wrote {args.calls:,} calls to {args.path} ({size:.2f} GB) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
