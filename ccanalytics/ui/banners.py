"""The banners above the cards: auto-pause, backup overdue, data issues.

A banner is on the page exactly while its condition holds in the snapshot;
otherwise it is not in the page at all (not merely hidden).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.markup import esc, link, panel_link
from ccanalytics.units import BACKUP_OVERDUE_MS, DAY_MS

__all__ = ["AUTO_PAUSE_TEXT", "Banners", "auto_pause_html", "backup_html", "data_issues", "data_issues_html"]

AUTO_PAUSE_TEXT = "API SERVING PAUSED — Low balance. Click to manage."

# Inline SVG, not glyphs: system fonts lack some symbols (⏸ shows as a box) and icon fonts need a CDN.
_PAUSE_ICON = (
    '<svg class="cc-banner-icon" viewBox="0 0 20 20" width="20" height="20" aria-hidden="true">'
    '<circle cx="10" cy="10" r="9" fill="currentColor"/><rect x="6.6" y="5.8" width="2.3" height="8.4" rx=".8" '
    'fill="#fff"/><rect x="11.1" y="5.8" width="2.3" height="8.4" rx=".8" fill="#fff"/></svg>'
)
_WARNING_ICON = (
    '<svg class="cc-banner-icon" viewBox="0 0 20 20" width="20" height="20" aria-hidden="true">'
    '<path d="M10 1.6 19 17.6H1Z" fill="currentColor" stroke="currentColor" stroke-width="1.2" '
    'stroke-linejoin="round"/><rect x="9" y="6.6" width="2" height="6" rx="1" fill="#fff"/>'
    '<circle cx="10" cy="15" r="1.15" fill="#fff"/></svg>'
)


def _text(strong: str, note: str = "") -> str:
    note_html = f'<span class="cc-banner-note">{note}</span>' if note else ""
    return f'<span class="cc-banner-text"><strong>{strong}</strong>{note_html}</span>'


def auto_pause_html(panel_url: object) -> str:
    """The auto-pause banner: the whole banner links to the panel's Finance tab.

    Examples
    --------
    >>> 'href="https://h/panel#finance"' in auto_pause_html("https://h/panel")
    True
    """
    inner = _PAUSE_ICON + _text(esc(AUTO_PAUSE_TEXT), "Demo mode keeps working while serving is paused.")
    url = panel_link(panel_url, "finance")
    if url is None:
        return f'<div class="cc-banner-body">{inner}</div>'
    return link(url, inner, "cc-banner-body")


def backup_html(last_backup: object, now: object, panel_url: object) -> str:
    """The backup-overdue banner: how long ago the last backup was, or that there is none.

    Examples
    --------
    >>> html = backup_html("2026-10-01T12:00:00Z", "2026-11-25T12:00:00Z", "https://h/p")
    >>> html.split("<strong>")[1].split("</strong>")[0]
    'Backup overdue — the last backup was 55 days ago.'
    >>> "no backup has been made yet" in backup_html(None, "2026-11-25T12:00:00Z", "https://h/p")
    True
    """
    last, moment = fmt.parse_time(last_backup), fmt.parse_time(now)
    if last is None:
        text = "Backup overdue — no backup has been made yet."
    elif moment is None:
        text = f"Backup overdue — the last backup is more than {BACKUP_OVERDUE_MS // DAY_MS} days old."
    else:
        days = (moment - last) // timedelta(milliseconds=DAY_MS)
        text = f"Backup overdue — the last backup was {days} {'day' if days == 1 else 'days'} ago."
    action = link(panel_link(panel_url, "settings/backup"), "Back up now →", "cc-banner-action")
    return f'<div class="cc-banner-body">{_WARNING_ICON}{_text(esc(text))}{action}</div>'


def data_issues(snapshot: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The snapshot's data issues that left out at least one row."""
    issues = snapshot.get("data_issues")
    if not isinstance(issues, Sequence) or isinstance(issues, str):
        return []
    return [issue for issue in issues if isinstance(issue, Mapping) and _rows(issue) > 0]


def _rows(issue: Mapping[str, Any]) -> int:
    try:
        return int(issue.get("rows") or 0)
    except (TypeError, ValueError):
        return 0


def data_issues_html(issues: Sequence[Mapping[str, Any]]) -> str:
    """The data-issues banner: how many rows were left out, per table and rule.

    Examples
    --------
    >>> html = data_issues_html([{"table": "calls", "rule": "status_code outside 100..599", "rows": 2},
    ...                          {"table": "events", "rule": "unknown severity", "rows": 1}])
    >>> html.split("<strong>")[1].split("</strong>")[0]
    '3 rows of the store were left out of every number.'
    """
    total = sum(_rows(issue) for issue in issues)
    head = f"{total:,} {'row' if total == 1 else 'rows'} of the store {'was' if total == 1 else 'were'} left out"
    details = " · ".join(f"{esc(issue.get('table'))}: {_rows(issue):,} ({esc(issue.get('rule'))})" for issue in issues)
    return f'<div class="cc-banner-body">{_WARNING_ICON}{_text(esc(head + " of every number."), details)}</div>'


def _alert(inner_html: str) -> str:
    # role="alert": a screen reader announces a banner when it appears (or its text changes).
    return f'<div role="alert" class="cc-banner-alert">{inner_html}</div>'


class Banners:
    """The banner strip: one HTML widget per banner, in the page only while its condition holds."""

    def __init__(self) -> None:
        self.auto_pause = self._banner("cc-banner-auto-pause", "cc-banner-warn")
        self.backup = self._banner("cc-banner-backup", "cc-banner-error")
        self.data = self._banner("cc-banner-data", "cc-banner-warn")
        self.widget = widgets.VBox()
        self.widget.add_class("cc-banners")

    @staticmethod
    def _banner(*classes: str) -> widgets.HTML:
        banner = widgets.HTML()
        banner.add_class("cc-banner")
        for css_class in classes:
            banner.add_class(css_class)
        return banner

    @property
    def shown(self) -> tuple[widgets.HTML, ...]:
        """The banners on the page, top to bottom."""
        return tuple(self.widget.children)

    def update(self, snapshot: Mapping[str, Any]) -> None:
        """Show the banners whose condition holds in ``snapshot``."""
        flags = snapshot.get("banners")
        flags = flags if isinstance(flags, Mapping) else {}
        panel_url = snapshot.get("panel_url")
        shown = []
        if flags.get("auto_pause") is True:
            self.auto_pause.value = _alert(auto_pause_html(panel_url))
            shown.append(self.auto_pause)
        if flags.get("backup_overdue") is True:
            self.backup.value = _alert(backup_html(snapshot.get("last_backup"), snapshot.get("now"), panel_url))
            shown.append(self.backup)
        issues = data_issues(snapshot)
        if issues:
            self.data.value = _alert(data_issues_html(issues))
            shown.append(self.data)
        if self.widget.children != tuple(shown):
            self.widget.children = tuple(shown)
