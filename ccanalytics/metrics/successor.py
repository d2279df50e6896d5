"""A day range's next history, built before the current one's span ends: off the refresh path.

A ``History`` answers for ``SPAN_MS`` after its build, and building one takes
seconds on millions of calls.  So once a history has less than ``LEAD_MS`` of
its span left, the refresh that notices hands the store a ``Build`` of the
next one, from the ledger as it is then (its frames are immutable: the build
reads one state, whatever the ledger becomes meanwhile), and the store runs it
elsewhere (``store.builder``).  The current history keeps answering; the
first refresh it cannot answer takes the successor, waiting for it only if it
is still being built, and builds one itself only when none answers (no
refresh came in the last hour of the span, the ledger settled, a call before
its horizon came, another time zone...).

Pure: the store does the reading and the threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccanalytics.metrics.history import SPAN_MS
from ccanalytics.units import HOUR_MS

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ccanalytics.metrics.history import History
    from ccanalytics.metrics.quarters import Reader

__all__ = ["LEAD_MS", "Build", "Later", "Successor", "due", "taken"]

LEAD_MS = HOUR_MS  # a history's successor is started this long before its span ends
Build = Callable[["Reader | None"], "History"]  # a history's build, given a reader of the store's rows (or none)
Later = Callable[[Build], "Future[History]"]  # runs a build elsewhere


@dataclass(frozen=True)
class Successor:
    """The next history of ``range_name``, being built (or built) at ``built``."""

    range_name: str
    built: int
    future: Future[History]


def due(history: History, now: int) -> bool:
    """Whether ``history`` has less than ``LEAD_MS`` of its span left at ``now``: time to build the next.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> h = SimpleNamespace(built=0)
    >>> due(h, SPAN_MS - LEAD_MS - 1), due(h, SPAN_MS - LEAD_MS)
    (False, True)
    """
    return now >= history.built + SPAN_MS - LEAD_MS


def taken(successors: tuple[Successor, ...], range_name: str, answers: Callable[[History], bool]) -> History | None:
    """The successor of ``range_name`` if it answers (waited for while it is being built); None otherwise.

    A build that failed (the store changed underneath, say) gives None: the
    refresh then builds one itself, and reports what goes wrong then.
    """
    for successor in successors:
        if successor.range_name == range_name:
            try:
                history = successor.future.result()
            except Exception:  # built again on the refresh path, which reports what goes wrong
                return None
            return history if answers(history) else None
    return None
