"""Safe HTML building: every value that reaches markup goes through here.

``ipywidgets.HTML`` renders its value as HTML, so an API name like
``<img src=x onerror=…>`` would run in the operator's browser. Text is escaped
with :func:`esc`; links from the store are only made for http(s) URLs.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

__all__ = ["esc", "link", "panel_link"]


def esc(value: object) -> str:
    """Text (anything, ``str()``-ed) escaped for an HTML body or a quoted attribute.

    Examples
    --------
    >>> esc('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    return html.escape("" if value is None else str(value), quote=True)


def panel_link(panel_url: object, fragment: str) -> str | None:
    """The control center's panel URL with a tab fragment (none when empty), or ``None`` when it is not a web URL.

    Only ``http``/``https`` URLs become links: a ``javascript:`` URL in the
    store's settings would otherwise run when the banner is clicked.

    Examples
    --------
    >>> panel_link("https://localhost:3002/panel", "finance")
    'https://localhost:3002/panel#finance'
    >>> panel_link("https://h/panel#old", "settings/backup")
    'https://h/panel#settings/backup'
    >>> panel_link("javascript:alert(1)", "finance") is None
    True
    """
    if not isinstance(panel_url, str):
        return None
    url = panel_url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    base = url.split("#", 1)[0]
    return f"{base}#{fragment}" if fragment else base


def link(url: str | None, inner_html: str, css_class: str = "") -> str:
    """``inner_html`` wrapped in a link opening ``url`` in a new tab; bare when there is no URL.

    ``inner_html`` must already be safe markup; ``url`` is escaped here.

    Examples
    --------
    >>> link("https://h/p#finance", "Manage", "cc-link")
    '<a class="cc-link" href="https://h/p#finance" target="_blank" rel="noopener noreferrer">Manage</a>'
    >>> link(None, "Manage")
    '<span>Manage</span>'
    """
    cls = f' class="{esc(css_class)}"' if css_class else ""
    if url is None:
        return f"<span{cls}>{inner_html}</span>"
    # A new tab: leaving the dashboard's tab would end its kernel and its refresh loop.
    return f'<a{cls} href="{esc(url)}" target="_blank" rel="noopener noreferrer">{inner_html}</a>'
