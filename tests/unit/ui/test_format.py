"""Formatting of snapshot values: what the cards, tables and badges show, including unknown values."""

from __future__ import annotations

import math
from datetime import UTC
from decimal import Decimal

import pytest

from ccanalytics.ui import format as fmt

UNKNOWNS = [None, float("nan"), math.inf, "", "abc", "NaN", True, [], {}]


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("12.500000", "12.50 USDC"),
        ("0.000000", "0.00 USDC"),
        ("0.010000", "0.01 USDC"),
        ("0.009999", "0.009999 USDC"),
        ("0.001000", "0.001 USDC"),
        ("0.000001", "0.000001 USDC"),
        ("0.004000", "0.004 USDC"),
        ("1234567.890000", "1,234,567.89 USDC"),
        ("2.005000", "2.01 USDC"),  # half up, on exact decimals (a float would say 2.00)
        ("2.004999", "2.00 USDC"),
        ("9.999999", "10.00 USDC"),
        ("-1.500000", "-1.50 USDC"),
        (12.5, "12.50 USDC"),
        (Decimal("0.25"), "0.25 USDC"),
        (0, "0.00 USDC"),
    ],
)
def test_usdc(amount, shown):
    assert fmt.usdc(amount) == shown


@pytest.mark.parametrize(
    ("amount", "shown"),
    [
        ("0.004200000000000000", "0.0042 ETH"),
        ("0.000000000000000000", "0.0000 ETH"),
        ("1.500000000000000000", "1.5000 ETH"),
        ("0.000100000000000000", "0.0001 ETH"),
        ("0.000099999999999999", "0.0001 ETH"),  # rounds up to the next significant digit
        ("0.000012000000000000", "0.000012 ETH"),
        ("0.000000000000000001", "0.000000000000000001 ETH"),
        ("12345.678950000000000000", "12,345.6790 ETH"),
        ("0.002242075495078484", "0.0022 ETH"),
    ],
)
def test_eth(amount, shown):
    assert fmt.eth(amount) == shown


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(212.4, "212 ms"), (212.5, "212 ms"), (213.5, "214 ms"), (0, "0 ms"), (0.42, "0.4 ms"), (12_345.6, "12,346 ms")],
)
def test_latency(ms, shown):
    assert fmt.latency(ms) == shown


@pytest.mark.parametrize(
    ("fraction", "shown"),
    [
        (0.973, "97.3 %"),
        (1.0, "100.0 %"),
        (1, "100.0 %"),
        (0.0, "0.0 %"),
        (0.9995, "99.9 %"),  # one failure must not read as a perfect 100.0 %
        (0.0004, "0.1 %"),  # one success must not read as 0.0 %
        (0.5, "50.0 %"),
    ],
)
def test_rate(fraction, shown):
    assert fmt.rate(fraction) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (5000, "5,000"), (1_234_567, "1,234,567"), (12.0, "12")],
)
def test_count(value, shown):
    assert fmt.count(value) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "Up 0s"),
        (59, "Up 59s"),
        (60, "Up 1m"),
        (3_599, "Up 59m"),
        (3_600, "Up 1h 0m"),
        (4 * 3600 + 12 * 60 + 5, "Up 4h 12m"),
        (86_399, "Up 23h 59m"),
        (86_400, "Up 1d 0h"),
        (3 * 86_400 + 4 * 3_600 + 59 * 60, "Up 3d 4h"),
        (400 * 86_400, "Up 400d 0h"),
        (None, "Uptime —"),
        (-5, "Uptime —"),
        (float("nan"), "Uptime —"),
    ],
)
def test_uptime(seconds, shown):
    assert fmt.uptime(seconds) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "just now"),
        (0.99, "just now"),
        (1, "1 s ago"),
        (12.7, "12 s ago"),
        (59.9, "59 s ago"),
        (60, "1 min ago"),
        (3_599, "59 min ago"),
        (3_600, "1 h ago"),
        (86_400 * 3, "3 d ago"),
        (-3, "just now"),  # a clock step backwards is not the future
    ],
)
def test_ago(seconds, shown):
    assert fmt.ago(seconds) == shown


@pytest.mark.parametrize("show", [fmt.usdc, fmt.eth, fmt.latency, fmt.rate, fmt.count, fmt.ago])
@pytest.mark.parametrize("value", UNKNOWNS)
def test_unknown_values_show_a_dash_never_nan_none_or_null(show, value):
    assert show(value) == "—"


@pytest.mark.parametrize(
    ("iso", "zone", "event", "short"),
    [
        ("2026-11-25T11:00:05Z", "UTC", "Nov 25, 11:00:05", "Nov 25, 11:00"),
        ("2026-11-25T23:30:00Z", "Europe/Berlin", "Nov 26, 00:30:00", "Nov 26, 00:30"),
        ("2026-07-01T12:00:00.250Z", "America/New_York", "Jul 01, 08:00:00", "Jul 01, 08:00"),
        ("2026-11-25T12:00:00Z", "Asia/Kolkata", "Nov 25, 17:30:00", "Nov 25, 17:30"),
        ("2026-11-25T12:00:00Z", "Not/AZone", "Nov 25, 12:00:00", "Nov 25, 12:00"),
        (None, "UTC", "—", "—"),
        ("not a time", "UTC", "—", "—"),
    ],
)
def test_times_are_shown_in_the_stores_zone(iso, zone, event, short):
    assert fmt.event_time(iso, fmt.store_zone(zone)) == event
    assert fmt.short_time(iso, fmt.store_zone(zone)) == short


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus", "<script>", 42, "../../etc/passwd"])
def test_an_unknown_zone_falls_back_to_utc(name):
    assert fmt.store_zone(name) is UTC
