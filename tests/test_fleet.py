"""The fleet: a lake of demo and adversarial stores, on polars and on Spark (fleet.md).

Every node's figures equal ``ccanalytics snapshot`` of its store at the same
``now``; the fleet's equal the snapshot of one store holding every node's calls
(request ids made unique per node); the two engines agree.  Average latencies
are float sums added in another order by each engine: equal to 1e-9 relative.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from polars.testing import assert_frame_equal

from ccanalytics.contract import DDL, create_store
from ccanalytics.demo import write_demo
from ccanalytics.errors import CCError
from ccanalytics.fleet import NO_CHAIN_NOTE, fleet_snapshot
from ccanalytics.fleet.engines import PolarsEngine
from ccanalytics.fleet.lake import export
from ccanalytics.store.store import open_store
from ccanalytics.units import DAY_MS, HOUR_MS, WEEK_MS, parse_now
from tests.support.stores import Case, StoreBuilder, cases

NOW = parse_now("2026-11-25T12:34:56.789Z")
ROOT = Path(__file__).resolve().parent.parent


def assert_close(got: Any, want: Any, where: str = "") -> None:
    """Equal JSON values; floats to 1e-9 relative (sums of latencies in another order).

    A percentile within 1 % (views.md): a store's 30d and 90d views take theirs from latency sketches.
    """
    if isinstance(want, float) and isinstance(got, float):
        tolerance = 0.01 if re.search(r"\.p\d\d_latency_ms$", where) else 1e-9
        assert math.isclose(got, want, rel_tol=tolerance), f"{where}: {got} != {want}"
    elif isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got!r} != {want!r}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


# -- the stores -------------------------------------------------------------


def _gamma(path: Path) -> None:
    """Bad rows, future rows, window edges, old days (read through rollups), a negative time."""
    b = StoreBuilder(str(path)).loose("calls", "events")
    b.setting("timezone", "America/New_York")
    for ts in (NOW - 40 * DAY_MS, NOW - 20 * DAY_MS + 17, NOW - 16 * DAY_MS, -5_000):
        b.call(ts, "seller", "shared", latency_ms=50.5, price_micro=2_000)
        b.call(ts + 1, "buyer", "tied", api_name="Gamma's old name", latency_ms=None)
    for ts in (NOW - WEEK_MS, NOW - WEEK_MS - 1, NOW - DAY_MS, NOW - DAY_MS - 1, NOW - 1, NOW - 47 * HOUR_MS):
        b.call(ts, "seller", "shared", 502 if ts % 2 else 200, latency_ms=float(ts % 997))
        b.call(ts, "buyer", "g-api", 200, latency_ms=0.0, api_name="G <b>api</b>")
    b.call(NOW - HOUR_MS, "buyer", "tied", api_name="Gamma's name", request_id="zzz", latency_ms=12.25)
    b.call(NOW, "seller", "shared")  # exists only after NOW
    b.call(NOW + HOUR_MS, "buyer", "g-api", api_name="Future name")
    b.call(NOW - 5, "admin", "g-api")  # bad role
    b.call(NOW - 6, "buyer", "g-api", 700)  # bad status
    b.call(NOW - 7, "buyer", "g-api", latency_ms=-1.0)
    b.call("yesterday", "buyer", "g-api")  # a time that is text
    b.call(NOW + 5, "buyer", "g-api", price_micro=-5)  # bad, but only after NOW
    b.call(NOW - 30 * DAY_MS, "buyer", "", request_id="old-bad")  # bad, in an old day
    b.api("shared", "Shared by gamma")
    b.event(NOW - 3 * DAY_MS).event(NOW - HOUR_MS, "error", "error", "boom <script>").event(NOW - 10, "x", "loud")
    b.event(NOW + 10, "startup")
    b.balance(NOW - 2 * HOUR_MS, 5_000_000, "1000000000000000").balance(NOW + HOUR_MS, 1, "1")
    b.backup(NOW - 31 * DAY_MS)
    b.write()


def _buyer_only(path: Path) -> None:
    b = StoreBuilder(str(path))
    for i in range(30):
        b.call(NOW - i * 3 * HOUR_MS - 11, "buyer", f"api-{i % 3}", 200 if i % 4 else 504, latency_ms=100.0 + i)
    b.call(NOW - HOUR_MS, "buyer", "tied", api_name="Buyer's name", request_id="aaa")
    for ts in (NOW - 30 * DAY_MS, NOW - 29 * DAY_MS, NOW - 2 * HOUR_MS):  # sums beyond 64 bits, old and recent
        b.call(ts, "buyer", "whale", price_micro=2**63 - 1)
    b.balance(NOW - DAY_MS, 900_000, "0")
    b.write()


def _delta(path: Path) -> None:
    """An apis table without its name column; an unknown time zone; seller calls in a half-hour zone fleet."""
    b = StoreBuilder(str(path)).drop_columns("apis", "name")
    b.setting("timezone", "Mars/Base").setting("auto_pause_enabled", "yes")
    for i in range(40):
        b.call(NOW - i * 5 * HOUR_MS, "seller", "shared", 200 if i % 5 else 500, latency_ms=float(10 + i * i))
    b.api("shared")
    b.write()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stores")
    paths = {name: folder / f"{name}.db" for name in ("alpha", "beta", "gamma", "empty", "buyer-only", "delta")}
    write_demo(paths["alpha"], seed=1, days=20, now_ms=NOW - 2 * HOUR_MS)
    write_demo(paths["beta"], seed=2, days=5, now_ms=NOW + 3 * DAY_MS, timezone="Asia/Kathmandu")
    _gamma(paths["gamma"])
    create_store(paths["empty"])
    _buyer_only(paths["buyer-only"])
    _delta(paths["delta"])
    return paths


@pytest.fixture(scope="module")
def lake(stores: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("lake")
    for path in stores.values():
        export(path, lake)  # --node defaults to the file's name
    return lake


def union_store(stores: dict[str, Path], path: Path, timezone: str) -> Path:
    """One store holding every node's valid calls (ids ``NODE/request_id``) and registered APIs."""
    con = sqlite3.connect(path)
    con.executescript(DDL)
    for node, store_path in sorted(stores.items()):
        store = open_store(store_path, cache=False)
        calls = store.calls.drop("ts").collect().with_columns(request_id=pl.lit(f"{node}/") + pl.col("request_id"))
        con.executemany(
            f"INSERT INTO calls ({', '.join(calls.columns)}) VALUES ({', '.join('?' * calls.width)})", calls.rows()
        )
        apis = store.apis.collect()
        con.executemany(
            f"INSERT OR IGNORE INTO apis ({', '.join(apis.columns)}) VALUES ({', '.join('?' * apis.width)})",
            apis.rows(),
        )
        store.close()
    con.execute("INSERT INTO settings VALUES ('timezone', ?)", (timezone,))
    con.commit()
    con.close()
    return path


