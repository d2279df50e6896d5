"""Many open tabs (quality.md): 20 dashboards refreshing every second, then no kernel left once they close.

    python -m benchmarks.many_tabs [--tabs 1 5 20] [--phase 60] [--duration 300] [--cull-idle 120]

Starts ``ccanalytics serve`` on the embedded demo (or ``--db``) with ``CCANALYTICS_REFRESH_S=1``
and opens pages, one browser context each (separate visitors), in phases: 1 tab, then 5, then 20
(``--tabs``), each measured for ``--phase`` seconds, the last for ``--duration``. Before each
phase it waits until Voila's new preheated kernel has run the page (its start is no refresh's
cost). In each phase it checks every page every ``--every`` seconds: its
kernel still exists, the freshness pill says "Updated" and is not in its error
state (its warning state, data more than two refreshes old, is counted as
late, not as an error: 20 kernels on 2 cores can fall a refresh behind), the
page received kernel messages since the last check, and whether its Total Calls Ever grew (the demo's traffic lands
every 2 s; each tab shows the buyer's view for that). It collects console
errors and page errors, and samples each kernel's resident memory from /proc.
Then it closes every tab (as a person does, with the page's unload handlers)
and waits until only Voila's preheated kernel is left, reporting how long that
took. For each phase it reports the CPU per refresh (user + system time from
/proc, per second of 1 s refreshes) of serve (which computes), Voila and the
kernels, and apart, of Chromium and playwright's driver (the browser's own
cost, not ccanalytics'); the peak resident memory of every kernel (``VmHWM``:
the highest it ever was); how many snapshots serve computed and handed to
other tabs (it prints them on ``SIGUSR1``; ``--no-count`` skips that, for a
serve that does not share them); and the warnings in serve's log.

The pages count their own kernel messages (an init script wraps
``WebSocket``), and each look is one ``evaluate``: playwright's
``framereceived`` events would ship every frame of every tab (the widgets'
updates, tens of kB) to this process, a load of its own on the machine.

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
from tests.support.browser_fixtures import Server, free_port, launch_chromium
from tests.support.procs import peak_mb, rss_mb

if TYPE_CHECKING:
    from playwright.sync_api import Page

TIMEOUT_MS = int(os.environ.get("MANY_TABS_TIMEOUT_MS", "180000"))
_FRESH = re.compile(r"Updated (just now|[1-3] s ago)")
_AGE = re.compile(r"[0-9]+ (s|min)\b")
_STATUS = re.compile(r"snapshots for the tabs since start: ([0-9,]+) computed, ([0-9,]+) shared")
# Counts the messages of the page's kernel websocket inside the page: playwright's "framereceived"
# events would send every frame (the widgets' updates, tens of kB each) to this process, 20 tabs' worth.
_COUNT_JS = """(() => {
  const Native = window.WebSocket;
  window.__ccFrames = 0; window.__ccKernel = '';
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      const found = /\\/api\\/kernels\\/([0-9a-f-]{36})\\/channels/.exec(String(url));
      if (found) { window.__ccKernel = found[1]; this.addEventListener('message', () => { window.__ccFrames += 1; }); }
    }
  };
})();"""
_FRAMES_JS = "() => [window.__ccKernel, window.__ccFrames]"
_LOOK_JS = """() => { const pill = document.querySelector('.cc-updated .cc-pill');
    const total = document.querySelector('.cc-kpi-total_calls .cc-card-value')?.textContent.trim() ?? '';
    return [pill?.textContent.trim() ?? '', pill?.className ?? '', pill?.title ?? '', total,
            window.__ccKernel, window.__ccFrames]; }"""


@dataclass
class Tab:
    """One open dashboard and what was seen on it."""

    page: Page
    kernel: str = ""
    frames_seen: int = 0
    totals: list[int] = field(default_factory=list)
    problems: collections.Counter[str] = field(default_factory=collections.Counter)
    late: int = 0  # looks at a pill in its warning state: data more than two refreshes old, but no error


def open_tab(browser, url: str, tabs: list[Tab], errors: collections.Counter) -> float:
    """Open a dashboard in a new context; return the seconds until its cards show."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    # The page counts its own kernel messages: no websocket event crosses to this process.
    context.add_init_script(_COUNT_JS)
    page = context.new_page()
    tab = Tab(page)
    page.on("console", lambda message: errors.update([message.text[:160]]) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.update([f"page error: {str(error)[:160]}"]))
    started = time.perf_counter()
    page.goto(url, timeout=TIMEOUT_MS)
    page.wait_for_selector(".cc-kpi", timeout=TIMEOUT_MS)
    took = time.perf_counter() - started
    # The buyer's view: Total Calls Ever only grows, so it shows whether new traffic reaches the page.
    if page.locator(".cc-mode button").count():
        page.locator(".cc-mode button", has_text="Buyer").click()
    page.wait_for_selector(".cc-kpi-total_calls", timeout=60_000)
    tab.kernel, tab.frames_seen = page.evaluate(_FRAMES_JS)
    tabs.append(tab)
    return took


