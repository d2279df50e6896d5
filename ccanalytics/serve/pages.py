"""The guard's own pages: a refusal, "busy", "signed out" and the sign-in form; small, self-contained, escaped."""

from __future__ import annotations

import html

__all__ = ["login_page", "page"]


def page(title: str, text: str, link: str | None = None) -> str:
    """A small, self-contained HTML page (no script, nothing from elsewhere); every text is escaped.

    >>> "<b>" in page("T", "<b>x</b>")
    False
    """
    more = f'<p><a href="{html.escape(link)}">Open the dashboard</a></p>' if link is not None else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width">'
        "<style>body{font:16px system-ui,sans-serif;margin:4rem auto;max-width:36rem;color:#222}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{more}</body></html>"
    )


def login_page(action: str, xsrf: str, error: str | None = None) -> str:
    """The sign-in form: the token only, posted back to the same address; every text is escaped.

    >>> "Wrong token" in login_page("/login?next=%2F", "x", "Wrong token")
    True
    >>> "new_password" in login_page("/", "x") or "jupyter server list" in login_page("/", "x")
    False
    """
    wrong = f'<p role="alert" style="color:#b42318">{html.escape(error)}</p>' if error else ""
    form = (
        f'<form method="post" action="{html.escape(action)}">'
        f'<input type="hidden" name="_xsrf" value="{html.escape(xsrf)}">'
        '<p><label for="password">Token</label><br>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required '
        'style="font:inherit;padding:.4rem;width:100%;box-sizing:border-box"></p>'
        '<p><button type="submit" style="font:inherit;padding:.4rem 1rem">Open the dashboard</button></p></form>'
    )
    text = (
        "This dashboard needs its token. Open the address `ccanalytics serve` printed (it carries the token), "
        "or paste the token here."
    )
    return page("ccanalytics — sign in", text).replace("</body>", f"{wrong}{form}</body>")