# -- the engines --------------------------------------------------------------


@pytest.fixture(scope="session")
def spark_engine():
    from ccanalytics.fleet.engines import SparkEngine

    return SparkEngine("local[2]")  # one session for the whole run: it takes up to a minute to start


@pytest.fixture(params=["polars", pytest.param("spark", marks=[pytest.mark.spark, pytest.mark.slow])])
def engine(request: pytest.FixtureRequest):
    return PolarsEngine() if request.param == "polars" else request.getfixturevalue("spark_engine")


_RESULTS: dict[tuple, dict] = {}


def fleet_of(lake: Path, engine, now: int = NOW, timezone: str = "UTC") -> dict:
    key = (str(lake), engine.name, now, timezone)
    if key not in _RESULTS:
        _RESULTS[key] = fleet_snapshot(lake, now, engine=engine, timezone=timezone)
    return _RESULTS[key]


# -- the tests --------------------------------------------------------------


def test_every_node_equals_its_own_snapshot(lake: Path, stores: dict[str, Path], engine) -> None:
    result = fleet_of(lake, engine)
    assert sorted(result["nodes"]) == sorted(stores)
    for node, path in stores.items():
        with open_store(path, cache=False) as store:
            want = store.snapshot(now=NOW).to_dict()
        assert_close(result["nodes"][node], want, node)


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Kolkata"])
def test_the_fleet_equals_one_store_holding_every_nodes_calls(
    lake: Path, stores: dict[str, Path], engine, timezone: str, tmp_path: Path
) -> None:
    fleet = fleet_of(lake, engine, timezone=timezone)["fleet"]
    with open_store(union_store(stores, tmp_path / "all.db", timezone), cache=False) as store:
        want = store.snapshot(now=NOW).to_dict()
    assert fleet["mode"] == want["mode"] and fleet["timezone"] == timezone and fleet["nodes"] == len(stores)
    for role in ("buyer", "seller"):
        added = {"total_calls", "total_revenue_usdc"} if role == "seller" else set()
        got = {k: v for k, v in fleet[role].items() if k not in added}
        got["breakdown"] = [{k: v for k, v in r.items() if k != "nodes"} for r in fleet[role]["breakdown"]]
        assert_close(got, want[role], role)
    assert fleet["seller"]["total_calls"] == sum(row["calls"] for row in want["seller"]["breakdown"])
    # Both the tie between nodes at one time and the names registered by nodes are resolved as one store would.
    names = {row["api_id"]: row["api_name"] for row in fleet["buyer"]["breakdown"]}
    assert names["tied"] == "Gamma's name"
    seller = {row["api_id"]: row for row in fleet["seller"]["breakdown"]}
    assert seller["shared"]["api_name"] == "Shared by gamma" and seller["shared"]["nodes"] == 2


