"""A store filled by `ingest` gives the same snapshot as one whose rows were written directly."""

from __future__ import annotations

import random
import sqlite3

import polars as pl
import pytest

import ccanalytics as cc
from ccanalytics.cli import main
from ccanalytics.contract import create_store
from tests.support.reference import assert_snapshots_equal, reference_snapshot

NOW = 1_795_608_000_000
HOUR = 3_600_000


def calls(n: int, seed: int) -> pl.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        role = rng.choice(["buyer", "seller"])
        price = rng.choice([0, 100, 2_500, 10_000])
        rows.append(
            {
                "request_id": f"req-{seed}-{i:05d}",
                "ts_ms": NOW - rng.randrange(0, 40 * 24 * HOUR) + rng.choice([0, 0, 0, 5 * HOUR]),  # a few future
                "role": role,
                "api_id": rng.choice(["wx-current", "geo-forward", "bb-graphql"]),
                "api_name": rng.choice([None, "Weather", "Geocoding", "GraphQL"]),
                "status_code": rng.choice([200, 200, 200, 201, 402, 502, 504]),
                "latency_ms": rng.choice([None, round(rng.uniform(5, 3000), 3)]),
                "price_micro": price,
                "revenue_micro": price * 95 // 100 if role == "seller" else 0,
                "demo": int(price == 0 and rng.random() < 0.5),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"latency_ms": pl.Float64, "api_name": pl.String})


WRITERS = {
    "csv": lambda frame, path: frame.write_csv(path),
    "ndjson": lambda frame, path: frame.write_ndjson(path),
    "parquet": lambda frame, path: frame.write_parquet(path),
}


@pytest.mark.parametrize("fmt", list(WRITERS))
def test_an_ingested_store_has_the_snapshot_of_its_rows(tmp_path, fmt):
    frame = calls(400, seed=len(fmt))
    source = tmp_path / f"calls.{fmt}"
    WRITERS[fmt](frame, source)
    ingested = tmp_path / "ingested.db"
    assert main(["ingest", "--db", str(ingested), str(source)]) == 0

    direct = tmp_path / "direct.db"
    create_store(direct)
    with sqlite3.connect(direct) as con:
        con.executemany(
            f"INSERT INTO calls ({', '.join(frame.columns)}) VALUES ({', '.join('?' * frame.width)})",
            frame.rows(),
        )

    with cc.open_store(ingested) as a, cc.open_store(direct) as b:
        snapshot, direct_snapshot = a.snapshot(now=NOW).to_dict(), b.snapshot(now=NOW).to_dict()
    # The same rows in another order: averages may differ in the last bits of a double.
    assert snapshot.keys() == direct_snapshot.keys()
    assert_snapshots_equal(snapshot, direct_snapshot)
    assert_snapshots_equal(snapshot, reference_snapshot(str(direct), NOW))
    counted = sum(row["calls"] for role in ("buyer", "seller") for row in snapshot[role]["breakdown"])
    assert counted > 300  # most calls were added and counted (a few lie in the future)
