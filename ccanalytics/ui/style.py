"""The dashboard's stylesheet, shipped inside the page as one ``<style>`` element.

System fonts and inline SVG only: nothing is fetched from the internet, so the
page looks the same offline. Every rule is scoped under ``.cc-dashboard``, but for
the chart's tooltip (drawn outside the page's element) and the offline page state
(a class on ``body``): none touches an element that is not the dashboard's.
"""

from __future__ import annotations

import ipywidgets as widgets

__all__ = ["CSS", "style_widget"]

CSS = """
.cc-dashboard {
  --cc-bg: #f5f7fb; --cc-card: #ffffff; --cc-border: #e3e8ef; --cc-line: #eef2f6;
  --cc-text: #0f172a; --cc-muted: #556275; --cc-faint: #5f6b7c;
  --cc-green: #16a34a; --cc-red: #dc2626; --cc-amber: #d97706; --cc-blue: #2563eb;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans",
    "Liberation Sans", "DejaVu Sans", Arial, sans-serif;
  font-size: 14px; color: var(--cc-text); background: var(--cc-bg);
  box-sizing: border-box; width: 100%; padding: 20px 24px 32px; gap: 16px; border-radius: 14px;
}
.cc-dashboard .jupyter-widget-html, .cc-dashboard .widget-html {
  margin: 0; width: auto; height: auto; font-size: inherit; color: inherit;
}
.cc-dashboard .jupyter-widget-html-content, .cc-dashboard .widget-html-content {
  line-height: 1.45; white-space: normal;
}
.cc-dashboard .cc-heartbeat, .cc-dashboard .cc-style { display: none; }

/* Header */
.cc-dashboard .cc-header {
  justify-content: space-between; align-items: center; flex-wrap: wrap; gap: 12px;
}
.cc-dashboard .cc-header-left, .cc-dashboard .cc-header-right {
  align-items: center; gap: 12px; flex-wrap: wrap;
}
.cc-dashboard .cc-header-right { margin-left: auto; justify-content: flex-end; }
.cc-dashboard .cc-title { font-size: 24px; font-weight: 700; letter-spacing: -0.01em; line-height: 1.2; margin: 0; }
.cc-dashboard .cc-subtitle { color: var(--cc-muted); font-size: 13px; }
.cc-dashboard .cc-mode { align-items: center; margin: 0; }
.cc-dashboard .cc-mode .jupyter-widget-toggle-buttons, .cc-dashboard .cc-mode .widget-toggle-buttons {
  margin: 0; display: inline-flex; background: #e9eef5; border-radius: 9px; padding: 3px;
}
.cc-dashboard .cc-mode .jupyter-button {
  width: auto; min-width: 72px; height: 28px; margin: 0; padding: 0 14px; border-radius: 7px;
  background: transparent; box-shadow: none; color: var(--cc-muted); font-weight: 600; font-size: 13px;
}
.cc-dashboard .cc-mode .jupyter-button.mod-active {
  background: #ffffff; color: var(--cc-text); box-shadow: 0 1px 2px rgba(15, 23, 42, 0.12);
}
.cc-dashboard .cc-badge, .cc-dashboard .cc-pill {
  display: inline-flex; align-items: center; gap: 6px; border-radius: 999px; padding: 4px 11px;
  font-size: 12.5px; font-weight: 600; white-space: nowrap; border: 1px solid transparent;
}
.cc-dashboard .cc-badge::before, .cc-dashboard .cc-pill::before {
  content: ""; width: 7px; height: 7px; border-radius: 50%; background: currentColor;
}
.cc-dashboard .cc-badge-mode { background: #e0e7ff; color: #3730a3; }
.cc-dashboard .cc-badge-mode::before { display: none; }
.cc-dashboard .cc-badge-up { background: #ecfdf5; color: #047857; border-color: #a7f3d0; }
.cc-dashboard .cc-badge-unknown {
  background: #f1f5f9; color: var(--cc-muted); border-color: var(--cc-border);
}
.cc-dashboard .cc-pill-ok { background: #f1f5f9; color: #475569; }
.cc-dashboard .cc-pill-ok::before { background: var(--cc-green); }
.cc-dashboard .cc-pill-warn { background: #fffbeb; color: #b45309; border-color: #fcd34d; }
.cc-dashboard .cc-pill-error { background: #fef2f2; color: #b91c1c; border-color: #fca5a5; }
.cc-dashboard .cc-pill-idle { background: #f1f5f9; color: var(--cc-muted); }
.cc-dashboard .jupyter-button.cc-refresh {
  width: auto; height: 30px; margin: 0; padding: 0 12px; border-radius: 8px; font-size: 13px; font-weight: 600;
  background: #ffffff; color: var(--cc-text); border: 1px solid var(--cc-border);
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.05);
}
.cc-dashboard .jupyter-button.cc-refresh:hover { background: #f8fafc; border-color: #cbd5e1; }

/* The page's own watchdog (heartbeat.py) and a failed refresh's reason */
.cc-dashboard .cc-pill-disconnected { background: #fef2f2; color: #b91c1c; border-color: #f87171; }
.cc-dashboard .cc-pill-disconnected::before { content: "!"; width: auto; height: auto; background: none; }
body.cc-offline .cc-dashboard .cc-main, body.cc-offline .cc-dashboard .cc-events { opacity: 0.55; }
.cc-dashboard .cc-refresh-error:not(:has(.cc-refresh-error-body)) { display: none; }
.cc-dashboard .cc-refresh-error-body {
  border: 1px solid #fca5a5; background: #fef2f2; color: #991b1b; border-radius: 10px; padding: 10px 14px;
  overflow-wrap: anywhere;
}

/* Banners */
.cc-dashboard .cc-banners { gap: 10px; }
.cc-dashboard .cc-banners:empty { display: none; }
.cc-dashboard .cc-banner-body {
  display: flex; gap: 12px; align-items: flex-start; border-radius: 10px; padding: 12px 16px;
  border: 1px solid; color: inherit; text-decoration: none;
}
.cc-dashboard .cc-banner-warn .cc-banner-body { background: #fffbeb; border-color: #fcd34d; color: #92400e; }
.cc-dashboard .cc-banner-error .cc-banner-body { background: #fef2f2; border-color: #fca5a5; color: #991b1b; }
.cc-dashboard a.cc-banner-body:hover strong { text-decoration: underline; }
.cc-dashboard .cc-banner-icon { flex: none; margin-top: 1px; }
.cc-dashboard .cc-banner-text { display: flex; flex-direction: column; gap: 2px; min-width: 0; }
.cc-dashboard .cc-banner-note { font-size: 12.5px; opacity: 0.85; overflow-wrap: anywhere; }
.cc-dashboard .cc-banner-action {
  margin-left: auto; align-self: center; white-space: nowrap; font-weight: 600; color: inherit;
  text-decoration: underline;
}

/* KPI cards */
.cc-dashboard .cc-kpis {
  display: grid; grid-template-columns: repeat(auto-fit, minmax(175px, 1fr)); gap: 12px; width: 100%;
}
.cc-dashboard .cc-kpi { min-width: 0; }
.cc-dashboard .cc-kpi .widget-html-content, .cc-dashboard .cc-kpi .jupyter-widget-html-content {
  height: 100%; min-width: 0;
}
.cc-dashboard .cc-card {
  background: var(--cc-card); border: 1px solid var(--cc-border); border-radius: 12px; padding: 14px 16px 13px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.04); height: 100%; box-sizing: border-box; min-width: 0;
}
.cc-dashboard .cc-kpi-warn .cc-card { border-color: #fcd34d; background: #fffdf5; }
.cc-dashboard .cc-card-label {
  font-size: 12px; font-weight: 600; color: var(--cc-muted); text-transform: uppercase; letter-spacing: 0.04em;
}
.cc-dashboard .cc-card-value {
  font-size: clamp(19px, 1.75vw, 26px); font-weight: 650; margin-top: 6px; line-height: 1.2;
  font-variant-numeric: tabular-nums;
}
.cc-dashboard .cc-unit { font-size: 0.6em; font-weight: 600; color: var(--cc-muted); letter-spacing: 0.02em; }
.cc-dashboard .cc-card-sub { font-size: 12.5px; color: var(--cc-muted); margin-top: 5px; }
.cc-dashboard .cc-card-runway { font-size: 12px; color: #475569; margin-top: 4px; font-weight: 500; }
.cc-dashboard .cc-alerts:empty, .cc-dashboard .cc-alerts .widget-html-content:empty { display: none; }
.cc-dashboard .cc-alerts .jupyter-widget-html-content, .cc-dashboard .cc-alerts .widget-html-content {
  display: flex; flex-wrap: wrap; gap: 6px;
}
.cc-dashboard .cc-alert-chip {
  display: inline-flex; align-items: center; gap: 6px; border-radius: 999px; padding: 4px 11px;
  font-size: 12.5px; font-weight: 700; white-space: nowrap; background: #fef2f2; color: #b91c1c;
  border: 1px solid #fca5a5;
}
.cc-dashboard .cc-alert-chip::before { content: "!"; font-weight: 800; }
.cc-dashboard .cc-alert-backup_overdue, .cc-dashboard .cc-alert-low_gas {
  background: #fffbeb; color: #b45309; border-color: #fcd34d;
}
.cc-dashboard .cc-alert-detail { font-weight: 500; }
.cc-dashboard .cc-legend-spike { display: inline-flex; align-items: center; gap: 4px; margin-left: 10px; }
.cc-dashboard .cc-tip-spike { color: #991b1b; font-weight: 600; }
.cc-dashboard .cc-spike-icon { flex: none; }
.cc-dashboard .cc-card-note { font-size: 11.5px; color: var(--cc-faint); margin-top: 3px; overflow-wrap: anywhere; }
.cc-dashboard .cc-tone-live::before {
  content: ""; display: inline-block; width: 7px; height: 7px; border-radius: 50%; background: var(--cc-green);
  margin-right: 6px; vertical-align: 1px;
}
.cc-dashboard .cc-tone-warn { color: #b45309; font-weight: 600; }
.cc-dashboard .cc-tone-warn::before { content: "⚠ "; }

/* The wallet line (seller view) */
.cc-dashboard .cc-wallet-body {
  display: flex; flex-wrap: wrap; align-items: baseline; gap: 6px 14px; padding: 10px 16px;
  background: var(--cc-card); border: 1px solid var(--cc-border); border-radius: 12px;
}
.cc-dashboard .cc-wallet-low { border-color: #fcd34d; background: #fffdf5; }
.cc-dashboard .cc-wallet-label {
  font-size: 12px; font-weight: 600; color: var(--cc-muted); text-transform: uppercase; letter-spacing: 0.04em;
}
.cc-dashboard .cc-wallet-value { font-weight: 650; font-variant-numeric: tabular-nums; white-space: nowrap; }
.cc-dashboard .cc-wallet-source { color: var(--cc-muted); font-size: 12.5px; }
.cc-dashboard .cc-wallet-warn { color: #92400e; font-weight: 600; font-size: 13px; }

/* Panels: chart, breakdown, events */
.cc-dashboard .cc-main { gap: 16px; }
.cc-dashboard .cc-panel {
  background: var(--cc-card); border: 1px solid var(--cc-border); border-radius: 12px; padding: 14px 16px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, 0.04); box-sizing: border-box; width: 100%; margin: 0;
}
.cc-dashboard .cc-panel-head {
  display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; margin-bottom: 6px;
}
.cc-dashboard .cc-panel-name { font-size: 15px; font-weight: 650; margin: 0; line-height: 1.3; }
.cc-dashboard .cc-sr-only {
  position: absolute; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;
  clip: rect(0, 0, 0, 0); white-space: nowrap; border: 0;
}
.cc-dashboard .cc-panel-hint { font-size: 12.5px; color: var(--cc-muted); }
.cc-dashboard .cc-reconciliation { font-size: 13px; margin: -4px 4px 0; color: var(--cc-text); }
.cc-dashboard .cc-reconciliation-warn { color: #b45309; }
.cc-dashboard .cc-legend {
  margin-left: auto; display: inline-flex; align-items: center; gap: 6px; font-size: 12.5px;
}
.cc-dashboard .cc-swatch {
  display: inline-block; width: 10px; height: 10px; border-radius: 3px; margin-left: 8px;
}
.cc-dashboard .cc-swatch-success { background: #16a34a; }
.cc-dashboard .cc-swatch-error { background: #dc2626; }
.cc-call-rate-tip .widget-html-content, .cc-call-rate-tip .jupyter-widget-html-content {
  line-height: 1.5; font-size: 12.5px; padding: 2px 4px;
}
.cc-call-rate-tip .cc-tip-hour { font-weight: 650; }
.cc-call-rate-tip .cc-swatch {
  display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 6px;
}
.cc-call-rate-tip .cc-swatch-success { background: #16a34a; }
.cc-call-rate-tip .cc-swatch-error { background: #dc2626; }
.cc-dashboard .cc-call-rate { margin: 0; }
/* A tick mark only where there is a label: a comb under 90 or 168 bars reads as noise. */
.cc-dashboard .cc-call-rate .axis .tick:has(text:empty) line { display: none; }

.cc-dashboard .cc-thead { border-bottom: 1px solid var(--cc-border); margin: 0; }
.cc-dashboard .jupyter-button.cc-th {
  width: auto; height: auto; min-height: 30px; margin: 0; padding: 4px 8px; line-height: 1.25;
  white-space: normal; overflow: visible; text-overflow: clip; overflow-wrap: normal;
  background: transparent; box-shadow: none;
  font-size: 12px; font-weight: 600; color: var(--cc-muted); text-transform: uppercase; letter-spacing: 0.04em;
  justify-content: flex-start; text-align: left; border-radius: 6px; min-width: 0;
}
.cc-dashboard .jupyter-button.cc-th.cc-num { justify-content: flex-end; text-align: right; }
.cc-dashboard .jupyter-button.cc-th:hover { background: #f1f5f9; color: var(--cc-text); }
.cc-dashboard .jupyter-button.cc-sort-active { color: var(--cc-text); }
.cc-dashboard .jupyter-button:focus:not(:focus-visible) { outline: none; box-shadow: none; }
/* The breakdown: one grid template for the sort buttons and the rows, wide enough for every number
   (no cell truncates); below 720 px each row is a card of labelled values. */
.cc-dashboard .cc-breakdown .cc-thead, .cc-dashboard .cc-breakdown .cc-row {
  display: grid; grid-template-columns: minmax(9em, 2.4fr) repeat(3, minmax(6.5em, 1fr)) minmax(10.5em, 1.3fr)
    minmax(7em, 1fr);
}
.cc-dashboard .cc-table { position: relative; }
.cc-dashboard .cc-row {
  align-items: center; border-bottom: 1px solid var(--cc-line); min-height: 40px;
}
.cc-dashboard .cc-row:hover { background: #f8fafc; }
.cc-dashboard .cc-cell { padding: 7px 8px; min-width: 0; }
.cc-dashboard .cc-row .cc-num { white-space: nowrap; }
.cc-dashboard .cc-num { text-align: right; font-variant-numeric: tabular-nums; }
.cc-dashboard .cc-api-name { display: block; font-weight: 600; overflow-wrap: anywhere; }
.cc-dashboard .cc-api-id {
  display: block; color: var(--cc-muted); font-size: 12px; overflow-wrap: anywhere;
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
.cc-dashboard .cc-table-empty { color: var(--cc-muted); padding: 18px 8px; }

.cc-dashboard .cc-events-table { width: 100%; border-collapse: collapse; }
.cc-dashboard .cc-events-table th {
  text-align: left; font-size: 12px; font-weight: 600; color: var(--cc-muted); text-transform: uppercase;
  letter-spacing: 0.04em; padding: 6px 8px; border-bottom: 1px solid var(--cc-border);
  position: sticky; top: 0; background: var(--cc-card);
}
.cc-dashboard .cc-events-table td {
  padding: 8px; border-bottom: 1px solid var(--cc-line); vertical-align: top;
}
.cc-dashboard .cc-event-time {
  white-space: nowrap; color: var(--cc-muted); font-variant-numeric: tabular-nums; width: 1%;
}
.cc-dashboard .cc-event-type {
  white-space: nowrap; width: 1%; font-size: 12.5px;
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
}
.cc-dashboard .cc-event-sev { width: 1%; text-align: center; }
.cc-dashboard .cc-sev { vertical-align: -3px; }
.cc-dashboard .cc-event-msg { overflow-wrap: anywhere; }

/* Empty state */
.cc-dashboard .cc-empty-body {
  text-align: center; padding: 44px 24px; background: var(--cc-card); border: 1px dashed #cbd5e1;
  border-radius: 12px;
}
.cc-dashboard .cc-empty-title { font-size: 18px; font-weight: 650; margin: 10px 0 6px; }
.cc-dashboard .cc-empty-text { color: var(--cc-muted); max-width: 560px; margin: 0 auto 14px; }
.cc-dashboard .cc-empty a { color: #1d4ed8; font-weight: 600; text-decoration: none; }
.cc-dashboard .cc-empty-links { display: flex; gap: 10px 18px; justify-content: center; flex-wrap: wrap; }

/* A phone or a narrow window (page.NARROW_PX) */
@media (max-width: 719px) {
  .cc-dashboard { padding: 14px 12px 24px; gap: 12px; border-radius: 0; }
  .cc-dashboard .cc-title { font-size: 21px; }
  .cc-dashboard .cc-header-right { margin-left: 0; justify-content: flex-start; }
  .cc-dashboard .cc-kpis { grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; }
  .cc-dashboard .cc-card { padding: 12px; }
  .cc-dashboard .cc-card-value { font-size: 20px; }
  .cc-dashboard .cc-panel { padding: 12px; }
  .cc-dashboard .cc-legend { margin-left: 0; }
  .cc-dashboard .cc-breakdown .cc-thead {
    display: flex; flex-wrap: wrap; gap: 4px; border-bottom: 0; padding-bottom: 6px;
  }
  .cc-dashboard .jupyter-button.cc-th, .cc-dashboard .jupyter-button.cc-th.cc-num {
    border: 1px solid var(--cc-border); border-radius: 999px; height: 28px; padding: 0 10px;
  }
  .cc-dashboard .cc-breakdown .cc-row {
    grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); column-gap: 12px; padding: 6px 0;
  }
  .cc-dashboard .cc-cell-api { grid-column: 1 / -1; }
  .cc-dashboard .cc-row .cc-num {
    display: flex; flex-direction: column; align-items: flex-start; padding: 4px 8px; text-align: left;
  }
  .cc-dashboard .cc-row .cc-num::before {
    content: attr(data-label); color: var(--cc-muted); font-size: 11.5px; white-space: normal;
  }
  .cc-dashboard .cc-events-table thead {
    position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0, 0, 0, 0);
  }
  .cc-dashboard .cc-events-table tr {
    display: grid; grid-template-columns: auto minmax(0, 1fr) auto; column-gap: 8px; align-items: center;
    padding: 8px 0; border-bottom: 1px solid var(--cc-line);
  }
  .cc-dashboard .cc-events-table td { padding: 0; border-bottom: 0; width: auto; }
  .cc-dashboard .cc-event-type { overflow-wrap: anywhere; white-space: normal; }
  .cc-dashboard .cc-event-msg { grid-column: 1 / -1; padding-top: 4px; }
}
"""


def style_widget() -> widgets.HTML:
    """An invisible HTML widget carrying the stylesheet (it must be on the page to apply)."""
    style = widgets.HTML(f"<style>{CSS}</style>")
    style.add_class("cc-style")
    return style
