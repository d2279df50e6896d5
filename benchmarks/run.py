"""ccanalytics against the SQL peer, side by side in one run, on one store.

    python -m benchmarks.generate --calls 10000000 benchmarks/data/10m.db
    python -m benchmarks.run benchmarks/data/10m.db

Figures (quality.md): the peer's refresh (every panel one SQL query); a warm
refresh after 1 000 new calls; the first snapshot in a new process with the
cache built and with no cache; the resident memory of one process that opens
the store and refreshes; the same for the ranged views ``--ranges`` (7d, 30d and
90d) against the peer computing each view in SQL.  Times are medians of ``--repeat`` runs; ratios are
what the budgets are about, since these machines are noisy.  Each "new
process" figure runs in its own Python process and is timed inside it, from
``open_store`` to the snapshot, so the interpreter's start is not counted.

The benchmark first checks that both sides compute the same snapshot.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.generate import END_MS
from benchmarks.peer import peer_refresh, peer_view
from ccanalytics.allocator import prompt_env

NEW_CALLS = 1_000
RANGED = ("7d", "30d", "90d")  # quality.md's ranged views
_PERCENTILE = re.compile(r"p\d\d_latency_ms")

# One process: open the store, take one snapshot, report the time and its own peak RSS (``procs.peak_mb``).
_FIRST = """
import json, os, sys, time
import ccanalytics as cc
from tests.support.procs import peak_mb
t = time.perf_counter()
store = cc.open_store(sys.argv[1])
store.snapshot(now=int(sys.argv[2]))
print(json.dumps({"s": time.perf_counter() - t, "rss_mb": peak_mb(os.getpid())}))
"""

# One process: a dashboard's life — open, then refresh after each batch of new calls.
_WARM = """
import json, os, sqlite3, sys, time, uuid
import ccanalytics as cc
from tests.support.procs import peak_mb
path, now, rounds, new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
view = {"range": sys.argv[5]} if len(sys.argv) > 5 else {}  # views.md: a ranged view's refresh
store = cc.open_store(path)
store.snapshot(now=now, **view)
writer = sqlite3.connect(path)
times = []
for r in range(rounds):
    now += 30_000
    writer.executemany(
        "INSERT INTO calls (request_id, ts_ms, role, api_id, api_name, status_code, latency_ms, price_micro,"
        " revenue_micro) VALUES (?, ?, 'seller', 'bb-graphql', 'BB GraphQL Gateway', 200, 150.0, 2000, 1900)",
        [(str(uuid.uuid4()), now - 30_000 + i * 30) for i in range(new)],
    )
    writer.commit()
    time.sleep(0.3)  # a refresh interval: the background count of the previous refresh finishes
    t = time.perf_counter()
    store.snapshot(now=now, **view)
    times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "rss_mb": peak_mb(os.getpid())}))