def test_fleet_percentiles_are_within_one_percent_of_nearest_rank(lake: Path, stores: dict[str, Path], engine) -> None:
    fleet = fleet_of(lake, engine)["fleet"]
    for role in ("buyer", "seller"):
        latencies = []
        for path in stores.values():
            with open_store(path, cache=False) as store:
                rows = store.calls.filter(
                    (pl.col("role") == role) & pl.col("ts_ms").is_between(NOW - DAY_MS, NOW, closed="left")
                )
                latencies += rows.select("latency_ms").collect()["latency_ms"].drop_nulls().to_list()
        latencies.sort()
        for q in (50, 95, 99):
            exact = latencies[math.ceil(q / 100 * len(latencies)) - 1]
            assert abs(fleet[role][f"p{q}_latency_ms_24h"] - exact) <= 0.01 * exact, (role, q)


def test_nodes_are_ranked_by_revenue_and_by_error_rate(lake: Path, engine) -> None:
    result = fleet_of(lake, engine)
    nodes, rankings = result["nodes"], result["fleet"]["rankings"]
    by_revenue = rankings["by_revenue"]
    assert sorted(e["node"] for e in by_revenue) == sorted(nodes)
    for entry in by_revenue:
        assert entry["revenue_24h_usdc"] == nodes[entry["node"]]["seller"]["revenue_24h_usdc"]
    revenue = [float(e["revenue_24h_usdc"]) for e in by_revenue]
    assert revenue == sorted(revenue, reverse=True) and revenue[0] > 0
    rates = [e["error_rate_24h"] for e in rankings["by_error_rate"]]
    known = [r for r in rates if r is not None]
    assert known == sorted(known, reverse=True) and rates[: len(known)] == known  # nodes without calls last
    empty = next(e for e in rankings["by_error_rate"] if e["node"] == "empty")
    assert empty["calls_24h"] == 0 and empty["error_rate_24h"] is None


@pytest.mark.spark
@pytest.mark.slow
def test_the_two_engines_agree(lake: Path, spark_engine) -> None:
    polars_result = fleet_of(lake, PolarsEngine())
    spark_result = fleet_of(lake, spark_engine)
    assert polars_result["engine"] == "polars" and spark_result["engine"] == "spark"
    assert_close(spark_result["nodes"], polars_result["nodes"], "nodes")
    assert_close(spark_result["fleet"], polars_result["fleet"], "fleet")