def check(tab: Tab, live: set[str]) -> None:
    """One look at a tab: kernel alive, pill fresh, messages arriving, its Total Calls Ever (one page call)."""
    text, level, detail, total, kernel, frames = tab.page.evaluate(_LOOK_JS)
    tab.kernel = kernel or tab.kernel
    if not _FRESH.fullmatch(text) and "cc-pill-warn" not in level:
        # Minutes and seconds vary from look to look: count the kind of problem.
        kind = _AGE.sub(r"N \1", text) + (f" ({detail})" if detail else "")
        tab.problems[f"pill: {kind}"] += 1
    if "cc-pill-warn" in level:
        tab.late += 1
    elif "cc-pill-ok" not in level:
        tab.problems[f"pill level: {level.split()[-1] if level else 'none'}"] += 1
    if not tab.kernel or tab.kernel not in live:
        tab.problems["kernel gone"] += 1
    if frames == tab.frames_seen:
        tab.problems["no kernel message since the last check"] += 1
    tab.frames_seen = frames
    total = total.replace(",", "")
    if total.isdigit():
        tab.totals.append(int(total))


@dataclass
class Processes:
    """One read of /proc: every process's parent, CPU seconds and arguments, grouped as the run needs."""

    serve: dict[int, float]  # serve itself, and its children but Voila's tree (the demo's chain)
    voila: dict[int, float]
    kernels: dict[str, tuple[int, float]]  # kernel id -> pid, CPU seconds
    chromium: dict[int, float]  # everything under this process but serve: playwright's driver and Chromium

    @classmethod
    def read(cls, server: Server) -> Processes:
        assert server.process is not None
        parent, seconds, args = {}, {}, {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                pid = int(entry.name)
                parent[pid], seconds[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
                args[pid] = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError, ValueError):
                continue
        children = collections.defaultdict(list)
        for pid, up in parent.items():
            children[up].append(pid)

        def tree(root: int) -> list[int]:
            found, todo = [], [root]
            while todo:
                pid = todo.pop()
                found.append(pid)
                todo.extend(children.get(pid, ()))
            return found

        serve_pid = server.process.pid
        voila_pid = next((p for p in children[serve_pid] if b"ccanalytics.serve.guard" in args.get(p, [])), None)
        voila_tree = tree(voila_pid) if voila_pid else []
        kernels = {}
        for pid in voila_tree:
            if b"ipykernel_launcher" in args[pid] and b"-f" in args[pid]:
                connection = args[pid][args[pid].index(b"-f") + 1].decode()
                kernels[Path(connection).stem.removeprefix("kernel-")] = (pid, seconds[pid])
        serve_tree = set(tree(serve_pid))
        others = [p for p in tree(os.getpid()) if p not in serve_tree and p != os.getpid()]
        return cls(
            serve={p: seconds[p] for p in serve_tree - set(voila_tree)},
            voila={p: seconds[p] for p in voila_tree if p not in {k[0] for k in kernels.values()}},
            kernels=kernels,
            chromium={p: seconds[p] for p in others},
        )


def _spent(before: dict, after: dict) -> float:
    """CPU seconds spent between two reads by the processes of both (one that ended meanwhile is lost)."""
    return sum(after[k] - before[k] for k in after if k in before)


def show_cpu(server: Server, start: Processes, end: Processes, seconds: float, counts: tuple) -> dict[str, float]:
    """CPU per second of refreshes (the tabs refresh every second), split by process; the figures in ms."""
    per = 1000 / seconds
    kernels = [end.kernels[k][1] - start.kernels[k][1] for k in end.kernels if k in start.kernels]
    figures = {
        "serve": _spent(start.serve, end.serve) * per,
        "voila": _spent(start.voila, end.voila) * per,
        "kernels": sum(kernels) * per,
        "chromium": _spent(start.chromium, end.chromium) * per,
    }
    shared = ""
    if counts[0] is not None and counts[1] is not None:
        made = counts[1][0] - counts[0][0]
        handed = counts[1][1] - counts[0][1]
        shared = f"; serve computed {made / seconds:.2f} snapshots a second and shared {handed / seconds:.1f}"
    print(
        f"CPU per refresh (1 s): serve {figures['serve']:.0f} ms (computes"
        f"{'; with the demo’s traffic and chain' if server.db is None else ''}), "
        f"Voila {figures['voila']:.0f} ms, {len(kernels)} kernels {figures['kernels']:.0f} ms "
        f"(each: {', '.join(f'{k * per:.0f}' for k in sorted(kernels))}) — "
        f"ccanalytics {figures['serve'] + figures['voila'] + figures['kernels']:.0f} ms in all; "
        f"apart: Chromium and playwright {figures['chromium']:.0f} ms{shared}",
        flush=True,
    )
    return figures


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


def memory(server: Server, processes: Processes) -> dict[str, float]:
    pids = [pid for pid, _ in processes.kernels.values()]
    kernels = [m for m in map(rss_mb, pids) if m is not None]
    voila = server.voila_pid()
    return {
        "kernels": len(kernels),
        "kernel_median_mb": statistics.median(kernels) if kernels else 0.0,
        "kernel_max_mb": max(kernels, default=0.0),
        "kernel_peak_mb": max((m for m in map(peak_mb, pids) if m is not None), default=0.0),
        "kernels_total_mb": sum(kernels),
        "voila_mb": (rss_mb(voila) or 0.0) if voila else 0.0,
        "serve_mb": (rss_mb(server.process.pid) or 0.0) if server.process else 0.0,
    }


def show_memory(label: str, figures: dict[str, float]) -> None:
    print(
        f"{label}: {figures['kernels']:.0f} kernels, RSS per kernel median {figures['kernel_median_mb']:.0f} MB, "
        f"max {figures['kernel_max_mb']:.0f} MB (peak so far, VmHWM: {figures['kernel_peak_mb']:.0f} MB), "
        f"all kernels {figures['kernels_total_mb']:.0f} MB; "
        f"voila {figures['voila_mb']:.0f} MB, serve {figures['serve_mb']:.0f} MB",
        flush=True,
    )


def settle(server: Server, tabs: list[Tab], timeout_s: float = 120.0) -> float:
    """Wait until Voila's new preheated kernel has run the page (its start is not a refresh's cost); seconds waited.

    The warm kernel a tab took is replaced at once by a new one, which imports and runs the notebook (a few
    seconds of CPU): measured from then, it would count as rendering.
    """
    started = time.monotonic()
    mine = {tab.kernel for tab in tabs}
    before: dict[str, float] = {}
    while time.monotonic() - started < timeout_s:
        spare = {k: cpu for k, (_pid, cpu) in Processes.read(server).kernels.items() if k not in mine}
        steady = len(spare) == 1 and spare.keys() == before.keys()
        if steady and sum(spare.values()) - sum(before.values()) < 0.05:  # under 5 % of a core: refreshing
            break
        before = spare
        time.sleep(1.0)
    return time.monotonic() - started


def measure(server: Server, tabs: list[Tab], errors, seconds: float, every: float, count) -> dict:
    """Look at every tab each ``every`` seconds for ``seconds``; CPU and memory over that time."""
    started = time.monotonic()
    first = Processes.read(server)
    counts_start = count()
    samples = []
    while time.monotonic() - started < seconds:
        time.sleep(every)
        processes = Processes.read(server)
        for tab in tabs:
            check(tab, set(processes.kernels))
        samples.append(memory(server, processes))
        bad = sum(1 for tab in tabs if tab.problems)
        print(
            f"t={time.monotonic() - started:4.0f} s: tabs with a problem so far {bad}/{len(tabs)}, "
            f"console errors {sum(errors.values())}, load {Path('/proc/loadavg').read_text().split()[0]}",
            flush=True,
        )
    figures = show_cpu(server, first, Processes.read(server), time.monotonic() - started, (counts_start, count()))
    show_memory("end", samples[-1])
    figures["kernel_peak_mb"] = max(s["kernel_peak_mb"] for s in samples)
    figures["looks"] = len(tabs) * len(samples)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tabs", type=int, nargs="+", default=[1, 5, 20], help="pages open at once, one phase each (default 1 5 20)"
    )
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of the last phase (default 300)")
    parser.add_argument("--phase", type=float, default=60.0, help="seconds of each earlier phase (default 60)")
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
    phases = sorted(set(args.tabs))

    from playwright.sync_api import sync_playwright

    env = {
        "CCANALYTICS_REFRESH_S": "1",
        "CCANALYTICS_CULL_IDLE_S": str(args.cull_idle),
        # Room for every tab and the warm kernel, whatever the machine's default cap.
        "CCANALYTICS_MAX_KERNELS": str(phases[-1] + 1),
        # The demo at its history's own rate adds a buyer call every few seconds or minutes, by the
        # hour of day: a livelier demo lets a short run see every tab follow new calls.
        "CCANALYTICS_DEMO_SPEED": str(args.demo_speed),
    }
    server = Server(free_port(), Path(args.db) if args.db else None, env).start()
    errors: collections.Counter = collections.Counter()
    tabs: list[Tab] = []
    failed = False
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                count = (lambda: None) if args.no_count else (lambda: computed(server))
                for number in phases:
                    loads = [open_tab(browser, server.url, tabs, errors) for _ in range(number - len(tabs))]
                    print(
                        f"{number} tabs open: the {len(loads)} new ones showed their cards after median "
                        f"{statistics.median(loads):.1f} s, max {max(loads):.1f} s (one after another)",
                        flush=True,
                    )
                    print(f"the new preheated kernel settled after {settle(server, tabs):.0f} s", flush=True)
                    seconds = args.duration if number == phases[-1] else args.phase
                    rows.append((number, measure(server, tabs, errors, seconds, args.every, count)))

                problems: collections.Counter[str] = collections.Counter()
                for tab in tabs:
                    problems.update(tab.problems)
                grew = sum(1 for tab in tabs if len(tab.totals) > 1 and tab.totals[-1] > tab.totals[0])
                looks = sum(row["looks"] for _, row in rows)
                late = sum(tab.late for tab in tabs)
                print("tabs | CPU per refresh: serve | kernels | Voila | Chromium (apart) | kernel peak RSS")
                for number, row in rows:
                    print(
                        f"{number:4d} | {row['serve']:.0f} ms | {row['kernels']:.0f} ms | {row['voila']:.0f} ms | "
                        f"{row['chromium']:.0f} ms | {row['kernel_peak_mb']:.0f} MB"
                    )
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
        warnings = [line for line in server.log().splitlines() if "WARNING" in line or "ERROR" in line]
        print(f"serve's log: {len(warnings)} warnings or errors" + "".join(f"\n  {w[:200]}" for w in warnings[-10:]))
        leftover = server.stop()
    if leftover:
        print(f"serve left processes behind: {leftover}")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
