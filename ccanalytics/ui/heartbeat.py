"""The page's heartbeat and watchdog: a tiny invisible widget whose JavaScript says "still here" and listens.

A kernel whose refresh loop keeps sending widget updates is never culled by
the server, even after its tab crashed or its laptop went to sleep. The page
sends a beat every ``period_ms``; the refresh loop stops itself when the beats
stop, and the kernel can then be culled.

The other way round, the kernel answers every beat. The staleness check of
the refresh loop runs inside the kernel and dies with it, so the page watches
too: when no answer has come for ``silence_ms`` (the server stopped, the
kernel frozen or killed), the page's own JavaScript turns the freshness pill
red ("Disconnected — reconnecting…") and asks the server about its kernel
every few seconds. It goes back to normal when the kernel speaks again, and
reloads the page (a fresh kernel) once the server answers but the kernel is
gone, or has stayed silent for ``reload_after_ms``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DISCONNECTED_TEXT", "Heartbeat", "watchdog_timings"]

DISCONNECTED_TEXT = "Disconnected — reconnecting…"
# The page waits at least this many beats for an answer: one late answer on a busy host is no outage.
_SILENT_BEATS = 2.5
# ... and never more than this, whatever the refresh interval: a monitoring screen must not lie for long.
_MAX_SILENCE_MS = 12_000
_MIN_RELOAD_AFTER_MS = 20_000

_ESM = r"""
const TEXT = "Disconnected — reconnecting…";
const PROBE_MS = 3000;

function config() {
  try {
    return JSON.parse(document.getElementById("jupyter-config-data").textContent);
  } catch (e) {
    return {};
  }
}

// Voila posts a kernel shutdown on beforeunload with the `_xsrf` cookie, which its page never sets
// (the server then answers 403 and the kernel lingers until culled). A double-submit cookie of our own
// makes that post valid: only this origin can set it.
function ensureXsrfCookie(base) {
  if (/(^|;\s*)_xsrf=/.test(document.cookie)) return;
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  const token = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  document.cookie = `_xsrf=${token}; path=${base}; SameSite=Strict`;
}

