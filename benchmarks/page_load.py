"""Time from opening the dashboard's URL to the KPI cards on screen (quality.md: under 4 s on the demo).

    python benchmarks/page_load.py [--runs 10] [--gap 8]

Starts ``ccanalytics serve`` on the embedded demo, then opens the URL
``--runs`` times, each in a fresh browser context (a new visitor), and times
``goto`` until the first ``.cc-kpi`` card is visible. A warm-up visit is not
counted. Between visits it waits ``--gap`` seconds, so Voila's preheated
kernel is ready again, as for a visitor arriving at a quiet server; ``--gap 0``
measures visitors arriving back to back (most get a kernel started for them).

Needs Debian's ``chromium`` and the ``playwright`` package (the test tools).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from browser_fixtures import Server, free_port, launch_chromium  # noqa: E402

BUDGET_S = 4.0


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="visits timed (default 10)")
    parser.add_argument("--gap", type=float, default=8.0, help="seconds between visits (default 8)")
    parser.add_argument("--refresh", default="30", help="CCANALYTICS_REFRESH_S for the server (default 30)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up on a visit after this long")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    server = Server(free_port(), None, {"CCANALYTICS_REFRESH_S": args.refresh})
    started = time.perf_counter()
    server.start()
    print(f"serve on the embedded demo: port answered after {time.perf_counter() - started:.1f} s", flush=True)
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                time.sleep(args.gap)  # the preheated kernel of the first visitor
                print(f"warm-up visit: {visit(browser, server.url, args.timeout):.2f} s", flush=True)
                times = []
                for run in range(args.runs):
                    time.sleep(args.gap)
                    times.append(visit(browser, server.url, args.timeout))
                    print(f"visit {run + 1}: {times[-1]:.2f} s", flush=True)
            finally:
                browser.close()
    finally:
        left = server.stop()
    median, worst = statistics.median(times), max(times)
    print(
        f"goto -> cards visible over {len(times)} visits (gap {args.gap:g} s): "
        f"median {median:.2f} s, max {worst:.2f} s, min {min(times):.2f} s (budget {BUDGET_S:g} s: "
        f"{'met' if median < BUDGET_S else 'NOT met'} by the median)"
    )
    if left:
        print(f"serve left processes behind: {left}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
