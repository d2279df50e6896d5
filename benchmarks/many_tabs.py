"""Many open tabs (quality.md): 20 dashboards refreshing every second, then no kernel left once they close.

    python -m benchmarks.many_tabs [--tabs 20] [--duration 300] [--cull-idle 120]

Starts ``ccanalytics serve`` on the embedded demo (or ``--db``) with ``CCANALYTICS_REFRESH_S=1``
and opens ``--tabs`` pages, one browser context each (separate visitors). For
``--duration`` seconds it checks every page every ``--every`` seconds: its
kernel still exists, the freshness pill says "Updated" and is not in its error
state (its warning state, data more than two refreshes old, is counted as
late, not as an error: 20 kernels on 2 cores can fall a refresh behind), the
page received kernel messages since the last check, and whether its Total Calls Ever grew (the demo's traffic lands
every 2 s; each tab shows the buyer's view for that). It collects console
errors and page errors, and samples each kernel's resident memory from /proc.
Then it closes every tab (as a person does, with the page's unload handlers)
and waits until only Voila's preheated kernel is left, reporting how long that
took. Over the checks it reports the CPU per refresh (user + system time of
serve, Voila and every kernel, from /proc, per second of 1 s refreshes) and how
many snapshots serve computed and handed to other tabs (it prints them on
``SIGUSR1``; ``--no-count`` skips that, for a serve that does not share them).

Needs Debian's ``chromium`` and the ``playwright`` package (the test tools).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ccanalytics.serve import CULL_IDLE_S
from ccanalytics.ui.heartbeat import Heartbeat
from ccanalytics.ui.refresh import MISSED_BEATS
from tests.support.browser_fixtures import Server, free_port, launch_chromium, rss_mb

if TYPE_CHECKING:
    from playwright.sync_api import Page

_FRESH = re.compile(r"Updated (just now|[1-3] s ago)")
_AGE = re.compile(r"[0-9]+ (s|min)\b")
_STATUS = re.compile(r"snapshots for the tabs since start: ([0-9,]+) computed, ([0-9,]+) shared")
_KERNEL = re.compile(r"/api/kernels/([0-9a-f-]{36})/channels")
_TOTAL_JS = """() => document.querySelector('.cc-kpi-total_calls .cc-card-value')?.textContent.trim() ?? ''"""
_PILL_JS = """() => { const pill = document.querySelector('.cc-updated .cc-pill');
    return pill ? [pill.textContent.trim(), pill.className, pill.title] : ['', '', '']; }"""


@dataclass
class Tab:
    """One open dashboard and what was seen on it."""

    page: Page
    kernel: str = ""
    frames: int = 0
    frames_seen: int = 0
    totals: list[int] = field(default_factory=list)
    problems: collections.Counter[str] = field(default_factory=collections.Counter)
    late: int = 0  # looks at a pill in its warning state: data more than two refreshes old, but no error


def open_tab(browser, url: str, tabs: list[Tab], errors: collections.Counter) -> float:
    """Open a dashboard in a new context; return the seconds until its cards show."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    tab = Tab(page)

    def on_socket(ws) -> None:
        found = _KERNEL.search(ws.url)
        if found:
            tab.kernel = found.group(1)

            def on_frame(_payload) -> None:
                tab.frames += 1

            ws.on("framereceived", on_frame)

    page.on("websocket", on_socket)
    page.on("console", lambda message: errors.update([message.text[:160]]) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.update([f"page error: {str(error)[:160]}"]))
    started = time.perf_counter()
    page.goto(url, timeout=180_000)
    page.wait_for_selector(".cc-kpi", timeout=180_000)
    took = time.perf_counter() - started
    # The buyer's view: Total Calls Ever only grows, so it shows whether new traffic reaches the page.
    if page.locator(".cc-mode button").count():
        page.locator(".cc-mode button", has_text="Buyer").click()
    page.wait_for_selector(".cc-kpi-total_calls", timeout=60_000)
    tabs.append(tab)
    return took


