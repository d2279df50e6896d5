"""The views' stylesheet: the range picker, the API filter, the downloads, the change lines and the dark theme."""

from __future__ import annotations

import ipywidgets as widgets

__all__ = ["DARK_CSS", "view_style_widget"]


DARK_CSS = """
.cc-dashboard .cc-view-bar { align-items: center; gap: 12px; flex-wrap: wrap; }
.cc-dashboard .cc-url { display: none; }
.cc-dashboard .cc-range { margin: 0; }
.cc-dashboard .cc-range .jupyter-widget-toggle-buttons, .cc-dashboard .cc-range.widget-toggle-buttons,
.cc-dashboard .cc-range.jupyter-widget-toggle-buttons {
  display: inline-flex; background: #e9eef5; border-radius: 9px; padding: 3px; width: auto;
}
.cc-dashboard .cc-range .jupyter-button {
  width: auto; min-width: 44px; height: 28px; margin: 0; padding: 0 12px; border-radius: 7px;
  background: transparent; box-shadow: none; color: var(--cc-muted); font-weight: 600; font-size: 13px;
}
.cc-dashboard .cc-range .jupyter-button.mod-active {
  background: #ffffff; color: var(--cc-text); box-shadow: 0 1px 2px rgba(15, 23, 42, 0.12);
}
.cc-dashboard .cc-api-filter { width: auto; margin: 0; }
.cc-dashboard .cc-api-filter select {
  height: 32px; border-radius: 8px; border: 1px solid var(--cc-border); padding: 0 8px; font-size: 13px;
  min-width: 10em; flex: none;
}
.cc-dashboard .cc-api-filter .widget-label { color: var(--cc-muted); font-size: 13px; margin-right: 6px; }
.cc-dashboard .cc-export { margin-left: auto; }
.cc-dashboard .cc-export-body {
  display: inline-flex; gap: 10px; align-items: center; flex-wrap: wrap; font-size: 12.5px;
}
.cc-dashboard .cc-export-label { color: var(--cc-muted); font-weight: 600; }
.cc-dashboard .cc-export-link { color: var(--cc-blue); font-weight: 600; text-decoration: none; }
.cc-dashboard .cc-card-change { font-size: 12.5px; margin-top: 4px; font-weight: 600; }
.cc-dashboard .cc-change-good { color: var(--cc-green); }
.cc-dashboard .cc-change-bad { color: var(--cc-red); }
.cc-dashboard .cc-change-neutral { color: var(--cc-muted); }
/* A phone (page.NARROW_PX): the controls are at least 36 px tall, so that a thumb can tap them. */
@media (max-width: 719px) {
  .cc-dashboard .cc-range .jupyter-button, .cc-dashboard .cc-mode .jupyter-button { height: 36px; }
  .cc-dashboard .jupyter-button.cc-refresh, .cc-dashboard .cc-api-filter select { height: 36px; }
  .cc-dashboard .cc-export-link { display: inline-block; padding: 8px 0; }
  .cc-dashboard .cc-export-body { row-gap: 0; }
}
/* The dark theme: last, so that it wins over the light rules above. */
@media (prefers-color-scheme: dark) {
  body, .jp-Notebook, .jp-Cell, .jp-OutputArea-output, #rendered_cells { background: #0b1120 !important; }
  .cc-dashboard {
    --cc-bg: #0f172a; --cc-card: #111c31; --cc-border: #23324d; --cc-line: #1c2a42;
    --cc-text: #e2e8f0; --cc-muted: #94a3b8; --cc-faint: #8a97ab;
    --cc-green: #22c55e; --cc-red: #f87171; --cc-amber: #fbbf24; --cc-blue: #60a5fa;
  }
  .cc-dashboard .jupyter-widget-html-content, .cc-dashboard .widget-html-content { color: var(--cc-text); }
  .cc-dashboard .cc-mode .jupyter-widget-toggle-buttons, .cc-dashboard .cc-mode .widget-toggle-buttons,
  .cc-dashboard .cc-range.widget-toggle-buttons, .cc-dashboard .cc-range.jupyter-widget-toggle-buttons,
  .cc-dashboard .cc-range .jupyter-widget-toggle-buttons { background: #1e293b; }
  .cc-dashboard .cc-th, .cc-dashboard .cc-sort { color: var(--cc-muted); background: transparent; }
  /* Banners, chips and warning pills: dark grounds, light inks (9:1 and more), no light block on a dark page. */
  .cc-dashboard .cc-banner-error .cc-banner-body, .cc-dashboard .cc-alert-chip, .cc-dashboard .cc-pill-error,
  .cc-dashboard .cc-pill-disconnected {
    background: #2a1215; border-color: #7f1d1d; color: #fca5a5;
  }
  .cc-dashboard .cc-banner-warn .cc-banner-body, .cc-dashboard .cc-alert-backup_overdue,
  .cc-dashboard .cc-alert-low_gas, .cc-dashboard .cc-pill-warn {
    background: #2a2110; border-color: #92400e; color: #fcd34d;
  }
  .cc-dashboard .cc-banner-icon [fill="#fff"] { fill: #1a1010; }
  .cc-dashboard .cc-refresh-error-body { background: #2a1215; border-color: #7f1d1d; color: #fca5a5; }
  .cc-dashboard .cc-card-runway { color: var(--cc-muted); }
  .cc-dashboard .cc-tone-warn, .cc-dashboard .cc-wallet-warn, .cc-dashboard .cc-reconciliation-warn {
    color: var(--cc-amber);
  }
  .cc-dashboard .cc-empty a { color: var(--cc-blue); }
  .cc-dashboard .cc-mode .jupyter-button.mod-active, .cc-dashboard .cc-range .jupyter-button.mod-active {
    background: #334155; color: var(--cc-text);
  }
  .cc-dashboard .jupyter-button.cc-refresh, .cc-dashboard .cc-api-filter select {
    background-color: #1e293b; color: var(--cc-text); border-color: var(--cc-border);
  }
  /* The select's arrow, light (the widgets' own is black, unseen on a dark ground). */
  .cc-dashboard .cc-api-filter select {
    background-image: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 18 18'%3E%3Cpath\
 d='M5 7l4 4 4-4' fill='none' stroke='%2394a3b8' stroke-width='1.8'/%3E%3C/svg%3E");
    background-repeat: no-repeat; background-size: 18px; background-position: right 6px center; padding-right: 28px;
  }
  .cc-dashboard .jupyter-button.cc-refresh:hover { background-color: #273449; }
  .cc-dashboard .cc-pill-ok, .cc-dashboard .cc-pill-idle, .cc-dashboard .cc-badge-unknown {
    background: #1e293b; color: var(--cc-muted);
  }
  .cc-dashboard .cc-badge-mode { background: #312e81; color: #c7d2fe; }
  .cc-dashboard .cc-badge-up { background: #052e2b; color: #6ee7b7; border-color: #065f46; }
  .cc-dashboard .cc-kpi-warn .cc-card { background: #2a2110; border-color: #92400e; }
  .cc-dashboard .cc-empty { border-color: var(--cc-border); }
  .cc-dashboard .bqplot text, .cc-dashboard .bqplot .tick text { fill: #94a3b8 !important; }
  .cc-dashboard .bqplot .tick line { stroke: #23324d !important; }
  .cc-dashboard .bqplot, .cc-dashboard .bqplot svg { background: transparent !important; }
  .cc-dashboard .bqplot .plotarea_background { fill: transparent !important; }
}
"""


def view_style_widget() -> widgets.HTML:
    """The views' stylesheet (controls, change lines, the dark theme) as an invisible widget."""
    style = widgets.HTML(f"<style>{DARK_CSS}</style>")
    style.add_class("cc-style")
    return style