@pytest.mark.parametrize(
    "now", [NOW - 40 * DAY_MS, NOW - 16 * DAY_MS + 3 * HOUR_MS, NOW // HOUR_MS * HOUR_MS, NOW + 10 * DAY_MS]
)
def test_nodes_equal_their_snapshots_at_other_moments(lake: Path, stores: dict[str, Path], now: int) -> None:
    """Before, across and after the day where raw calls take over from rollups; on a whole hour."""
    result = fleet_snapshot(lake, now, engine=PolarsEngine())
    for node, path in stores.items():
        with open_store(path, cache=False) as store:
            assert_close(result["nodes"][node], store.snapshot(now=now).to_dict(), node)


# -- export -------------------------------------------------------------------


def _files(lake: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(lake)): (p.read_bytes(), p.stat().st_mtime_ns) for p in lake.rglob("*") if p.is_file()}


def test_export_twice_changes_nothing(stores: dict[str, Path], tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    export(stores["gamma"], lake)
    export(stores["alpha"], lake)
    before = _files(lake)
    again = export(stores["gamma"], lake)
    export(stores["alpha"], lake)
    assert again.written == 0
    assert _files(lake) == before


def test_the_lake_layout_dtypes_and_counted_bad_rows(lake: Path) -> None:
    days = sorted(p.name for p in (lake / "calls" / "node=gamma").iterdir())
    assert days[0] == "day=1969-12-31" and all(d.startswith("day=") for d in days)
    frame = pl.read_parquet(lake / "calls" / "node=alpha" / days[-1] / "data.parquet")
    assert dict(frame.schema) == {
        "request_id": pl.String, "ts_ms": pl.Int64, "role": pl.String, "api_id": pl.String, "api_name": pl.String,
        "status_code": pl.Int64, "latency_ms": pl.Float64, "price_micro": pl.Int64, "revenue_micro": pl.Int64,
        "demo": pl.Int64, "tx_hash": pl.String, "delivery": pl.String, "consumer": pl.String,
    }  # fmt: skip
    issues = pl.read_parquet(lake / "issues" / "node=gamma" / "**" / "*.parquet")
    calls = issues.filter(pl.col("table") == "calls")
    assert calls["rows"].sum() == 6  # all bad calls, whenever they happened
    assert pl.read_parquet(lake / "settings" / "node=delta" / "data.parquet")["key"].to_list() == [
        "auto_pause_enabled",
        "timezone",
    ]


def test_a_rerun_adds_new_days_and_rewrites_only_the_last_day(tmp_path: Path) -> None:
    day = NOW // DAY_MS * DAY_MS
    path = Path(StoreBuilder(str(tmp_path / "n.db")).call(day - DAY_MS + 5).call(day + 5).write())
    lake = tmp_path / "lake"
    export(path, lake)
    first_day = lake / "calls" / "node=n" / "day=2026-11-24" / "data.parquet"
    kept = first_day.stat().st_mtime_ns
    con = sqlite3.connect(path)
    rows = [("late", day - DAY_MS + 9), ("same-day", day + 9), ("next-day", day + DAY_MS + 1)]
    con.executemany(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, 'buyer', 'a', 200)", rows
    )
    con.commit()
    con.close()
    export(path, lake)
    ids = {
        d.name: sorted(pl.read_parquet(d / "data.parquet")["request_id"].to_list())
        for d in (lake / "calls" / "node=n").iterdir()
    }
    assert ids == {
        "day=2026-11-24": ["req-0001"],
        "day=2026-11-25": ["req-0002", "same-day"],
        "day=2026-11-26": ["next-day"],
    }
    assert first_day.stat().st_mtime_ns == kept  # days before the last are never rewritten


def _visible_files_are_whole(lake: Path) -> int:
    files = [p for p in lake.rglob("*.parquet")]
    for p in files:
        pl.read_parquet(p)  # a partial file would not read
    hidden = [p for p in lake.rglob("*") if p.is_file() and p.name.startswith(".")]
    assert all(p.name.endswith(".tmp") for p in hidden)
    return len(files)


