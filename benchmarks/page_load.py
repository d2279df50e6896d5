"""Time from opening the dashboard's URL to the KPI cards on screen (quality.md: under 2.5 s).

    python -m benchmarks.page_load [--runs 10] [--gap 8] [--db PATH]

Starts ``ccanalytics serve`` on the embedded demo (or on ``--db``), then opens the URL
``--runs`` times, each in a fresh browser context (a new visitor), and times
``goto`` until the first ``.cc-kpi`` card is visible. The first visit opens the
URL the moment serve prints it (serve announces it only once its warm kernel is
ready); it is reported on its own line and not counted in the median. Between
visits it waits ``--gap`` seconds, so Voila's preheated kernel is ready again,
as for a visitor arriving at a quiet server; ``--gap 0`` measures visitors
arriving back to back (most get a kernel started for them).
Last, it keeps one tab open for ``--hold`` seconds of refreshes and reports
the resident memory of its kernel (quality.md, second wave: under 200 MB on 10 M calls).
``--fallback`` breaks serve's snapshot channel once the tab shows its cards
(something serve cannot remove stands where its socket was), so the tab falls
back to a snapshot process of its own (``ccanalytics.serve.fallback_process``); it
reports the peaks (``VmHWM``) of the kernel and of that process.

Needs Debian's ``chromium`` and the ``playwright`` package (the test tools).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from tests.support.browser_fixtures import (
    Server,
    cmdline,
    descendants,
    free_port,
    launch_chromium,
    rss_mb,
    snapshot_socket,
)
from tests.support.procs import peak_mb

BUDGET_S = 2.5
_KERNEL = re.compile(r"/api/kernels/([0-9a-f-]{36})/channels")


def visit(browser, url: str, timeout_s: float) -> float:
    """Seconds from ``goto`` to the first KPI card visible, in a new context."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        page.wait_for_selector(".cc-kpi", state="visible", timeout=timeout_s * 1000)
        took = time.perf_counter() - started
        page.close(run_before_unload=True)
        return took
    finally:
        context.close()


def break_channel(pid: int) -> Path:
    """Put a folder where the kernel's snapshot socket was: serve cannot listen again there."""
    path = snapshot_socket(pid)
    path.unlink()
    path.mkdir()
    return path


def fallback_peaks(server: Server, pid: int, seconds: float, timeout_s: float) -> str:
    """Break the channel, wait for the kernel's own snapshot process, hold ``seconds``: both peaks."""
    broken = break_channel(pid)
    deadline = time.monotonic() + 30 + timeout_s
    while "computes its own snapshots now" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.5)
    own = [child for child in descendants(pid) if "ccanalytics.serve.fallback_process" in cmdline(child)]
    started = time.monotonic()
    while not own and time.monotonic() < deadline:
        time.sleep(0.5)
        own = [child for child in descendants(pid) if "ccanalytics.serve.fallback_process" in cmdline(child)]
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    kernel, helper = peak_mb(pid) or 0.0, (peak_mb(own[0]) or 0.0) if own else 0.0
    broken.rmdir()
    return (
        f"fallback (serve's channel broken), {seconds:g} s of refreshes: the kernel's peak (VmHWM) {kernel:.0f} MB "
        f"(budget 200 MB), its own snapshot process's {helper:.0f} MB"
        + ("" if own else " -- NO snapshot process of its own was found")
    )


def hold(browser, server: Server, seconds: float, timeout_s: float, fallback: bool = False) -> str:
    """Keep one tab open for ``seconds`` of refreshes; its kernel's resident memory, first and last."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        page = context.new_page()
        kernels: list[str] = []
        page.on("websocket", lambda ws: kernels.extend(_KERNEL.findall(ws.url)))
        page.goto(server.url, timeout=timeout_s * 1000)
        page.wait_for_selector(".cc-kpi", state="visible", timeout=timeout_s * 1000)
        pid = server.kernel_pids().get(kernels[0]) if kernels else None
        if pid is None:
            return "the tab's kernel was not found: no memory figure"
        first = rss_mb(pid) or 0.0
        if fallback:
            return fallback_peaks(server, pid, seconds, timeout_s)
        samples = [first]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(5)
            samples.append(rss_mb(pid) or 0.0)
        return (
            f"one dashboard kernel, {seconds:g} s of refreshes: resident memory {first:.0f} MB with the cards "
            f"on screen, {samples[-1]:.0f} MB at the end, peak {max(samples):.0f} MB (budget 200 MB, second wave)"
        )
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="visits timed (default 10)")
    parser.add_argument("--gap", type=float, default=8.0, help="seconds between visits (default 8)")
    parser.add_argument("--refresh", default="30", help="CCANALYTICS_REFRESH_S for the server (default 30)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up on a visit after this long")
    parser.add_argument("--db", type=Path, help="serve this store instead of the embedded demo")
    parser.add_argument("--hold", type=float, default=120.0, help="seconds one tab stays open for its memory")
    parser.add_argument("--fallback", action="store_true", help="break serve's channel while holding the tab")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    server = Server(free_port(), args.db, {"CCANALYTICS_REFRESH_S": args.refresh})
    started = time.perf_counter()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)  # before serve starts: the first visit opens the URL at once
        try:
            server.start(timeout_s=max(90.0, args.timeout * 10))
            served = args.db or "the embedded demo"
            # Server.start returns once serve has printed its URL (and the port answers).
            print(f"serve on {served}: URL announced after {time.perf_counter() - started:.1f} s", flush=True)
            first = visit(browser, server.url, args.timeout)
            print(f"first visit, the moment serve announced its URL: {first:.2f} s", flush=True)
            times = []
            for run in range(args.runs):
                time.sleep(args.gap)
                times.append(visit(browser, server.url, args.timeout))
                print(f"visit {run + 1}: {times[-1]:.2f} s", flush=True)
            held = hold(browser, server, args.hold, args.timeout, args.fallback)
        finally:
            browser.close()
            left = server.stop()
    median, worst = statistics.median(times), max(times)
    print(
        f"goto -> cards visible over {len(times)} visits (gap {args.gap:g} s): "
        f"median {median:.2f} s, max {worst:.2f} s, min {min(times):.2f} s (budget {BUDGET_S:g} s: "
        f"{'met' if median < BUDGET_S else 'NOT met'} by the median; first visit {first:.2f} s: "
        f"{'met' if first < BUDGET_S else 'NOT met'})"
    )
    print(held)
    if left:
        print(f"serve left processes behind: {left}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
