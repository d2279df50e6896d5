"""Time and money units: epoch milliseconds, micro-USDC, wei, and their text forms.

Money stays an integer until one of these functions turns it into text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ccanalytics.errors import UsageError

__all__ = [
    "BACKUP_OVERDUE_MS",
    "DAY_MS",
    "HOUR_MS",
    "MAX_EVENTS",
    "MAX_TS_MS",
    "MIN_TS_MS",
    "WEEK_MS",
    "count_text",
    "eth_text",
    "iso_utc",
    "now_ms",
    "parse_events",
    "parse_now",
    "usdc_text",
]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
BACKUP_OVERDUE_MS = 30 * DAY_MS

# The times a row may hold: years 1 to 9999, the range of ISO-8601 dates.
MIN_TS_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_TS_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
# A ``now`` must leave room for the chart's 48 hours before it.
MIN_NOW_MS = MIN_TS_MS + 2 * DAY_MS
MAX_EVENTS = 1_000_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return (datetime.now(UTC) - _EPOCH) // timedelta(milliseconds=1)


def iso_utc(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC with ``Z``; milliseconds only when not zero.

    Examples
    --------
    >>> iso_utc(1764072000000)
    '2025-11-25T12:00:00Z'
    >>> iso_utc(1764072000123)
    '2025-11-25T12:00:00.123Z'
    >>> iso_utc(-62135596800000)
    '0001-01-01T00:00:00Z'
    >>> iso_utc(None) is None
    True
    """
    if ms is None:
        return None
    seconds, millis = divmod(ms, 1000)
    t = _EPOCH + timedelta(seconds=seconds)
    # Not strftime: its %Y gives "1", not "0001", for year 1 on Linux.
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def _fixed(amount: int | None, decimals: int) -> str | None:
    if amount is None:
        return None
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def count_text(n: int) -> str:
    """A count with thin groups of three, as the CLI prints it.

    Examples
    --------
    >>> count_text(1234567)
    '1 234 567'
    """
    return f"{n:,}".replace(",", " ")


def usdc_text(micro: int | None) -> str | None:
    """Micro-USDC as a string with exactly 6 decimals.

    Examples
    --------
    >>> usdc_text(1000), usdc_text(12_500_000), usdc_text(0), usdc_text(None)
    ('0.001000', '12.500000', '0.000000', None)
    """
    return _fixed(amount=micro, decimals=6)


def eth_text(wei: int | None) -> str | None:
    """Wei as an ETH string with exactly 18 decimals.

    Examples
    --------
    >>> eth_text(4_200_000_000_000_000)
    '0.004200000000000000'
    >>> eth_text(10**40)
    '10000000000000000000000.000000000000000000'
    """
    return _fixed(amount=wei, decimals=18)


_EPOCH_MS = re.compile(r"^-?\d+$")


def parse_now(value: str | int | datetime | None) -> int:
    """A moment given as epoch ms, ISO-8601 text or an aware datetime, as epoch ms.

    ``None`` is the current time.  Text without an offset is refused rather than
    guessed: a replayed dashboard must say which moment it shows.

    Examples
    --------
    >>> parse_now("2026-11-25T12:00:00Z")
    1795608000000
    >>> parse_now("2026-11-25T13:00:00.5+01:00")
    1795608000500
    >>> parse_now("1795608000000")
    1795608000000
    >>> parse_now("yesterday")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ccanalytics.errors.UsageError: now must be ISO-8601 with a time zone (...) or epoch milliseconds, not 'yesterday'
    >>> parse_now("9999-12-31T23:00:00-05:00")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ccanalytics.errors.UsageError: now is out of range: it must lie from 0001-01-03T00:00:00Z to ...
    """
    moment = _parse_now(value)
    if not MIN_NOW_MS <= moment <= MAX_TS_MS:
        raise UsageError(
            f"now is out of range: it must lie from {iso_utc(MIN_NOW_MS)} to {iso_utc(MAX_TS_MS)}, not {value!s:.40}"
        )
    return moment


def _parse_now(value: str | int | datetime | None) -> int:
    if value is None:
        return now_ms()
    if isinstance(value, bool):
        raise TypeError("now must be a datetime, epoch milliseconds or ISO-8601 text")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("now must be a timezone-aware datetime")
        return (value - _EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, str):
        text = value.strip()
        if _EPOCH_MS.match(text):
            return int(text)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is not None and moment.utcoffset() is not None:
            return (moment - _EPOCH) // timedelta(milliseconds=1)
        raise UsageError(
            f"now must be ISO-8601 with a time zone (2026-11-25T12:00:00Z) or epoch milliseconds, not {value!r}"
        )
    raise TypeError("now must be a datetime, epoch milliseconds or ISO-8601 text")


def parse_events(value: str | int) -> int:
    """How many events to list: a whole number from 0 to ``MAX_EVENTS``.

    Examples
    --------
    >>> parse_events("50"), parse_events(0)
    (50, 0)
    >>> parse_events("1e20")
    Traceback (most recent call last):
    ...
    ccanalytics.errors.UsageError: events must be 0 or more and at most 1000000000 (a whole number), not '1e20'
    """
    text = str(value).strip()
    if isinstance(value, bool) or not _EPOCH_MS.match(text) or not 0 <= int(text) <= MAX_EVENTS:
        raise UsageError(f"events must be 0 or more and at most {MAX_EVENTS} (a whole number), not {str(value)[:40]!r}")
    return int(text)
