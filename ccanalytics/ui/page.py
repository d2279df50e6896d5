"""The Dashboard page: header, banners, KPI cards, chart, breakdown, event log, empty state.

A one-way pipe: :meth:`Dashboard.update` takes a snapshot dict (metrics.md,
"The snapshot JSON") and sets the values of widgets built once; it never
rebuilds the page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.alerts import AlertChips
from ccanalytics.ui.banners import Banners
from ccanalytics.ui.cards import KpiRow
from ccanalytics.ui.chart import CallRateChart
from ccanalytics.ui.heartbeat import Heartbeat
from ccanalytics.ui.markup import esc, link, panel_link
from ccanalytics.ui.parts import section
from ccanalytics.ui.reconciliation import reconciliation_line
from ccanalytics.ui.style import style_widget
from ccanalytics.ui.tables import BreakdownTable, EventLog
from ccanalytics.ui.views import ViewChoice, ViewControls, show_scope, view_style_widget
from ccanalytics.ui.wallet import WalletLine

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["FRESHNESS_LEVELS", "Dashboard", "roles_with_calls"]

ROLES = ("buyer", "seller")
FRESHNESS_LEVELS = ("ok", "warn", "error", "idle")
# Below this window width (CSS px) the page is laid out for a phone (style.py's media queries agree).
NARROW_PX = 720

_EMPTY_ICON = (
    '<svg viewBox="0 0 48 48" width="48" height="48" aria-hidden="true"><rect x="6" y="26" width="8" height="14" '
    'rx="2" fill="#cbd5e1"/><rect x="20" y="16" width="8" height="24" rx="2" fill="#94a3b8"/><rect x="34" y="8" '
    'width="8" height="32" rx="2" fill="#cbd5e1"/></svg>'
)


def _rows(section: Mapping[str, Any], key: str) -> list[Any]:
    rows = section.get(key)
    return list(rows) if isinstance(rows, list | tuple) else []


def roles_with_calls(snapshot: Mapping[str, Any]) -> tuple[str, ...]:
    """The roles that have calls in the store (their all-time breakdown is not empty).

    Examples
    --------
    >>> roles_with_calls({"buyer": {"breakdown": [{"api_id": "a"}]}, "seller": {"breakdown": []}})
    ('buyer',)
    """
    return tuple(role for role in ROLES if _rows(section(snapshot, role), "breakdown"))


def _empty_html(panel_url: object) -> str:
    catalog = link(panel_link(panel_url, "catalog"), "Browse the Catalog →")
    manage = link(panel_link(panel_url, "api-management"), "Register an API in API Management →")
    links = f'<div class="cc-empty-links">{catalog}{manage}</div>' if panel_link(panel_url, "") else ""
    return (
        f'<div class="cc-empty-body">{_EMPTY_ICON}'
        '<h2 class="cc-empty-title">No API activity yet</h2>'
        '<div class="cc-empty-text">Browse the <strong>Catalog</strong> to discover APIs to call, or register '
        "your own API in <strong>API Management</strong> to start earning USDC.</div>"
        f"{links}</div>"
    )


class Dashboard:
    """The dashboard page, built once from widgets and updated in place from snapshot dicts.

    Parameters
    ----------
    snapshot
        A snapshot dict to show at once; ``None`` shows an empty page until :meth:`update`.

    Notes
    -----
    The role shown is the snapshot's ``mode`` until the user picks the other
    role with the mode switch (offered when the store has calls of both
    roles); that choice then survives refreshes. Display a ``Dashboard`` like
    any widget (it is the last expression of a cell in the Voila notebook).
    """

    def __init__(self, snapshot: Mapping[str, Any] | None = None, view: ViewChoice | None = None) -> None:
        self.title = widgets.HTML(
            '<h1 class="cc-title">Dashboard</h1>'
            '<div class="cc-subtitle">Your at-a-glance overview of activity, balances, and system health.</div>'
        )
        self.mode_switch = widgets.ToggleButtons(
            options=[("Buyer", "buyer"), ("Seller", "seller")],
            value="buyer",
            tooltips=["Calls this node made", "Calls this node served"],
        )
        self.mode_switch.add_class("cc-mode-switch")
        self.mode_switch.observe(self._on_mode_switch, names="value")
        self.mode_badge = widgets.HTML()
        self.mode_badge.add_class("cc-mode-badge")
        self.mode = widgets.HBox()
        self.mode.add_class("cc-mode")
        self.freshness = widgets.HTML()
        self.freshness.add_class("cc-updated")
        self.refresh_button = widgets.Button(description="↻ Refresh now", tooltip="Refresh the dashboard now")
        self.refresh_button.add_class("cc-refresh")
        self.uptime = widgets.HTML()
        self.uptime.add_class("cc-uptime")
        self.heartbeat = Heartbeat()
        self.heartbeat.observe(self._on_viewport, names="viewport_px")
        self.alerts = AlertChips()  # the firing rules of alerts.md, one chip each

        left = widgets.HBox([self.title, self.mode])
        left.add_class("cc-header-left")
        right = widgets.HBox([self.alerts.widget, self.freshness, self.refresh_button, self.uptime, self.heartbeat])
        right.add_class("cc-header-right")
        self.header = widgets.HBox([left, right])
        self.header.add_class("cc-header")

        # A failed refresh's one line (what the CLI would print), under the header while it lasts.
        self.refresh_error = widgets.HTML()
        self.refresh_error.add_class("cc-refresh-error")
        self.banners = Banners()
        self.kpis = KpiRow()
        self.wallet = WalletLine()
        self.chart = CallRateChart()
        self.breakdown = BreakdownTable()
        self.reconciliation = widgets.HTML()
        self.events = EventLog()
        self.empty = widgets.HTML()
        self.empty.add_class("cc-empty")
        self.main = widgets.VBox()
        self.main.add_class("cc-main")

        # views.md: the range picker, the API filter, the downloads, and the view kept in the URL.
        self.view = view if view is not None else ViewChoice()
        self.controls = ViewControls(self.view)
        self.controls.range.observe(self._on_view_change, names="value")
        self.controls.api.observe(self._on_view_change, names="value")
        self.widget = widgets.VBox(
            [
                style_widget(),
                view_style_widget(),
                self.header,
                self.controls.widget,
                self.refresh_error,
                self.banners.widget,
                self.main,
                self.events.widget,
            ]
        )
        self.widget.add_class("cc-dashboard")

        self._snapshot: Mapping[str, Any] = {}
        self._chosen_role: str | None = self.view.role
        self._syncing_switch = False
        # Set by ccanalytics.ui.refresh.live_dashboard: the page keeps its refresh loop alive.
        self.refresher: object | None = None
        self.update(snapshot if snapshot is not None else {})
        # What a page without a refresh loop can truthfully say; a Refresher replaces it.
        as_of = fmt.short_time(self._snapshot.get("now"), fmt.store_zone(self._snapshot.get("timezone")))
        self.show_freshness("Waiting for data…" if as_of == fmt.UNKNOWN else f"As of {as_of}", "idle")

    # -- display -----------------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- state -------------------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Mapping[str, Any]:
        """The snapshot on screen."""
        return self._snapshot

    @property
    def role(self) -> str:
        """The role on screen: the user's pick when both roles have calls, else the snapshot's mode."""
        if self._chosen_role is not None and len(roles_with_calls(self._snapshot)) == len(ROLES):
            return self._chosen_role
        mode = self._snapshot.get("mode")
        return mode if mode in ROLES else "buyer"

    @property
    def is_empty(self) -> bool:
        """Whether the page shows the empty state instead of cards, chart and breakdown."""
        return section(self._snapshot, "banners").get("empty_state") is True

    # -- updates -----------------------------------------------------------------------------------------

    def update(self, snapshot: Mapping[str, Any]) -> None:
        """Show ``snapshot``: set every widget's value in place.

        Parameters
        ----------
        snapshot
            The dict of metrics.md "The snapshot JSON" (``Snapshot.to_dict()``), with
            ``panel_url``, ``last_backup``, ``banners.low_gas`` and ``balances.note``.
        """
        self._snapshot = snapshot
        uptime = fmt.uptime(snapshot.get("uptime_s"))
        badge = "cc-badge-unknown" if uptime.startswith("Uptime") else "cc-badge-up"
        self.uptime.value = (
            f'<span class="cc-badge {badge}" title="Control center uptime since its last start">{esc(uptime)}</span>'
        )
        self.banners.update(snapshot)
        self.alerts.update(snapshot)
        self._show_role()
        zone_name = self._zone_name()
        self.events.update(_rows(snapshot, "events"), fmt.store_zone(zone_name), zone_name)

    def _zone_name(self) -> str:
        zone = fmt.store_zone(self._snapshot.get("timezone"))
        return str(getattr(zone, "key", "UTC"))

    def _show_role(self) -> None:
        role = self.role
        both = len(roles_with_calls(self._snapshot)) == len(ROLES)
        self._syncing_switch = True
        try:
            self.mode_switch.value = role
        finally:
            self._syncing_switch = False
        self.mode_badge.value = f'<span class="cc-badge cc-badge-mode">{esc(role.capitalize())} mode</span>'
        mode_children = (self.mode_switch,) if both else (self.mode_badge,)
        if self.mode.children != mode_children:
            self.mode.children = mode_children

        if self.is_empty:
            self.empty.value = _empty_html(self._snapshot.get("panel_url"))
            main_children: tuple[widgets.Widget, ...] = (self.empty,)
        else:
            zone_name = self._zone_name()
            show_scope(self, role, zone_name)
            # The seller cards hold no balance: the wallet line shows it, and its low-balance warnings.
            wallet = (self.wallet.widget,) if role == "seller" else ()
            if wallet:
                self.wallet.update(self._snapshot)
            main_children = (self.kpis.widget, *wallet, self.chart.widget, self.breakdown.widget)
            self.reconciliation.value = reconciliation_line(self._snapshot.get("reconciliation"), zone_name)
            if self.reconciliation.value:
                main_children = (*main_children, self.reconciliation)
        if self.main.children != main_children:
            self.main.children = main_children

    def _on_viewport(self, change: Mapping[str, Any]) -> None:
        width = change["new"]
        self.chart.set_narrow(0 < width < NARROW_PX)

    def _on_mode_switch(self, change: Mapping[str, Any]) -> None:
        if self._syncing_switch:
            return
        self._chosen_role = change["new"]
        self.view.role = change["new"]
        self.controls.sync()
        self._show_role()

    def _on_view_change(self, _change: Mapping[str, Any]) -> None:
        """A range or API picked: keep it in the URL and refresh (off the loop) for the new view."""
        if self.controls.syncing:
            return
        self.view.range = self.controls.range.value
        self.view.api = self.controls.api.value or None
        self.controls.sync()
        refresher = self.refresher
        request = getattr(refresher, "request_refresh", None)
        if callable(request):
            request()
        self._show_role()

    def show_refresh_error(self, line: str) -> None:
        """Show why the last refresh failed (one line, escaped), or nothing when ``line`` is empty."""
        self.refresh_error.value = (
            f'<div class="cc-refresh-error-body" role="alert"><strong>Refresh failed:</strong> {esc(line)}</div>'
            if line
            else ""
        )

    def show_freshness(self, text: str, level: str, detail: str = "") -> None:
        """Set the freshness pill: ``text`` at ``level`` (ok, warn, error or idle), ``detail`` on hover."""
        level = level if level in FRESHNESS_LEVELS else "idle"
        title = f' title="{esc(detail)}"' if detail else ""
        self.freshness.value = f'<span class="cc-pill cc-pill-{level}"{title}>{esc(text)}</span>'
