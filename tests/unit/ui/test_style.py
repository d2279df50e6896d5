"""ccanalytics.ui.style: one offline stylesheet whose rules touch only the dashboard's own elements."""

from __future__ import annotations

import re

from ccanalytics.ui.style import CSS, style_widget


def _selectors(css: str) -> list[str]:
    bare = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    top_level = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", bare)
    return [one.strip() for group in re.findall(r"([^{}]+)\{", top_level) for one in group.split(",")]


def test_nothing_is_fetched_and_every_rule_names_a_dashboard_class() -> None:
    assert "url(" not in CSS and "@import" not in CSS and "http" not in CSS
    selectors = _selectors(CSS)
    # Under .cc-dashboard, or one of the page's own classes (the chart's tooltip lives outside it).
    assert len(selectors) > 50 and all(".cc-" in selector for selector in selectors)
    assert sum(selector.startswith(".cc-dashboard") for selector in selectors) > 0.9 * len(selectors)
    assert CSS.count("{") == CSS.count("}")


def test_the_widget_carries_the_sheet() -> None:
    widget = style_widget()
    assert widget.value == f"<style>{CSS}</style>" and "cc-style" in widget._dom_classes
