"""Benchmark: the fleet snapshot of a generated lake of many nodes' rollups, on polars, Spark and DuckDB.

    python -m benchmarks.fleet --nodes 100 --days 120 --apis 10 --out /tmp/fleet-lake

writes a lake as ``ccanalytics export`` lays it out — per node and UTC day the
hourly tallies (``rollups``), the day's latest names (``names``) and latency
sketch (``latency``), plus each node's settings and completion mark — with
``calls`` per tally drawn so the lake holds about ``--calls-per-row`` × rows
calls, then times:

- ``tally_lake`` (the engine's part: merging every rollup) and the whole
  ``fleet_snapshot`` (plus every node's and the fleet's assembly) on polars;
- the same on Spark ``local[*]`` (the session's start reported apart);
- DuckDB running the same merges as SQL over the same Parquet files.

Each run is a fresh process (its peak RSS is reported).  The figures go in
docs/performance.md, with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from tests.support.procs import peak_mb

ROOT = Path(__file__).resolve().parent.parent
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def generate(out: Path, nodes: int, days: int, apis: int, calls_per_row: int, seed: int = 0) -> dict[str, int]:
    """Write the lake; return its size (rows, calls, files)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = calls = files = 0
    hours = pl.DataFrame({"h": list(range(24))})
    keys = pl.DataFrame({"api": list(range(apis))}).join(pl.DataFrame({"role": ["buyer", "seller"]}), how="cross")
    day_frame = hours.join(keys, how="cross")
    for node in range(nodes):
        name = f"node-{node:05d}"
        frame = (
            pl.DataFrame({"d": list(range(days))})
            .join(day_frame, how="cross")
            .with_columns(
                hour=START_MS + pl.col("d") * DAY_MS + pl.col("h") * HOUR_MS,
                api_id=pl.format("api-{}", pl.col("api")),
                day=pl.from_epoch(START_MS // 1000 + pl.col("d") * 86_400, time_unit="s").dt.date().cast(pl.String),
            )
            .with_columns(
                calls=((pl.col("hour") * 7919 + node * 104_729 + pl.col("api") * 31).hash(seed) % (2 * calls_per_row))
                .cast(pl.Int64)
                .add(1)
            )
            .with_columns(
                success=pl.col("calls") - pl.col("calls") // 50,
                latency_n=pl.col("calls"),
                latency_sum=pl.col("calls").cast(pl.Float64) * (80.0 + pl.col("api") * 10),
                price_micro=pl.col("calls") * 1000,
                revenue_micro=pl.when(pl.col("role") == "seller").then(pl.col("calls") * 950).otherwise(0),
            )
            .with_columns(pl.col("price_micro", "revenue_micro").cast(pl.Decimal(38, 0)))  # as export writes them
        )
        rows += frame.height
        calls += int(frame["calls"].sum())
        tallies = frame.select(
            "day", "role", "api_id", "hour", "calls", "success", "latency_sum", "latency_n", "price_micro",
            "revenue_micro",
        )  # fmt: skip
        names = (
            frame.group_by("day", "api_id")
            .agg(ts_ms=pl.col("hour").max() + 1)
            .with_columns(request_id=pl.format("{}-{}", pl.col("api_id"), pl.col("ts_ms")), api_name=pl.col("api_id"))
        )
        latency = (
            frame.group_by("day", "role", "api_id")
            .agg(n=pl.col("calls").sum())
            .join(pl.DataFrame({"key": list(range(430, 450))}, schema={"key": pl.Int32}), how="cross")
            .with_columns(n=pl.col("n") // 20)
        )
        for dataset, data in (("rollups", tallies), ("names", names), ("latency", latency)):
            for (day,), part in data.partition_by("day", as_dict=True, include_key=False).items():
                folder = out / dataset / f"node={name}" / f"day={day}"
                folder.mkdir(parents=True, exist_ok=True)
                part.write_parquet(folder / "data.parquet")
                files += 1
        for dataset, data in (
            ("settings", pl.DataFrame(schema={"key": pl.String, "value": pl.String})),
            ("nodes", pl.DataFrame({"last_day": [tallies["day"].max()]})),
        ):
            folder = out / dataset / f"node={name}"
            folder.mkdir(parents=True, exist_ok=True)
            data.write_parquet(folder / "data.parquet")
    return {"nodes": nodes, "days": days, "rollup_rows": rows, "calls": calls, "files": files}


def run_engine(lake: Path, engine_name: str, now: int) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    from ccanalytics.fleet import fleet_snapshot, tally_lake
    from ccanalytics.fleet.engines import engine

    started = time.perf_counter()
    chosen = engine(engine_name)
    session_s = time.perf_counter() - started
    t0 = time.perf_counter()
    tallied = tally_lake(chosen, lake, now)
    tally_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = fleet_snapshot(lake, now, engine=chosen)
    total_s = time.perf_counter() - t0
    return {
        "session_s": session_s,
        "tally_s": tally_s,
        "fleet_s": total_s,
        "tally_rows": tallied.tallies.height,
        "calls": result["fleet"]["buyer"]["total_calls"] + result["fleet"]["seller"]["total_calls"],
        "peak_mb": peak_mb(os.getpid()) or 0.0,
    }


def run_duckdb(lake: Path, now: int) -> dict[str, float]:
    """The same merges as ``tally_lake``, as DuckDB SQL over the same files."""
    import duckdb

    from ccanalytics.fleet import cut_day
    from ccanalytics.metrics.ledger import REACH_MS

    cut = cut_day(now, REACH_MS)
    con = duckdb.connect()
    con.execute("SET threads TO 2")

    def scan(name: str) -> str:
        return f"read_parquet('{lake}/{name}/node=*/day=*/*.parquet', hive_partitioning = true) WHERE day < '{cut}'"

    queries = {
        "tallies": f"""SELECT node, role, api_id, sum(calls) AS calls, sum(success) AS success,
            sum(latency_sum) AS latency_sum, sum(latency_n) AS latency_n, sum(price_micro) AS price_micro,
            sum(revenue_micro) AS revenue_micro FROM {scan("rollups")} GROUP BY ALL""",
        "names": f"""SELECT node, api_id, arg_max(api_name, (ts_ms, request_id)) AS api_name, max(ts_ms) AS ts_ms
            FROM {scan("names")} GROUP BY ALL""",
        "latency": f"SELECT node, role, api_id, key, sum(n) AS n FROM {scan('latency')} GROUP BY ALL",
    }
    t0 = time.perf_counter()
    results = {name: pl.DataFrame(con.execute(sql).to_arrow_table()) for name, sql in queries.items()}
    tally_s = time.perf_counter() - t0
    return {
        "session_s": 0.0,
        "tally_s": tally_s,
        "fleet_s": float("nan"),
        "tally_rows": results["tallies"].height,
        "calls": int(results["tallies"]["calls"].sum()),
        "peak_mb": peak_mb(os.getpid()) or 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--apis", type=int, default=10)
    parser.add_argument("--calls-per-row", type=int, default=175)
    parser.add_argument("--out", type=Path, default=Path("/tmp/ccanalytics-fleet-lake"))
    parser.add_argument("--engines", default="polars,spark,duckdb")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # internal: one measurement in this process
    args = parser.parse_args()
    now = START_MS + (args.days + 20) * DAY_MS  # every rollup day lies before the cut: all history is rollups
    if args.only:
        measure = run_duckdb(args.out, now) if args.only == "duckdb" else run_engine(args.out, args.only, now)
        print(json.dumps(measure))
        return
    t0 = time.perf_counter()
    size = generate(args.out, args.nodes, args.days, args.apis, args.calls_per_row)
    print(f"generated {json.dumps(size)} in {time.perf_counter() - t0:.0f} s", flush=True)
    print("| engine | session start | tally (merge the rollups) | whole fleet snapshot | peak RSS | calls |")
    print("|---|---:|---:|---:|---:|---:|")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in args.engines.split(","):
        command = [sys.executable, __file__, "--only", name, "--out", str(args.out), "--days", str(args.days)]
        answer = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        m = json.loads(answer.stdout.strip().splitlines()[-1])
        if m["calls"] != size["calls"]:  # the sides must do the same work: refuse to time a wrong answer
            sys.exit(f"{name} counted {m['calls']:,} calls, not the lake's {size['calls']:,}")
        fleet = "—" if m["fleet_s"] != m["fleet_s"] else f"{m['fleet_s']:.1f} s"
        print(
            f"| {name} | {m['session_s']:.1f} s | {m['tally_s']:.1f} s | {fleet} | {m['peak_mb']:.0f} MB |"
            f" {m['calls']:,} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
