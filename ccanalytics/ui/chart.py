"""The 48-hour call-rate chart: stacked bars, successes (green) under errors (red).

The figure is built once and its data replaced in place on refresh, with
animations off, so a refresh never rebuilds or flickers it.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ccanalytics.ui import format as fmt
from ccanalytics.ui.markup import esc

if TYPE_CHECKING:
    from datetime import tzinfo

with warnings.catch_warnings():
    # bqscales (bqplot's scales) passes trait metadata the pre-traitlets-4.1 way when it is
    # imported; harmless, but fatal under the test suite's filterwarnings = error.
    warnings.filterwarnings("ignore", "metadata .* was set from the constructor", DeprecationWarning)
    import bqplot

__all__ = [
    "AXIS_COLOR",
    "ERROR_COLOR",
    "SPIKE_COLOR",
    "SUCCESS_COLOR",
    "CallRateChart",
    "HourBar",
    "chart_summary",
    "hour_bars",
    "y_ticks",
]

SUCCESS_COLOR = "#16a34a"
ERROR_COLOR = "#dc2626"

SPIKE_COLOR = "#991b1b"
_SPIKE_ICON = (
    '<svg class="cc-spike-icon" viewBox="0 0 10 10" width="10" height="10" aria-hidden="true">'
    f'<path d="M0 1h10L5 9Z" fill="{SPIKE_COLOR}"/></svg>'
)

# At most eight labels under the bars on a laptop, four on a phone (page.NARROW_PX): every sixth hour of 48
# (twelfth), every tenth minute of an hour (fifteenth), every day of a week (other day), every fifth day of 30
# (tenth), every fifteenth of 90 (thirtieth).
_EVERY_H, _NARROW_EVERY_H = 6, 12
# Axis text: slate-500 on white is 4.8:1 (WCAG AA asks 4.5:1 for text).
AXIS_COLOR = "#64748b"


@dataclass(frozen=True)
class HourBar:
    """One bucket ready to draw."""

    key: str
    label: str
    tooltip: str
    success: int
    error: int
    spike: bool = False  # alerts.md: the error-spike rule fired at some instant of this hour


def _count(value: object) -> int:
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return 0
    return max(number, 0)


def _label(local: Any, unit: str, count: int, days_back: int, narrow: bool) -> str:
    """The axis label of a ranged view's bucket (views.md), or "": a few per axis, each unique.

    ``days_back`` counts local days back from the newest bucket's, so that the newest day is always labelled.
    """
    thin = 2 if narrow else 1
    if unit == "1m":
        return f"{local:%H:%M}" if local.minute % (15 if narrow else 10) == 0 else ""
    if unit == "1d":
        step = (15 if count > 45 else 5) * thin
        return f"{fmt.MONTHS[local.month - 1]} {local.day}" if days_back % step == 0 else ""
    # A week of hours: one label a day (every other day on a phone).
    midnight = local.minute == 0 and local.hour == 0
    return f"{fmt.WEEKDAYS[local.weekday()]} {local.day}" if midnight and days_back % thin == 0 else ""


def _when(local: Any, unit: str, last: bool) -> str:
    day = f"{fmt.WEEKDAYS[local.weekday()]} {fmt.MONTHS[local.month - 1]} {local.day}"
    if unit == "1d":
        return f"{day}{' (so far)' if last else ''}"
    minutes = local.hour * 60 + local.minute + (1 if unit == "1m" else 60)
    until = "now" if last else f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"
    return f"{day}, {local:%H:%M}–{until}"


def hour_bars(
    call_rate: Sequence[Mapping[str, Any]], zone: tzinfo, unit: str = "1h", narrow: bool = False
) -> list[HourBar]:
    """The snapshot's ``call_rate`` as bars with unique keys, axis labels and tooltips.

    Keys are the buckets' UTC start times, unique even across a daylight-saving
    change (when a local hour repeats); labels are local times in the store's
    zone, a few per axis (fewer when ``narrow``: a phone) and empty otherwise.

    Examples
    --------
    >>> bars = hour_bars([{"hour": "2026-11-25T05:00:00Z", "success": 3, "error": 1},
    ...                   {"hour": "2026-11-25T06:00:00Z", "success": 0, "error": 0}],
    ...                  fmt.store_zone("Europe/Berlin"))
    >>> [(b.key, b.label, b.success, b.error) for b in bars]
    [('2026-11-25T05:00:00Z', 'Wed 06:00', 3, 1), ('2026-11-25T06:00:00Z', '', 0, 0)]
    >>> spike = {"hour": "2026-11-25T05:00:00Z", "success": 0, "error": 7, "spike": True}
    >>> hour_bars([spike], fmt.store_zone("UTC"))[0].spike
    True
    """
    bars: list[HourBar] = []
    seen: set[str] = set()
    last = len(call_rate) - 1
    newest = fmt.parse_time(call_rate[-1].get("hour")) if call_rate else None
    newest_day = newest.astimezone(zone).date() if newest is not None else None
    every_h = _NARROW_EVERY_H if narrow else _EVERY_H
    for index, bucket in enumerate(call_rate):
        start = fmt.parse_time(bucket.get("hour"))
        key = str(bucket.get("hour"))
        if key in seen:
            # Two buckets with one key would be merged into one bar by the ordinal scale.
            key = f"{key} #{index}"
        seen.add(key)
        success, error = _count(bucket.get("success")), _count(bucket.get("error"))
        if start is None:
            label, when = "", fmt.UNKNOWN
        else:
            local = start.astimezone(zone)
            stamp = f"{fmt.WEEKDAYS[local.weekday()]} {local:%H:%M}"
            if narrow:
                # The day at midnight, the hour otherwise ("Mon", "12:00"), so labels stay apart.
                stamp = fmt.WEEKDAYS[local.weekday()] if local.hour == 0 else f"{local:%H:%M}"
            label = stamp if local.minute == 0 and local.hour % every_h == 0 else ""
            until = "now" if index == last else f"{(local.hour + 1) % 24:02d}:{local:%M}"
            when = f"{fmt.WEEKDAYS[local.weekday()]} {fmt.MONTHS[local.month - 1]} {local.day}, {local:%H:%M}–{until}"
            if unit != "1h" or last >= 48:  # a ranged view's minutes, days or week of hours
                days_back = (newest_day - local.date()).days if newest_day is not None else 0
                label, when = _label(local, unit, last + 1, days_back, narrow), _when(local, unit, index == last)
        tooltip = (
            f'<div class="cc-tip-hour">{esc(when)}</div>'
            f'<div class="cc-tip-row"><span class="cc-swatch cc-swatch-success"></span>'
            f"{esc(fmt.count(success))} success</div>"
            f'<div class="cc-tip-row"><span class="cc-swatch cc-swatch-error"></span>'
            f"{esc(fmt.count(error))} {'error' if error == 1 else 'errors'}</div>"
        )
        spike = bucket.get("spike") is True
        if spike:
            tooltip += (
                f'<div class="cc-tip-row cc-tip-spike">{_SPIKE_ICON}Error spike: '
                f"{esc(fmt.count(error))} {'error' if error == 1 else 'errors'} this hour</div>"
            )
        bars.append(HourBar(key, label, tooltip, success, error, spike))
    return bars


def y_ticks(peak: int) -> list[int]:
    """Whole-number ticks from 0 to at least ``peak``, at most five steps of 1, 2 or 5 × 10ⁿ.

    Examples
    --------
    >>> y_ticks(0), y_ticks(7), y_ticks(120)
    ([0, 1], [0, 2, 4, 6, 8], [0, 50, 100, 150])
    """
    if peak <= 0:
        return [0, 1]
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if -(-peak // step) <= 5:
                return list(range(0, step * (-(-peak // step)) + 1, step))
        magnitude *= 10


def chart_summary(bars: Sequence[HourBar], unit: str = "1h") -> str:
    """The chart in one sentence: totals, errors and the busiest bucket (its text alternative).

    ``unit`` is the buckets' (``1m``, ``1h``, ``1d``), so that a 30-day view speaks of days.

    Examples
    --------
    >>> bars = [HourBar("a", "", "", 3, 1), HourBar("b", "", "", 10, 0)]
    >>> chart_summary(bars)
    'Call rate, last 2 hours: 14 calls, 13 successful and 1 error; the busiest hour had 10 calls.'
    >>> chart_summary(bars, "1d")
    'Call rate, last 2 days: 14 calls, 13 successful and 1 error; the busiest day had 10 calls.'
    """
    word = {"1m": "minute", "1d": "day"}.get(unit, "hour")
    success = sum(bar.success for bar in bars)
    error = sum(bar.error for bar in bars)
    peak = max((bar.success + bar.error for bar in bars), default=0)
    return (
        f"Call rate, last {len(bars)} {word}s: {fmt.count(success + error)} calls, {fmt.count(success)} successful "
        f"and {fmt.count(error)} {'error' if error == 1 else 'errors'}; the busiest {word} had {fmt.count(peak)} calls."
    )


class CallRateChart:
    """The call-rate panel: a title with its own legend, and the bqplot figure.

    The legend is plain HTML above the plot so it never covers a bar; the
    tooltip is an HTML widget filled from the hovered bar's index.
    """

    def __init__(self) -> None:
        self._x = bqplot.OrdinalScale()
        self._y = bqplot.LinearScale(min=0.0, max=1.0)
        self.tooltip = widgets.HTML()
        self.tooltip.add_class("cc-call-rate-tip")
        self.bars = bqplot.Bars(
            x=[],
            y=[[], []],
            scales={"x": self._x, "y": self._y},
            type="stacked",
            colors=[SUCCESS_COLOR, ERROR_COLOR],
            labels=["Success", "Errors"],
            padding=0.25,
            tooltip=self.tooltip,
        )
        self.bars.on_hover(self._on_hover)
        # A tap on a phone is a click, not a hover: it fills the tooltip too.
        self.bars.on_element_click(self._on_hover)
        # A marker over each spike hour (alerts.md): reads at a glance; the bar's tooltip has the count.
        self.spikes = bqplot.Scatter(
            x=[],
            y=[],
            scales={"x": self._x, "y": self._y},
            marker="triangle-down",
            colors=[SPIKE_COLOR],
            stroke="#ffffff",
            default_size=70,
        )
        self._x_axis = bqplot.Axis(scale=self._x, grid_lines="none", tick_labels={}, color=AXIS_COLOR)
        self._y_axis = bqplot.Axis(
            scale=self._y,
            side="left",
            tick_format="d",
            tick_values=[0, 1],
            grid_lines="solid",
            grid_color="#eef2f7",
            color=AXIS_COLOR,
        )
        self.figure = bqplot.Figure(
            marks=[self.bars, self.spikes],
            axes=[self._x_axis, self._y_axis],
            animation_duration=0,
            display_toolbar=False,
            fig_margin={"top": 10, "bottom": 28, "left": 44, "right": 28},
            layout=widgets.Layout(width="100%", height="260px"),
        )
        self.figure.add_class("cc-call-rate")
        self.title = widgets.HTML()
        self.title.add_class("cc-panel-title")
        # The chart's text alternative: what it shows, in words, for screen readers.
        self.summary = widgets.HTML()
        self.summary.add_class("cc-call-rate-summary")
        self.widget = widgets.VBox([self.title, self.figure, self.summary])
        self.widget.add_class("cc-panel")
        self._tooltips: list[str] = []
        self.narrow = False
        self._last: tuple[Sequence[Mapping[str, Any]], tzinfo, str, str, str] | None = None

    def set_narrow(self, narrow: bool) -> None:
        """Thin the axis labels on a narrow screen (a phone: at most four), so that they never overprint."""
        if narrow != self.narrow:
            self.narrow = narrow
            if self._last is not None:
                self.update(*self._last)

    def update(
        self,
        call_rate: Sequence[Mapping[str, Any]],
        zone: tzinfo,
        zone_name: str,
        bucket: str = "1h",
        hint: str = "calls per hour, last 48 h",
    ) -> None:
        """Replace the bars' data in place (one message per widget, no redraw of the figure).

        ``bucket`` (``1m``, ``1h``, ``1d``: a ranged view's unit) sets labels and tooltips, ``hint`` the title's note.
        """
        self._last = (call_rate, zone, zone_name, bucket, hint)
        bars = hour_bars(call_rate, zone, bucket, self.narrow)
        success = [bar.success for bar in bars]
        error = [bar.error for bar in bars]
        peak = max((s + e for s, e in zip(success, error, strict=True)), default=0)
        # Markers float a little above their bar, inside the plot.
        lift = max(peak, 1) * 0.08
        marks = [(bar.key, bar.success + bar.error + lift) for bar in bars if bar.spike]
        ticks = y_ticks(math.ceil(max([peak, *(y for _, y in marks)])))
        self._tooltips = [bar.tooltip for bar in bars]
        if not self.tooltip.value and self._tooltips:
            self.tooltip.value = self._tooltips[-1]  # a first tap never opens an empty tooltip
        self.title.value = (
            '<div class="cc-panel-head"><h2 class="cc-panel-name">Call rate</h2>'
            f'<span class="cc-panel-hint">{esc(hint)} ({esc(zone_name)})</span>'
            '<span class="cc-legend" aria-hidden="true"><span class="cc-swatch cc-swatch-success"></span>Success'
            '<span class="cc-swatch cc-swatch-error"></span>Errors (on top)'
            + (f'<span class="cc-legend-spike">{_SPIKE_ICON}Error spike</span>' if marks else "")
            + "</span></div>"
        )
        self.summary.value = f'<p class="cc-sr-only">{esc(chart_summary(bars, bucket))}</p>'
        with contextlib.ExitStack() as stack:
            for widget in (self.bars, self.spikes, self._x_axis, self._y, self._y_axis):
                stack.enter_context(widget.hold_sync())
            self.bars.x = [bar.key for bar in bars]
            self.bars.y = [success, error]
            self.spikes.x = [key for key, _ in marks]
            self.spikes.y = [y for _, y in marks]
            self._x_axis.tick_labels = {bar.key: bar.label for bar in bars}
            self._y.max = float(ticks[-1])
            self._y_axis.tick_values = ticks

    def _on_hover(self, _mark: object, event: Mapping[str, Any]) -> None:
        data = event.get("data")
        index = data.get("index") if isinstance(data, Mapping) else None
        if isinstance(index, int) and 0 <= index < len(self._tooltips):
            self.tooltip.value = self._tooltips[index]
