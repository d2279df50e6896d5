"""The page's URL follows the view on screen, and a URL opens its view (views.md, "The page").

:class:`UrlState` writes the view's query with ``history.replaceState``;
:func:`follow_url` reads the query the page was opened with (Voila hands the
kernel ``QUERY_STRING``; a preheated kernel waits for its visitor's request).
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from ccanalytics.ui.choice import ViewChoice

__all__ = ["UrlState", "apply_query", "follow_url"]

_URL_ESM = r"""
function render({ model, el }) {
  el.classList.add("cc-url-state");
  const write = () => {
    const query = model.get("query");
    const url = window.location.pathname + (query ? "?" + query : "") + window.location.hash;
    if (url !== window.location.pathname + window.location.search + window.location.hash) {
      window.history.replaceState(window.history.state, "", url);
    }
  };
  // Only changes are written: the URL the page opened with is the kernel's to read, not to erase.
  model.on("change:query", write);
  return () => model.off("change:query", write);
}
export default { render };
"""


class UrlState(anywidget.AnyWidget):
    """An invisible widget that keeps the page's URL query equal to ``query`` (``history.replaceState``).

    The page writes only changes: a preheated kernel learns the page's query
    only after the page opened, and must not erase it first.
    """

    _esm = _URL_ESM
    query = traitlets.Unicode("").tag(sync=True)


def apply_query(dashboard: Any, query: str | None) -> None:
    """Show the view a URL query asks for (on the kernel's loop), then keep the URL in step."""
    if dashboard.controls.touched:  # the visitor picked a view before the query came: theirs wins
        return
    wanted = ViewChoice.from_query(query)
    choice: ViewChoice = dashboard.view
    changed = (wanted.range, wanted.api) != (choice.range, choice.api)
    choice.range, choice.api = wanted.range, wanted.api
    if wanted.role is not None:
        choice.role = wanted.role
        dashboard._chosen_role = wanted.role
    dashboard.controls.sync()
    # A preheated kernel may apply the query before the page has connected: say it again later.
    dashboard.controls.resend = 2
    dashboard._show_role()
    request = getattr(dashboard.refresher, "request_refresh", None)
    if changed and callable(request):
        request()


def follow_url(dashboard: Any) -> None:
    """Show the view of the page's URL query (``?range=7d&role=seller&api=…``).

    Voila hands a kernel the query in ``QUERY_STRING``; a preheated kernel
    (``serve`` keeps one warm) runs before its visitor arrives, so it waits for
    the request in a thread and applies the query on the loop when it comes.
    """
    import asyncio
    import os
    import threading

    if os.environ.get("VOILA_PREHEAT", "False") == "False":
        apply_query(dashboard, os.environ.get("QUERY_STRING", ""))
        return
    loop = asyncio.get_running_loop()

    def wait() -> None:
        try:
            from voila.utils import wait_for_request

            wait_for_request()
        except Exception:  # no request info: keep the default view (and still follow the controls)
            pass
        loop.call_soon_threadsafe(apply_query, dashboard, os.environ.get("QUERY_STRING", ""))

    threading.Thread(target=wait, name="ccanalytics-url", daemon=True).start()
