"""ccanalytics.ui.theme: the views' stylesheet, the dark theme last so that it wins."""

from __future__ import annotations

from ccanalytics.ui.theme import DARK_CSS, view_style_widget


def test_the_dark_theme_comes_last_and_the_widget_holds_the_sheet() -> None:
    assert DARK_CSS.index("prefers-color-scheme: dark") > DARK_CSS.index(".cc-change-neutral")
    assert DARK_CSS.count("{") == DARK_CSS.count("}")
    style = view_style_widget()
    assert style.value == f"<style>{DARK_CSS}</style>" and "cc-style" in style._dom_classes
