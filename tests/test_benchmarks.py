"""The benchmark runs end to end on a small store (its figures are reported, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_reports_every_figure_side_by_side_with_the_peer(tmp_path):
    store = tmp_path / "small.db"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--calls", "20000", str(store)],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), str(store), "--repeat", "1", "--rounds", "3", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr  # run.py refuses to time two sides that disagree
    table, figures = result.stdout.rsplit("\n", 2)[0], json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["calls"] == 20000
    for figure in ("peer_s", "warm_s", "cached_s", "first_s", "rss_first_mb", "rss_warm_mb"):
        assert figures[figure] > 0
    for row in ("peer refresh", "warm refresh after 1,000 new calls", "cache built", "no cache", "resident memory"):
        assert row in table