function render({ model, el }) {
  el.classList.add("cc-heartbeat");
  const cfg = config();
  const base = cfg.baseUrl || "/";
  ensureXsrfCookie(base);
  let lastHeard = Date.now();
  let downSince = null;
  let saved = null;
  let probing = false;

  const pillContent = () => {
    const root = el.closest(".cc-dashboard") || document;
    const pill = root.querySelector(".cc-updated");
    return pill && (pill.querySelector(".widget-html-content, .jupyter-widget-html-content") || pill);
  };
  const showDown = (why) => {
    const target = pillContent();
    if (!target) return;
    if (saved === null) saved = target.innerHTML;
    const span = document.createElement("span");
    span.className = "cc-pill cc-pill-error cc-pill-disconnected";
    span.setAttribute("role", "alert");
    span.title = why;
    span.textContent = TEXT;
    target.replaceChildren(span);
  };
  const recover = () => {
    downSince = null;
    const target = pillContent();
    // The kernel's next pill update replaces this too; until then the last one it sent is truer.
    if (target && saved !== null && target.querySelector(".cc-pill-disconnected")) target.innerHTML = saved;
    saved = null;
    document.body.classList.remove("cc-offline");
  };
  const heard = () => {
    lastHeard = Date.now();
    if (downSince !== null) recover();
  };
  const onMessage = (msg) => { if (msg && msg.type === "ack") heard(); };
  model.on("msg:custom", onMessage);

  const beat = () => { try { model.send({ type: "beat" }); } catch (e) { /* a dead socket: the watchdog sees it */ } };

  const probe = async () => {
    if (probing || !cfg.kernelId) return;
    probing = true;
    try {
      const url = `${base}api/kernels/${cfg.kernelId}`;
      const answer = await fetch(url, { cache: "no-store", credentials: "same-origin" });
      const silentFor = Date.now() - lastHeard;
      if (answer.status === 404 || silentFor >= model.get("reload_after_ms")) {
        showDown("The server is back; loading a fresh page…");
        window.location.reload();
        return;
      }
      showDown("The server answers but the page's kernel does not; waiting for it…");
    } catch (e) {
      showDown("The dashboard server does not answer; retrying every few seconds…");
    } finally {
      probing = false;
    }
  };

  let lastProbe = 0;
  const check = () => {
    if (document.visibilityState === "hidden") return;  // throttled timers in a background tab prove nothing
    const now = Date.now();
    if (downSince === null && now - lastHeard > model.get("silence_ms")) {
      downSince = now;
      document.body.classList.add("cc-offline");
      showDown("No word from the dashboard's kernel; checking the server…");
    }
    if (downSince !== null && now - lastProbe >= PROBE_MS) {
      lastProbe = now;
      probe();
    }
  };

  // The kernel lays the page out for the window's width (fewer chart labels on a phone).
  let resizing = null;
  const reportWidth = () => {
    const width = Math.round(window.innerWidth);
    if (model.get("viewport_px") !== width) {
      model.set("viewport_px", width);
      model.save_changes();
    }
  };
  const onResize = () => { clearTimeout(resizing); resizing = setTimeout(reportWidth, 200); };
  window.addEventListener("resize", onResize);
  reportWidth();

  beat();
  const beats = setInterval(beat, model.get("period_ms"));
  const watch = setInterval(check, 1000);
  // A tab coming back from the background beats at once, so a paused refresh resumes without delay,
  // and its watchdog starts counting afresh.
  const onVisible = () => {
    if (document.visibilityState === "visible") {
      lastHeard = Math.max(lastHeard, Date.now() - model.get("period_ms"));
      beat();
    }
  };
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    clearInterval(beats);
    clearInterval(watch);
    model.off("msg:custom", onMessage);
    document.removeEventListener("visibilitychange", onVisible);
    window.removeEventListener("resize", onResize);
  };
}
export default { render };
"""


def watchdog_timings(interval_s: float, period_ms: int = 2_000) -> tuple[int, int]:
    """How long the page waits for its kernel before it says "Disconnected", and before it reloads (ms).

    Two refresh intervals, but at least two and a half beats (an answer comes
    once a beat) and at most 12 s; a reload after at least 20 s, or three
    silences.

    Examples
    --------
    >>> watchdog_timings(1.0), watchdog_timings(2.0), watchdog_timings(30.0)
    ((5000, 20000), (5000, 20000), (12000, 36000))
    """
    silence = round(min(max(2 * interval_s * 1000, _SILENT_BEATS * period_ms), _MAX_SILENCE_MS))
    return silence, max(_MIN_RELOAD_AFTER_MS, 3 * silence)


class Heartbeat(anywidget.AnyWidget):
    """An invisible widget that records when the page last said it is alive, and answers it.

    ``last_beat`` is a reading of ``clock`` (monotonic seconds, ``time.monotonic``
    unless a ``Refresher`` gave its own: the two share one clock), ``None`` before the first
    beat; callbacks registered with :meth:`on_beat` run on every beat.
    ``silence_ms`` and ``reload_after_ms`` are the page's watchdog timings
    (see :func:`watchdog_timings`).
    """

    _esm = _ESM
    period_ms = traitlets.Int(2_000).tag(sync=True)
    silence_ms = traitlets.Int(watchdog_timings(30.0)[0]).tag(sync=True)
    reload_after_ms = traitlets.Int(watchdog_timings(30.0)[1]).tag(sync=True)
    # The browser window's width in CSS pixels, as the page reports it (0 until it does).
    viewport_px = traitlets.Int(0).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("cc-heartbeat")
        self.clock: Callable[[], float] = time.monotonic
        self.last_beat: float | None = None
        self._callbacks: list[Callable[[], None]] = []
        self.on_msg(self._on_message)

    def _on_message(self, _widget: object, content: object, _buffers: object) -> None:
        if isinstance(content, dict) and content.get("type") == "beat":
            self.beat()
            self.send({"type": "ack"})

    def watch_interval(self, interval_s: float) -> None:
        """Set the page's watchdog for a refresh every ``interval_s`` seconds."""
        self.silence_ms, self.reload_after_ms = watchdog_timings(interval_s, self.period_ms)

    def beat(self) -> None:
        """Record a beat now (what a message from the page does)."""
        self.last_beat = self.clock()
        for callback in self._callbacks:
            callback()

    def on_beat(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on every beat (from the thread that handles widget messages)."""
        self._callbacks.append(callback)