@pytest.mark.slow
def test_a_killed_export_leaves_no_visible_partial_file(tmp_path: Path) -> None:
    store = tmp_path / "big.db"
    write_demo(store, seed=3, days=30, now_ms=NOW)
    lake = tmp_path / "lake"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "ccanalytics", "export", "--db", str(store), "--to", str(lake)]
    killed = 0
    for delay in (0.6, 0.9, 1.2, 1.5, 1.8, 2.2):
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        process.wait()
        _visible_files_are_whole(lake)
    assert killed, "the export always finished before it could be killed"
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert not [p for p in lake.rglob(".*") if p.is_file()]  # a complete run clears what killed runs left
    fresh = tmp_path / "fresh"
    export(store, fresh, node="big")
    files = sorted(str(p.relative_to(lake)) for p in lake.rglob("*.parquet"))
    assert files == sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*.parquet"))
    for name in files:  # the same rows (latency sums to the last bits polars' order of addition leaves)
        assert_frame_equal(
            pl.read_parquet(lake / name), pl.read_parquet(fresh / name), check_exact=False, rel_tol=1e-12
        )


def test_one_line_errors(tmp_path: Path, stores: dict[str, Path]) -> None:
    with pytest.raises(CCError, match="holds no nodes"):
        fleet_snapshot(tmp_path, NOW)
    with pytest.raises(CCError, match="no such folder"):
        fleet_snapshot(tmp_path / "missing", NOW)
    with pytest.raises(CCError, match="node name"):
        export(stores["empty"], tmp_path / "lake", node="../evil")
    with pytest.raises(CCError, match="not a known time zone"):
        fleet_snapshot(tmp_path, NOW, timezone="Mars/Base")
    (tmp_path / "junk.db").write_text("not a store")
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "export", "--db", str(tmp_path / "junk.db"), "--to", str(tmp_path / "l")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "not a SQLite database" in result.stderr


@pytest.mark.parametrize("range_name", ["24h", "30d"])
def test_ranged_views_of_nodes_and_fleet(lake: Path, stores: dict[str, Path], range_name: str, tmp_path: Path) -> None:
    result = fleet_snapshot(lake, NOW, engine=PolarsEngine(), range_name=range_name)
    for node in ("alpha", "gamma", "empty"):
        with open_store(stores[node], cache=False) as store:
            assert_close(result["nodes"][node], store.snapshot(now=NOW, range=range_name).to_dict(), node)
    with open_store(union_store(stores, tmp_path / "all.db", "UTC"), cache=False) as store:
        assert_close(result["fleet"]["view"], store.snapshot(now=NOW, range=range_name).to_dict()["view"], "view")


def test_the_cli_prints_the_fleet_json(lake: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "fleet", "--lake", str(lake), "--now", "2026-11-25T12:34:56.789Z"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    printed = json.loads(result.stdout)
    assert_close(printed, json.loads(json.dumps(fleet_of(lake, PolarsEngine()))))


def test_import_ccanalytics_needs_neither_narwhals_nor_pyspark() -> None:
    code = "import sys, ccanalytics; print(sorted({'narwhals', 'pyspark'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_the_fleet_benchmark_reports_polars_and_duckdb_on_the_same_lake(tmp_path: Path) -> None:
    sizes = ["--nodes", "3", "--days", "4", "--apis", "2", "--out", str(tmp_path / "lake")]
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.fleet", *sizes, "--engines", "polars,duckdb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr  # it refuses to report engines that count other calls
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| polars", "| duckdb"))]
    assert len(rows) == 2


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases())
def test_a_node_equals_its_snapshot_on_adversarial_stores(case: Case) -> None:
    """Any store the snapshot reads (loose tables, views, bad rows, odd zones and moments) exports and reads back."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "node.db")
        case.spec.write(path)
        with open_store(path, cache=False) as store:
            want = store.snapshot(now=case.now_ms, events=case.events).to_dict()
        export(path, os.path.join(tmp, "lake"))
        got = fleet_snapshot(os.path.join(tmp, "lake"), case.now_ms, events=case.events)["nodes"]["node"]
        if case.spec.settings.get("rpc_url"):  # the fleet never reads a chain: it says so instead
            assert got["balances"]["note"] == NO_CHAIN_NOTE
            got["balances"]["note"] = want["balances"]["note"]
        assert_close(got, want, "node")
