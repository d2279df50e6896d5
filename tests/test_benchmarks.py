"""The benchmark runs end to end on a small store (its figures are reported, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_benchmark_reports_every_figure_side_by_side_with_the_peer(tmp_path):
    store = tmp_path / "small.db"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.generate", "--calls", "20000", str(store)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", str(store), "--repeat", "1", "--rounds", "3", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr  # run.py refuses to time two sides that disagree
    table, figures = result.stdout.rsplit("\n", 2)[0], json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["calls"] == 20000
    named = (
        "peer_s",
        "warm_s",
        "cached_s",
        "first_s",
        "rss_first_mb",
        "rss_warm_mb",
        "peer_90d_s",
        "warm_90d_s",
        "peer_7d_s",
        "warm_30d_s",
        "rss_7d_mb",
    )
    for figure in named:
        assert figures[figure] > 0
    for row in ("peer refresh", "warm refresh after 1,000 new calls", "cache built", "no cache", "resident memory",
                "the 7d view", "the 30d view", "the 90d view"):  # fmt: skip
        assert row in table


@pytest.mark.slow
def test_repeated_warm_runs_are_each_a_process_of_their_own_and_pooled(tmp_path):
    store = tmp_path / "small.db"
    _run("generate", "--calls", "5000", str(store), timeout=120)
    result = _run("run", str(store), "--repeat", "2", "--rounds", "2", "--ranges", "7d", "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(figures["warm_runs_s"]) == len(figures["warm_7d_runs_s"]) == 2
    assert min(figures["warm_runs_s"]) <= figures["warm_s"] <= max(figures["warm_runs_s"])
    assert "; runs " in result.stdout  # each process's median is in the table beside the pooled one


def _run(module: str, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """Run ``benchmarks.<module>`` as documented: ``python -m`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.browser
@pytest.mark.slow
def test_the_page_load_benchmark_times_visits_and_a_kernels_memory():
    result = _run("page_load", "--runs", "2", "--gap", "3", "--hold", "6", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "goto -> cards visible over 2 visits" in result.stdout
    assert "one dashboard kernel, 6 s of refreshes: resident memory" in result.stdout


@pytest.mark.browser
@pytest.mark.slow
def test_the_many_tabs_benchmark_follows_its_tabs_and_sees_their_kernels_go():
    args = ("--tabs", "2", "--duration", "12", "--every", "4", "--cull-idle", "8", "--demo-speed", "300")
    result = _run("many_tabs", *args, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tabs whose Total Calls Ever grew with the demo's traffic: 2/2" in result.stdout
    assert "all tabs closed: only the preheated kernel left" in result.stdout


def test_the_collect_benchmark_times_the_recorder_and_stores_every_call():
    result = _run("collect", "--requests", "300", "--rounds", "2", "--json", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["requests"] == 600 and figures["stored"] + figures["lost"] == 600
    assert "added by the recorder (median)" in result.stdout


@pytest.mark.slow
def test_the_memory_benchmark_lists_the_frames_a_ranged_view_keeps(tmp_path):
    store = tmp_path / "small.db"
    _run("generate", "--calls", "20000", str(store), timeout=120)
    result = _run("memory", str(store), "--range", "90d", "--top", "40", timeout=300)
    assert result.returncode == 0, result.stderr
    first, *lines = result.stdout.strip().splitlines()
    held, peak = (float(first.split(f"{word} ")[1].split(" MB")[0]) for word in ("held", "peak"))
    assert 0 < held <= peak
    assert any(line.endswith("store._ledger.recent") for line in lines)
    assert any(".histories[0]." in line for line in lines)  # the 90d view's history is kept, and listed

    wrong = _run("memory", str(store), "--range", "5y", timeout=120)
    assert wrong.returncode != 0 and len(wrong.stderr.strip().splitlines()) == 1