def check(server: Server, tab: Tab) -> None:
    """One look at a tab: kernel alive, pill fresh, messages arriving, its Total Calls Ever."""
    page = tab.page
    text, level, detail = page.evaluate(_PILL_JS)
    if not _FRESH.fullmatch(text) and "cc-pill-warn" not in level:
        # Minutes and seconds vary from look to look: count the kind of problem.
        kind = _AGE.sub(r"N \1", text) + (f" ({detail})" if detail else "")
        tab.problems[f"pill: {kind}"] += 1
    if "cc-pill-warn" in level:
        tab.late += 1
    elif "cc-pill-ok" not in level:
        tab.problems[f"pill level: {level.split()[-1]}"] += 1
    if not tab.kernel or not server.kernel_exists(tab.kernel):
        tab.problems["kernel gone"] += 1
    if tab.frames == tab.frames_seen:
        tab.problems["no kernel message since the last check"] += 1
    tab.frames_seen = tab.frames
    total = page.evaluate(_TOTAL_JS).replace(",", "")
    if total.isdigit():
        tab.totals.append(int(total))


def cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) a process used so far, from /proc (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu(server: Server) -> dict[str, float]:
    """CPU seconds so far of serve (which computes the shared snapshots), Voila and each kernel."""
    assert server.process is not None
    kernels = {kernel: cpu_s(pid) for kernel, pid in server.kernel_pids().items()}
    return {"serve": cpu_s(server.process.pid), "voila": cpu_s(server.voila_pid()), **kernels}


def computed(server: Server) -> tuple[int, int] | None:
    """Snapshots serve computed and shared so far (it prints them on SIGUSR1); None if it says nothing."""
    assert server.process is not None
    before = server.log().count("snapshots for the tabs")
    os.kill(server.process.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = _STATUS.findall(server.log())
        if len(found) > before:
            return int(found[-1][0].replace(",", "")), int(found[-1][1].replace(",", ""))
        time.sleep(0.1)
    return None


def show_cpu(start: dict[str, float], end: dict[str, float], seconds: float, counts: tuple) -> None:
    """CPU per second of refreshes (the tabs refresh every second), split by process."""
    kernels = [end[k] - start[k] for k in end if k in start and k not in ("serve", "voila")]
    serve, voila = end["serve"] - start["serve"], end["voila"] - start["voila"]
    total = serve + voila + sum(kernels)
    per = 1000 / seconds
    shared = ""
    if counts[0] is not None and counts[1] is not None:
        made = counts[1][0] - counts[0][0]
        handed = counts[1][1] - counts[0][1]
        shared = f"; serve computed {made / seconds:.2f} snapshots a second and shared {handed / seconds:.1f}"
    print(
        f"CPU per refresh (1 s): {total * per:.0f} ms in all — serve {serve * per:.0f} ms, "
        f"Voila {voila * per:.0f} ms, {len(kernels)} kernels {sum(kernels) * per:.0f} ms "
        f"(median {statistics.median(kernels) * per if kernels else 0:.0f} ms each){shared}",
        flush=True,
    )


def memory(server: Server) -> dict[str, float]:
    kernels = [m for m in (rss_mb(pid) for pid in server.kernel_pids().values()) if m is not None]
    voila = server.voila_pid()
    return {
        "kernels": len(kernels),
        "kernel_median_mb": statistics.median(kernels) if kernels else 0.0,
        "kernel_max_mb": max(kernels, default=0.0),
        "kernels_total_mb": sum(kernels),
        "voila_mb": (rss_mb(voila) or 0.0) if voila else 0.0,
        "serve_mb": (rss_mb(server.process.pid) or 0.0) if server.process else 0.0,
    }


def show_memory(label: str, figures: dict[str, float]) -> None:
    print(
        f"{label}: {figures['kernels']:.0f} kernels, RSS per kernel median {figures['kernel_median_mb']:.0f} MB, "
        f"max {figures['kernel_max_mb']:.0f} MB, all kernels {figures['kernels_total_mb']:.0f} MB; "
        f"voila {figures['voila_mb']:.0f} MB, serve (demo + chain) {figures['serve_mb']:.0f} MB",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=20, help="pages open at once (default 20)")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds they stay open (default 300)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between checks (default 10)")
    parser.add_argument(
        "--cull-idle", type=int, default=CULL_IDLE_S, help=f"CCANALYTICS_CULL_IDLE_S (default {CULL_IDLE_S}, serve's)"
    )
    parser.add_argument(
        "--demo-speed", type=float, default=20.0, help="CCANALYTICS_DEMO_SPEED: the demo's traffic rate (default 20)"
    )
    parser.add_argument("--db", help="serve this store instead of the embedded demo (no traffic to follow then)")
    parser.add_argument(
        "--no-count", action="store_true", help="do not ask serve for its snapshot count (an older serve)"
    )
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    env = {
        "CCANALYTICS_REFRESH_S": "1",
        "CCANALYTICS_CULL_IDLE_S": str(args.cull_idle),
        # Room for every tab and the warm kernel, whatever the machine's default cap.
        "CCANALYTICS_MAX_KERNELS": str(args.tabs + 1),
        # The demo at its history's own rate adds a buyer call every few seconds or minutes, by the
        # hour of day: a livelier demo lets a short run see every tab follow new calls.
        "CCANALYTICS_DEMO_SPEED": str(args.demo_speed),
    }
    server = Server(free_port(), Path(args.db) if args.db else None, env).start()
    errors: collections.Counter = collections.Counter()
    tabs: list[Tab] = []
    failed = False
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                time.sleep(8)  # the preheated kernel
                loads = [open_tab(browser, server.url, tabs, errors) for _ in range(args.tabs)]
                print(
                    f"{args.tabs} tabs open: cards after median {statistics.median(loads):.1f} s, "
                    f"max {max(loads):.1f} s (each opened after the previous one showed its cards)",
                    flush=True,
                )
                show_memory("all tabs open", memory(server))
                started = time.monotonic()
                count = (lambda: None) if args.no_count else (lambda: computed(server))
                cpu_start, counts_start = cpu(server), count()
                samples = []
                while time.monotonic() - started < args.duration:
                    time.sleep(args.every)
                    for tab in tabs:
                        check(server, tab)
                    samples.append(memory(server))
                    bad = sum(1 for tab in tabs if tab.problems)
                    print(
                        f"t={time.monotonic() - started:4.0f} s: tabs with a problem so far {bad}/{len(tabs)}, "
                        f"console errors {sum(errors.values())}, load {Path('/proc/loadavg').read_text().split()[0]}",
                        flush=True,
                    )
                show_cpu(cpu_start, cpu(server), time.monotonic() - started, (counts_start, count()))
                show_memory("end of the run", samples[-1])
                peak = max(samples, key=lambda s: s["kernels_total_mb"])
                show_memory("peak", peak)

                problems: collections.Counter[str] = collections.Counter()
                for tab in tabs:
                    problems.update(tab.problems)
                grew = sum(1 for tab in tabs if len(tab.totals) > 1 and tab.totals[-1] > tab.totals[0])
                looks = len(tabs) * len(samples)
                late = sum(tab.late for tab in tabs)
                print(f"problems seen (count of tab checks): {dict(problems) or 'none'}")
                print(f"looks at a late pill (data over two refreshes old, no error): {late}/{looks}")
                if args.db:
                    grew = len(tabs)  # a store of its own gets no traffic here: nothing to follow
                else:
                    print(f"tabs whose Total Calls Ever grew with the demo's traffic: {grew}/{len(tabs)}")
                print(f"console errors: {dict(errors) or 'none'}")
                failed = bool(problems) or bool(errors) or grew < len(tabs)

                # The tabs go away, as a person closes them.
                open_kernels = {tab.kernel for tab in tabs}
                closed_at = time.monotonic()
                for tab in tabs:
                    context = tab.page.context
                    tab.page.close(run_before_unload=True)
                    context.close()
            finally:
                browser.close()
        heartbeat_s = MISSED_BEATS * Heartbeat.period_ms.default_value / 1000
        bound_s = heartbeat_s + args.cull_idle + max(1, args.cull_idle // 4)
        deadline = closed_at + bound_s + 120
        while time.monotonic() < deadline:
            left = set(server.kernel_pids())
            if not left & open_kernels and len(left) == 1:
                break
            time.sleep(1)
        left = set(server.kernel_pids())
        took = time.monotonic() - closed_at
        if left & open_kernels or len(left) != 1:
            still = len(left & open_kernels)
            print(f"after {took:.0f} s, {still} kernels of closed tabs still run ({len(left)} in all)")
            failed = True
        else:
            print(
                f"all tabs closed: only the preheated kernel left after {took:.0f} s "
                f"(bound: heartbeat {heartbeat_s:g} s + cull idle {args.cull_idle} s + cull interval)"
            )
    finally:
        leftover = server.stop()
    if leftover:
        print(f"serve left processes behind: {leftover}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
