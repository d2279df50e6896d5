"""The page's heartbeat: a tiny invisible widget whose JavaScript says "still here".

A kernel whose refresh loop keeps sending widget updates is never culled by
the server, even after its tab crashed or its laptop went to sleep. The page
sends a beat every ``period_ms``; the refresh loop stops itself when the beats
stop, and the kernel can then be culled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

__all__ = ["Heartbeat"]

_ESM = """
function render({ model, el }) {
  el.classList.add("cc-heartbeat");
  const beat = () => model.send({ type: "beat" });
  beat();
  const timer = setInterval(beat, model.get("period_ms"));
  // A tab coming back from the background beats at once, so a paused refresh resumes without delay.
  const onVisible = () => { if (document.visibilityState === "visible") beat(); };
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
export default { render };
"""


class Heartbeat(anywidget.AnyWidget):
    """An invisible widget that records when the page last said it is alive.

    ``last_beat`` is a ``time.monotonic()`` reading, ``None`` before the first
    beat; callbacks registered with :meth:`on_beat` run on every beat.
    """

    _esm = _ESM
    period_ms = traitlets.Int(2_000).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("cc-heartbeat")
        self.last_beat: float | None = None
        self._callbacks: list[Callable[[], None]] = []
        self.on_msg(self._on_message)

    def _on_message(self, _widget: object, content: object, _buffers: object) -> None:
        if isinstance(content, dict) and content.get("type") == "beat":
            self.beat()

    def beat(self) -> None:
        """Record a beat now (what a message from the page does)."""
        self.last_beat = time.monotonic()
        for callback in self._callbacks:
            callback()

    def on_beat(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` on every beat (from the thread that handles widget messages)."""
        self._callbacks.append(callback)
