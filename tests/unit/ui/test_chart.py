"""ui/chart.py against metrics.md's call-rate chart: one bar per bucket, local labels, a text alternative."""

from __future__ import annotations

import itertools
from datetime import timedelta

from ccanalytics.ui import format as fmt
from ccanalytics.ui.chart import chart_summary, hour_bars, y_ticks
from tests.support import ui_snapshots as snaps


def test_one_bar_per_bucket_keyed_by_its_utc_start() -> None:
    bars = hour_bars(snaps.BUYER["buyer"]["call_rate"], fmt.store_zone("Europe/Berlin"))
    assert len(bars) == 48
    assert [b.key for b in bars] == [b["hour"] for b in snaps.BUYER["buyer"]["call_rate"]]
    assert [(b.success, b.error) for b in bars] == [
        (b["success"], b["error"]) for b in snaps.BUYER["buyer"]["call_rate"]
    ]
    assert bars[-1].label == "" and "–now" in bars[-1].tooltip  # the hour so far


def test_labels_are_local_times_every_sixth_hour() -> None:
    bars = hour_bars(snaps.BUYER["buyer"]["call_rate"], fmt.store_zone("Europe/Berlin"))
    labels = [b.label for b in bars if b.label]
    assert labels and all(label.endswith(("00:00", "06:00", "12:00", "18:00")) for label in labels)


def test_a_repeated_local_hour_keeps_two_bars() -> None:
    # 2026-10-25 in Berlin: 02:00-03:00 local happens twice (00:00Z and 01:00Z).
    rate = [{"hour": "2026-10-25T00:00:00Z", "success": 1, "error": 0}, {"hour": "2026-10-25T01:00:00Z", "success": 2}]
    bars = hour_bars(rate, fmt.store_zone("Europe/Berlin"))
    assert [b.key for b in bars] == ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z"]
    assert [b.error for b in bars] == [0, 0]  # a missing count is 0


def test_bad_buckets_are_drawn_as_zero_never_fail() -> None:
    rate = [{"hour": "garbage", "success": "many", "error": -3}, {"hour": "garbage", "success": None}]
    bars = hour_bars(rate, fmt.store_zone("UTC"))
    assert [(b.key, b.success, b.error) for b in bars] == [("garbage", 0, 0), ("garbage #1", 0, 0)]
    assert hour_bars([], fmt.store_zone("UTC")) == []


def test_the_tooltip_escapes_and_counts() -> None:
    bar = hour_bars(
        [{"hour": "2026-11-25T11:00:00Z", "success": 1_234, "error": 1, "spike": True}], fmt.store_zone("UTC")
    )[0]
    assert (
        "1,234 success" in bar.tooltip and "1 error<" in bar.tooltip and "Error spike: 1 error this hour" in bar.tooltip
    )


def test_y_ticks_cover_the_peak_in_at_most_five_round_steps() -> None:
    for peak in (0, 1, 4, 5, 6, 7, 10, 11, 99, 120, 1_000, 123_456):
        ticks = y_ticks(peak)
        assert ticks[0] == 0 and ticks[-1] >= peak and len(ticks) <= 6
        steps = {b - a for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1 and str(steps.pop()).strip("0") in ("1", "2", "5")


def test_the_summary_counts_every_bar() -> None:
    bars = hour_bars(snaps.BUYER["buyer"]["call_rate"], fmt.store_zone("UTC"))
    success, error = sum(b.success for b in bars), sum(b.error for b in bars)
    peak = max(b.success + b.error for b in bars)
    assert chart_summary(bars) == (
        f"Call rate, last 48 hours: {success + error} calls, {success} successful and {error} errors;"
        f" the busiest hour had {peak} calls."
    )


def _buckets(start: str, count: int, step_ms: int) -> list[dict[str, object]]:
    first = fmt.parse_time(start)
    assert first is not None
    stamps = (first + i * timedelta(milliseconds=step_ms) for i in range(count))
    return [{"hour": f"{t:%Y-%m-%dT%H:%M:%SZ}", "success": 1} for t in stamps]


def test_a_phone_gets_at_most_four_labels_in_every_range_the_newest_day_among_them() -> None:
    zone = fmt.store_zone("Europe/Berlin")
    hour = _buckets("2026-11-25T10:00:00Z", 60, 60_000)
    week = _buckets("2026-11-25T23:00:00Z", 168, 3_600_000)  # Thu 26 00:00 Berlin to Wed 2 23:00
    days = _buckets("2026-09-03T23:00:00Z", 90, 86_400_000)  # Sep 4 to Dec 2 in Berlin (01:00 until DST ends)
    cases = [("1m", hour), ("1h", week), ("1h", week[-48:]), ("1d", days), ("1d", days[-30:])]
    for unit, rate in cases:
        wide = [b.label for b in hour_bars(rate, zone, unit) if b.label]
        narrow = [b.label for b in hour_bars(rate, zone, unit, narrow=True) if b.label]
        assert 2 <= len(narrow) <= 4 < len(wide) <= 8, (unit, wide, narrow)
    labels = lambda rate, unit: [b.label for b in hour_bars(rate, zone, unit, narrow=True) if b.label]  # noqa: E731
    assert labels(hour, "1m") == ["11:00", "11:15", "11:30", "11:45"]
    assert labels(week, "1h") == ["Thu 26", "Sat 28", "Mon 30", "Wed 2"]
    assert labels(days[-30:], "1d")[-1] == labels(days, "1d")[-1] == "Dec 2"
