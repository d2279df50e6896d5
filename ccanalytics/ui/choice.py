"""The view on screen (views.md, "The page"): a range, a role and an API, read from and written to the URL query.

A :class:`ViewChoice` is read from the page's URL query (Voila hands the
kernel ``QUERY_STRING``) and written back to it (``ccanalytics.ui.url``), so a
link opens the same view.  The refresh computes the snapshot of the chosen view
off the loop (``ViewChoice.snapshot_args``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

__all__ = ["OVERVIEW", "PERIODS", "RANGE_CHOICES", "WINDOWS", "ViewChoice"]

OVERVIEW = "overview"
RANGE_CHOICES = (("Overview", OVERVIEW), ("1h", "1h"), ("24h", "24h"), ("7d", "7d"), ("30d", "30d"), ("90d", "90d"))
_RANGES = tuple(value for _, value in RANGE_CHOICES)
_ROLES = ("buyer", "seller")
# How a ranged view names the period before it (the change lines) and itself (the cards' small line).
PERIODS = {"1h": "previous 1 h", "24h": "previous 24 h", "7d": "previous 7 d", "30d": "previous 30 d"}
PERIODS["90d"] = "previous 90 d"
WINDOWS = {"1h": "last 1 h", "24h": "last 24 h", "7d": "last 7 d", "30d": "last 30 d", "90d": "last 90 d"}


@dataclass
class ViewChoice:
    """The view on screen: ``range`` (``overview`` or a views.md range), ``role`` (None: the mode), ``api``."""

    range: str = OVERVIEW
    role: str | None = None
    api: str | None = None

    @classmethod
    def from_query(cls, query: str | None) -> ViewChoice:
        """The view a URL query asks for; unknown values are ignored.

        Examples
        --------
        >>> ViewChoice.from_query("range=30d&role=buyer&api=bb-graphql")
        ViewChoice(range='30d', role='buyer', api='bb-graphql')
        >>> ViewChoice.from_query("range=5y&role=admin&api=")
        ViewChoice(range='overview', role=None, api=None)
        """
        values = parse_qs(query or "", keep_blank_values=True)

        def first(key: str) -> str | None:
            found = values.get(key)
            return found[0] if found else None

        chosen = first("range")
        role = first("role")
        api = first("api")
        return cls(
            range=chosen if chosen in _RANGES else OVERVIEW,
            role=role if role in _ROLES else None,
            api=api if api and len(api) <= 200 else None,
        )

    def query(self) -> str:
        """The URL query of this view (empty for the default view).

        Examples
        --------
        >>> ViewChoice("7d", "seller", "bb-graphql").query()
        'range=7d&role=seller&api=bb-graphql'
        >>> ViewChoice().query()
        ''
        """
        items = [("range", self.range if self.range != OVERVIEW else None), ("role", self.role), ("api", self.api)]
        return urlencode([(k, v) for k, v in items if v], quote_via=quote)

    def snapshot_args(self) -> dict[str, Any]:
        """The keyword arguments of ``store.snapshot`` for this view.

        Examples
        --------
        >>> ViewChoice("90d", api="x").snapshot_args(), ViewChoice(api="x").snapshot_args()
        ({'range': '90d', 'api': 'x'}, {})
        """
        if self.range == OVERVIEW:
            return {}
        return {"range": self.range, "api": self.api}

    def shows(self, snapshot: Mapping[str, Any]) -> bool:
        """Whether ``snapshot`` holds this view (its ``view`` object, or the overview)."""
        view = snapshot.get("view")
        if self.range == OVERVIEW:
            return True
        return isinstance(view, Mapping) and view.get("range") == self.range and view.get("api") == self.api
