"""The refresh loop: a new snapshot every ``CCANALYTICS_REFRESH_S`` seconds, while the page is open.

It runs as a task on the kernel's own asyncio loop (Voila has no other timer
that ticks without a user), computes the snapshot in a worker thread so the
kernel stays responsive, and sets widget values back on the loop. A failed
refresh shows on the freshness pill and the next tick tries again. The loop
stops when the page's heartbeat stops (tab closed, browser crashed or asleep)
or after a maximum lifetime, so an abandoned kernel falls idle and can be
culled. It never prints: output from a background task lands in a random cell.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ccanalytics.errors import CCError
from ccanalytics.model import READING_NOTE
from ccanalytics.settings import REFRESH_DEFAULT_S, REFRESH_MIN_S, refresh_interval_s
from ccanalytics.ui import format as fmt
from ccanalytics.ui.page import Dashboard

if TYPE_CHECKING:
    from ccanalytics.ui.views import ViewChoice

__all__ = [
    "DEFAULT_INTERVAL_S",
    "DEFAULT_MAX_LIFETIME_S",
    "MIN_INTERVAL_S",
    "Refresher",
    "failure_reason",
    "live_dashboard",
    "on_grid",
    "refresh_interval",
]

DEFAULT_INTERVAL_S = REFRESH_DEFAULT_S
MIN_INTERVAL_S = REFRESH_MIN_S
# How soon to refresh again when a snapshot still waits for its first chain read.
FOLLOW_UP_S = 2.0
DEFAULT_MAX_LIFETIME_S = 24 * 3600.0
# Figures older than this when the page's first beat arrives are refreshed at once.
FRESH_ON_ARRIVAL_S = 2.0
DEFAULT_FIRST_BEAT_GRACE_S = 60.0
# Beats missed before the page counts as gone ("about three", plus slack for a busy browser).
MISSED_BEATS = 3.5

GetSnapshot = Callable[[], Mapping[str, Any]]


def refresh_interval(environ: Mapping[str, str] | None = None) -> float:
    """The refresh interval in seconds: ``CCANALYTICS_REFRESH_S``, else 30.

    A value that is not a positive number falls back to 30; tiny values are
    raised to 0.1 s so a typo cannot spin the kernel.

    Examples
    --------
    >>> refresh_interval({}), refresh_interval({"CCANALYTICS_REFRESH_S": "0.5"})
    (30.0, 0.5)
    >>> refresh_interval({"CCANALYTICS_REFRESH_S": "soon"}), refresh_interval({"CCANALYTICS_REFRESH_S": "0.001"})
    (30.0, 0.1)
    """
    try:
        return refresh_interval_s((os.environ if environ is None else environ).get("CCANALYTICS_REFRESH_S"))
    except CCError:  # serve refuses it; a page started some other way still refreshes
        return DEFAULT_INTERVAL_S


def on_grid(moment: float, interval_s: float) -> float:
    """The first multiple of ``interval_s`` at or after ``moment`` (seconds of the monotonic clock).

    Examples
    --------
    >>> on_grid(12.3, 5.0), on_grid(15.0, 5.0)
    (15.0, 15.0)
    """
    return math.ceil(moment / interval_s) * interval_s


def failure_reason(exc: BaseException) -> str:
    """The one line a failed refresh shows on the page.

    A :class:`~ccanalytics.errors.CCError` carries the line the CLI would
    print (written for the operator); any other exception shows only its type,
    since its message may hold paths or keys.

    Examples
    --------
    >>> failure_reason(CCError("cc.db is not a SQLite database"))
    'cc.db is not a SQLite database'
    >>> failure_reason(OSError("no access to /secret/key"))
    'unexpected OSError'
    """
    if isinstance(exc, CCError):
        lines = str(exc).strip().splitlines()
        return lines[0] if lines else type(exc).__name__
    return f"unexpected {type(exc).__name__}"


class Refresher:
    """Keeps a :class:`Dashboard` fresh from ``get_snapshot`` while its page is alive.

    Parameters
    ----------
    dashboard
        The page to update; its "Refresh now" button and heartbeat are wired here.
    get_snapshot
        Returns a snapshot dict; called in a worker thread, so it may block.
    interval_s
        Seconds between refreshes (see :func:`refresh_interval`).
    heartbeat_timeout_s
        Stop when the page has not beaten for this long (default: about three beats).
    first_beat_grace_s
        Stop when no beat at all arrived this long after the start.
    max_lifetime_s
        Stop after this long whatever happens (a backstop); "Refresh now" starts again.
    clock
        Monotonic seconds (default: the heartbeat's, ``time.monotonic``); given, the heartbeat stamps beats with it too.

    Notes
    -----
    After stopping because the page went quiet, the next beat starts the loop
    again (a background tab whose timers the browser throttled comes back to
    life); after the maximum lifetime only a click on "Refresh now" does.
    """

    def __init__(
        self,
        dashboard: Dashboard,
        get_snapshot: GetSnapshot,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        heartbeat_timeout_s: float | None = None,
        first_beat_grace_s: float = DEFAULT_FIRST_BEAT_GRACE_S,
        max_lifetime_s: float = DEFAULT_MAX_LIFETIME_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.dashboard = dashboard
        self.interval_s = float(interval_s)
        period_s = dashboard.heartbeat.period_ms / 1000
        self.heartbeat_timeout_s = MISSED_BEATS * period_s if heartbeat_timeout_s is None else heartbeat_timeout_s
        self.first_beat_grace_s = first_beat_grace_s
        self.max_lifetime_s = max_lifetime_s
        self.refreshes = 0
        self.failures = 0
        self.stop_reason: str | None = None
        self._get_snapshot = get_snapshot
        if clock is not None:  # one clock: beats are stamped by the clock the loop compares them with
            dashboard.heartbeat.clock = clock
        self._clock = dashboard.heartbeat.clock
        # The pill ticks each second ("Updated 12 s ago") even when snapshots are 30 s apart.
        self._tick_s = min(1.0, self.interval_s)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._requested = False
        self._started_at = 0.0
        self._due = 0.0
        self._last_ok: float | None = None
        self._error: str | None = None
        self._reason = ""
        self._page_seen = False
        dashboard.heartbeat.watch_interval(self.interval_s)
        dashboard.refresh_button.on_click(self._on_button)
        dashboard.heartbeat.on_beat(self._on_beat)

    # -- control -----------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the loop is running."""
        return self._task is not None and not self._task.done()

    def start(self, *, refresh_now: bool = True) -> asyncio.Task[None]:
        """Start the loop on the running asyncio loop (the kernel's, in a notebook).

        Parameters
        ----------
        refresh_now
            Refresh at once; ``False`` when the dashboard was just built from a
            fresh snapshot (the first refresh is then one interval away).
        """
        if self._task is not None and not self._task.done():
            return self._task
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._wake = asyncio.Event()
        self.stop_reason = None
        now = self._clock()
        self._started_at = now
        if refresh_now:
            self._due = now
        else:
            self._due = on_grid(now + self.interval_s / 2, self.interval_s)
            self._last_ok = now if self._last_ok is None else self._last_ok
        self._task = loop.create_task(self._run())
        self._render_freshness()  # the page's first render already says how fresh it is
        return self._task

    def stop(self, reason: str = "stopped") -> None:
        """Stop the loop (from the loop's thread); the page shows that auto-refresh stopped."""
        self.stop_reason = reason
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._render_freshness()

    def request_refresh(self) -> None:
        """Refresh as soon as possible; start the loop again if it had stopped."""
        if self.running:
            self._requested = True
            if self._wake is not None:
                self._wake.set()
        elif self._loop is not None and not self._loop.is_closed():
            self.start(refresh_now=True)

    def follow_up(self, snapshot: Mapping[str, Any]) -> None:
        """Refresh again soon when ``snapshot`` (just shown) still waits for its first chain read.

        A page then shows live balances seconds after it opens, not one
        interval later.
        """
        if (snapshot.get("balances") or {}).get("note") == READING_NOTE:
            self._due = min(self._due, self._clock() + FOLLOW_UP_S)
            if self._wake is not None:
                self._wake.set()

    # -- the loop ----------------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                now = self._clock()
                reason = self._why_stop(now)
                if reason is not None:
                    self.stop_reason = reason
                    self._render_freshness()
                    return
                idle = self._inflight is None or self._inflight.done()
                if idle and (self._requested or now >= self._due):
                    self._requested = False
                    self._inflight = asyncio.create_task(self._refresh())
                self._render_freshness()
                await self._sleep(self._tick_s if not idle else max(0.0, min(self._tick_s, self._due - now)))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in one tick must not end the loop
                self._error, self._reason = type(exc).__name__, failure_reason(exc)
                await asyncio.sleep(self._tick_s)

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _refresh(self) -> None:
        started = self._clock()
        snapshot = None
        try:
            snapshot = await asyncio.to_thread(self._get_snapshot)
            self.dashboard.update(snapshot)
        except Exception as exc:
            self.failures += 1
            self._error = type(exc).__name__
            self._reason = failure_reason(exc)
        else:
            self.refreshes += 1
            self._last_ok = self._clock()
            self._error = None
            self._reason = ""
        finally:
            finished = self._clock()
            # On the grid every tab of the machine shares (the monotonic clock is system-wide), so
            # the tabs of one `serve` ask in the same moment and share one snapshot
            # (ccanalytics.serve.sharing); never back to back when a refresh is slow.
            self._due = on_grid(max(started + self.interval_s / 2, finished + self.interval_s / 4), self.interval_s)
            if snapshot is not None:
                self.follow_up(snapshot)
            self._render_freshness()
            if self._wake is not None:
                self._wake.set()

    def _why_stop(self, now: float) -> str | None:
        if now - self._started_at >= self.max_lifetime_s:
            return "max lifetime"
        last = self.dashboard.heartbeat.last_beat
        if last is not None and last + self.heartbeat_timeout_s > self._started_at:
            return "page gone" if now - last >= self.heartbeat_timeout_s else None
        return "no page" if now - self._started_at >= self.first_beat_grace_s else None

    # -- the freshness pill ------------------------------------------------------------------------------

    def _render_freshness(self) -> None:
        now = self._clock()
        age = None if self._last_ok is None else now - self._last_ok
        updated = "not updated yet" if age is None else f"updated {fmt.ago(age)}"
        failing = self._error is not None and self.stop_reason is None
        if self.stop_reason is not None:
            self.dashboard.show_freshness(f"Auto-refresh stopped · {updated}", "idle", "Click Refresh now to resume")
        elif failing:
            data = "no data yet" if age is None else f"data from {fmt.ago(age)}"
            self.dashboard.show_freshness(
                f"Refresh failed · {data}", "error", f"{self._error}; retrying every {self.interval_s:g} s"
            )
        elif age is None:
            self.dashboard.show_freshness("Updating…", "idle")
        else:
            stale = age > 2 * self.interval_s
            self.dashboard.show_freshness(f"Updated {fmt.ago(age)}", "warn" if stale else "ok")
        reason = self._reason or f"unexpected {self._error}"
        self.dashboard.show_refresh_error(f"{reason} · retrying every {self.interval_s:g} s" if failing else "")

    # -- events from the page (widget-message thread) ----------------------------------------------------

    def _call_on_loop(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(callback)

    def _on_button(self, _button: object) -> None:
        self._call_on_loop(self.request_refresh)

    def _on_beat(self) -> None:
        if not self._page_seen:
            # A warm (preheated) kernel rendered its page before anyone opened it: the first beat
            # says a person is looking now, so stale figures are replaced at once.
            self._page_seen = True
            self._call_on_loop(self._refresh_if_stale)
        if self.stop_reason in ("page gone", "no page"):
            self._call_on_loop(self._resume_after_beat)

    def _refresh_if_stale(self) -> None:
        if self._last_ok is None or self._clock() - self._last_ok > FRESH_ON_ARRIVAL_S:
            self.request_refresh()

    def _resume_after_beat(self) -> None:
        if not self.running and self.stop_reason in ("page gone", "no page"):
            self.start(refresh_now=True)


def live_dashboard(
    get_snapshot: GetSnapshot, *, interval_s: float | None = None, view: ViewChoice | None = None
) -> Dashboard:
    """A :class:`Dashboard` showing ``get_snapshot()`` now and refreshing itself while its page is open.

    Call it from a notebook cell (it needs the kernel's running asyncio loop)
    and display the result.

    Parameters
    ----------
    get_snapshot
        Returns a snapshot dict, e.g. ``lambda: store.snapshot().to_dict()``.
    interval_s
        Seconds between refreshes; default :func:`refresh_interval` (``CCANALYTICS_REFRESH_S``).
    view
        The view to show first (range, role, API; e.g. from the URL's query), which the page's
        controls then change; ``get_snapshot`` should honour ``view.snapshot_args()``.
    """
    interval = refresh_interval() if interval_s is None else interval_s
    try:
        first = get_snapshot()
        dashboard = Dashboard(first, view=view)
    except Exception:
        # The page still comes up, showing the failure on its pill; the loop keeps trying.
        first, dashboard = None, Dashboard(view=view)
    refresher = Refresher(dashboard, get_snapshot, interval_s=interval)
    dashboard.refresher = refresher
    refresher.start(refresh_now=first is None)
    if first is not None:
        refresher.follow_up(first)
    return dashboard