"""


def _python(code: str, *args: object, env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode:
        raise SystemExit(result.stderr)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _calls(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute("SELECT count(*) FROM calls").fetchone()[0]


def _same(a: object, b: object, tolerance: float = 1e-9) -> bool:
    """Equal, floats within a relative 1e-9 (SQLite and polars add in different orders).

    Percentiles (``p50_latency_ms``…) within 1 %, as views.md allows (a day
    range's come from latency sketches).  Only the peer's figures are
    compared: in the default snapshot it does not compute views.md's
    additions (percentiles, previous periods, spike flags), so it does less
    work than ccanalytics and the ratios are conservative.
    """
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=tolerance)
    if isinstance(a, dict) and isinstance(b, dict):
        return b.keys() <= a.keys() and all(_same(a[k], b[k], 0.01 if _PERCENTILE.match(k) else 1e-9) for k in b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _agree(path: Path, now: int, peer: dict) -> None:
    import ccanalytics as cc

    with cc.open_store(path, cache=False) as store:
        ours = store.snapshot(now=now).to_dict()
    for key in ("mode", "uptime_s", "buyer", "seller", "events"):
        if not _same(ours[key], peer[key]):
            raise SystemExit(f"ccanalytics and the peer disagree on {key!r}: the benchmark would compare nothing")


def _agree_view(path: Path, now: int, range_name: str, peer: dict) -> None:
    import ccanalytics as cc

    with cc.open_store(path, cache=False) as store:
        ours = store.snapshot(now=now, range=range_name).to_dict()["view"]
    if not _same(ours, peer):
        raise SystemExit(
            f"ccanalytics and the peer disagree on the {range_name} view: the benchmark would compare nothing"
        )


def run(path: Path, repeat: int, rounds: int, ranges: tuple[str, ...] = RANGED) -> dict:
    now = END_MS
    # The peer's timed answers are also what ours is checked against (each is one whole computation).
    peer_runs = [_timed(peer_refresh, str(path), now) for _ in range(repeat)]
    peer = [seconds for seconds, _ in peer_runs]
    _agree(path, now, peer_runs[0][1])
    with tempfile.TemporaryDirectory() as cache:
        # As every `ccanalytics` process (the command line, serve, its kernels) runs: ``ccanalytics.allocator``.
        env = {**os.environ, **prompt_env(os.environ), "CCANALYTICS_CACHE_DIR": cache}
        cold = []
        for _ in range(repeat):
            for stale in Path(cache).iterdir():
                stale.unlink()
            cold.append(_python(_FIRST, path, now, env=env))
        cached = [_python(_FIRST, path, now, env=env) for _ in range(repeat)]
        # A warm process appends to the store: each works on its own copy (the 90d one would otherwise
        # start with the default run's calls after its `now`).
        warm = _warm(path, now, rounds, repeat, env)
        views: dict[str, float] = {}
        for name in ranges:  # quality.md: a ranged view's refresh against the peer computing the same view
            peer_runs = [_timed(peer_view, str(path), now, name) for _ in range(repeat)]
            _agree_view(path, now, name, peer_runs[0][1])
            warm_view = _warm(path, now, rounds, repeat, env, name)
            views |= {
                f"peer_{name}_s": statistics.median(seconds for seconds, _ in peer_runs),
                f"warm_{name}_s": statistics.median(warm_view["times"]),
                f"warm_{name}_max_s": max(warm_view["times"]),
                f"warm_{name}_runs_s": warm_view["medians"],
                f"rss_{name}_mb": warm_view["rss_mb"],
            }
    return {
        **views,
        "ranges": list(ranges),
        "calls": _calls(path),
        "size_gb": path.stat().st_size / 1e9,
        "peer_s": statistics.median(peer),
        "first_s": statistics.median(r["s"] for r in cold),
        "cached_s": statistics.median(r["s"] for r in cached),
        "warm_s": statistics.median(warm["times"]),
        "warm_max_s": max(warm["times"]),
        "warm_runs_s": warm["medians"],
        "rounds": rounds,
        "rss_first_mb": max(r["rss_mb"] for r in cold),
        "rss_warm_mb": warm["rss_mb"],
    }


def _warm(path: Path, now: int, rounds: int, repeat: int, env: dict[str, str], *view: str) -> dict:
    """``repeat`` dashboards' lives, each in its own process on a fresh copy of the store (it appends), no cache.

    The refreshes of all of them are pooled (the median is over ``repeat × rounds`` refreshes), and the
    memory is the largest peak: one process's life depends on the machine's state as it runs.
    """
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / path.name
            _copy_store(path, copy)
            runs.append(_python(_WARM, copy, now, rounds, NEW_CALLS, *view, env={**env, "CCANALYTICS_CACHE_DIR": ""}))
    return {
        "times": [t for r in runs for t in r["times"]],
        "medians": [statistics.median(r["times"]) for r in runs],
        "rss_mb": max(r["rss_mb"] for r in runs),
    }


def _copy_store(source: Path, target: Path) -> None:
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    with sqlite3.connect(target) as con:
        con.execute("PRAGMA journal_mode=WAL")


def _timed(function, *args) -> tuple[float, dict]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def table(figures: dict) -> str:
    """The markdown table of one run: figures, the peer, ratios and budgets."""
    f = figures
    ms = 1000
    rows = [
        ("peer refresh (every panel one SQL query)", f"{f['peer_s']:.2f} s", "", ""),
        (
            f"warm refresh after {NEW_CALLS:,} new calls",
            f"{f['warm_s'] * ms:.0f} ms (max {f['warm_max_s'] * ms:.0f} ms{_runs(f['warm_runs_s'])})",
            f"{f['peer_s'] / f['warm_s']:.0f}× faster",
            "≥ 1 000× and < 15 ms",
        ),
        (
            "first snapshot, new process, cache built",
            f"{f['cached_s']:.2f} s",
            f"{f['peer_s'] / f['cached_s']:.0f}× faster",
            "≥ 10×",
        ),
        (
            "first snapshot ever (no cache)",
            f"{f['first_s']:.2f} s",
            f"{f['first_s'] / f['peer_s']:.2f}× the peer",
            "≤ 1.5× the peer",
        ),
        ("peak resident memory, first snapshot ever", f"{f['rss_first_mb']:.0f} MB", "", "< 300 MB"),
        (f"peak resident memory, {f['rounds']} warm refreshes", f"{f['rss_warm_mb']:.0f} MB", "", "< 300 MB"),
    ]
    for name in f["ranges"]:
        rows += [
            (f"peer, the {name} view (views.md)", f"{f[f'peer_{name}_s']:.2f} s", "", ""),
            (
                f"warm refresh of the {name} view after {NEW_CALLS:,} new calls",
                f"{f[f'warm_{name}_s'] * ms:.0f} ms (max {f[f'warm_{name}_max_s'] * ms:.0f} ms"
                f"{_runs(f[f'warm_{name}_runs_s'])})",
                f"{f[f'peer_{name}_s'] / f[f'warm_{name}_s']:.0f}× faster",
                "≥ 200× and < 50 ms",
            ),
            (f"peak resident memory, {name} view refreshes", f"{f[f'rss_{name}_mb']:.0f} MB", "", "< 300 MB"),
        ]
    lines = [
        f"Store: {f['calls']:,} calls, {f['size_gb']:.2f} GB. Machine: {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}.",
        "",
        "| figure | ccanalytics | vs the peer | budget |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def _runs(medians: list[float]) -> str:
    """Each process's median, when there were several: how much the machine's state moved them."""
    return "; runs " + " / ".join(f"{m * 1000:.0f}" for m in medians) if len(medians) > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed figure (default 3)")
    parser.add_argument("--rounds", type=int, default=20, help="warm refreshes (default 20)")
    parser.add_argument(
        "--ranges", default=",".join(RANGED), help=f"ranged views to time, comma-separated (default {','.join(RANGED)})"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    figures = run(args.store, args.repeat, args.rounds, tuple(filter(None, args.ranges.split(","))))
    print(table(figures))
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
