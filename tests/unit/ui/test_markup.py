"""ui/markup.py: every store text escaped, only web URLs become links (quality.md: hostile stores)."""

from __future__ import annotations

import pytest

from ccanalytics.ui.markup import esc, link, panel_link


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('" onmouseover="x', "&quot; onmouseover=&quot;x"),
        ("it's", "it&#x27;s"),
        ("a & b", "a &amp; b"),
        (None, ""),
        (42, "42"),
        ("ünï 💸", "ünï 💸"),
    ],
)
def test_esc_makes_any_value_safe_in_a_body_or_a_quoted_attribute(value: object, shown: str) -> None:
    assert esc(value) == shown


@pytest.mark.parametrize(
    ("url", "fragment", "target"),
    [
        ("https://localhost:3002/panel", "finance", "https://localhost:3002/panel#finance"),
        ("  http://node.local/panel  ", "settings/backup", "http://node.local/panel#settings/backup"),
        ("HTTPS://H/p#old", "finance", "HTTPS://H/p#finance"),
        ("https://h/p", "", "https://h/p"),
        ("javascript:alert(1)", "finance", None),
        ("data:text/html,<b>x</b>", "finance", None),
        ("https://", "finance", None),  # no host
        ("//evil.example/p", "finance", None),
        ("http://[::1", "finance", None),  # unparsable
        (None, "finance", None),
        (3002, "finance", None),
    ],
)
def test_panel_link_is_a_web_url_or_nothing(url: object, fragment: str, target: str | None) -> None:
    assert panel_link(url, fragment) == target


def test_a_link_escapes_its_url_and_opens_a_new_tab() -> None:
    html = link('https://h/p?a=1&b="2"', "Go", 'x" onclick="y')
    assert html == (
        '<a class="x&quot; onclick=&quot;y" href="https://h/p?a=1&amp;b=&quot;2&quot;" target="_blank"'
        ' rel="noopener noreferrer">Go</a>'
    )
    assert link(None, "Go", "cc-x") == '<span class="cc-x">Go</span>'
