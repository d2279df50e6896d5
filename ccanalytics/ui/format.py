"""Pure formatting of snapshot values into the short strings the dashboard shows.

Every function accepts what a snapshot may hold for its value, including
``None`` and garbage, and returns display text; an unknown value is always
``—`` (never ``nan``, ``None`` or ``null``). Money stays an integer of the
smallest unit (micro-USDC, wei) until the last step.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MONTHS",
    "UNKNOWN",
    "WEEKDAYS",
    "ago",
    "as_number",
    "count",
    "eth",
    "event_time",
    "latency",
    "parse_time",
    "rate",
    "short_time",
    "store_zone",
    "uptime",
    "usdc",
]

UNKNOWN = "—"

# Spelled out rather than strftime("%b"): month names must not follow the kernel's locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_MICRO_PER_USDC = 10**6
_WEI_PER_ETH = 10**18


def _units(value: object, scale: int) -> int | None:
    """An amount in whole units (``"12.5"``, ``12.5``, ``Decimal``) as an integer of 1/scale units."""
    if value is None or isinstance(value, bool):
        return None
    try:
        # str() first: a float goes through its shortest repr, not its binary expansion.
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite():
        return None
    return int((amount * scale).to_integral_value(rounding=ROUND_HALF_UP))


def as_number(value: object) -> float | None:
    """A snapshot value as a finite number, or ``None`` (a bool, text that is not a number, NaN, infinity).

    Examples
    --------
    >>> as_number("2.500000"), as_number(3), as_number(True), as_number(float("nan")), as_number("x")
    (2.5, 3.0, None, None, None)
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def usdc(amount: object) -> str:
    """A USDC amount as ``12.50 USDC``; amounts below 0.01 keep the decimals that matter.

    Parameters
    ----------
    amount
        USDC in whole units, as the snapshot's 6-decimal string (``"12.500000"``) or a number.

    Examples
    --------
    >>> usdc("1234.505000"), usdc("0.001000"), usdc("0.000000"), usdc(None)
    ('1,234.51 USDC', '0.001 USDC', '0.00 USDC', '—')
    """
    micro = _units(amount, _MICRO_PER_USDC)
    if micro is None:
        return UNKNOWN
    sign, micro = ("-" if micro < 0 else ""), abs(micro)
    if 0 < micro < _MICRO_PER_USDC // 100:
        # A cent would round a paid call of 0.001 USDC to 0.00: show the micro digits instead.
        return f"{sign}0.{micro:06d}".rstrip("0") + " USDC"
    cents = (micro + 5_000) // 10_000
    return f"{sign}{cents // 100:,}.{cents % 100:02d} USDC"


def eth(amount: object) -> str:
    """An ETH amount as ``0.0042 ETH``: four decimals, two significant digits below 0.0001.

    Parameters
    ----------
    amount
        ETH in whole units, as the snapshot's 18-decimal string or a number.

    Examples
    --------
    >>> eth("0.004200000000000000"), eth("1.5"), eth("0.000001234"), eth("0"), eth("nan")
    ('0.0042 ETH', '1.5000 ETH', '0.0000012 ETH', '0.0000 ETH', '—')
    """
    wei = _units(amount, _WEI_PER_ETH)
    if wei is None:
        return UNKNOWN
    sign, wei = ("-" if wei < 0 else ""), abs(wei)
    if 0 < wei < _WEI_PER_ETH // 10_000:
        digits = f"{wei:018d}"
        first = len(digits) - len(digits.lstrip("0"))
        exponent = Decimal(1).scaleb(-(first + 2))
        small = (Decimal(wei).scaleb(-18)).quantize(exponent, rounding=ROUND_HALF_UP)
        return f"{sign}{format(small, 'f').rstrip('0')} ETH"
    tenth_milli = (wei + 5 * 10**13) // 10**14
    return f"{sign}{tenth_milli // 10_000:,}.{tenth_milli % 10_000:04d} ETH"


def count(value: object) -> str:
    """A count with thousands separators.

    Examples
    --------
    >>> count(5000), count(0), count(None)
    ('5,000', '0', '—')
    """
    number = as_number(value)
    return UNKNOWN if number is None else f"{round(number):,}"


def latency(ms: object) -> str:
    """A latency in whole milliseconds (one decimal below 1 ms).

    Examples
    --------
    >>> latency(212.4), latency(1234.5), latency(0.42), latency(float("nan"))
    ('212 ms', '1,234 ms', '0.4 ms', '—')
    """
    number = as_number(ms)
    if number is None:
        return UNKNOWN
    if 0 < abs(number) < 1:
        return f"{number:.1f} ms"
    return f"{round(number):,} ms"


def rate(fraction: object) -> str:
    """A ratio in 0..1 as a percentage with one decimal.

    A rate that is not exactly 1 never shows as ``100.0 %`` and one that is not
    exactly 0 never shows as ``0.0 %``: one failed call in ten thousand still
    shows as a failure.

    Examples
    --------
    >>> rate(0.973), rate(1.0), rate(0.99996), rate(0.00001), rate(None)
    ('97.3 %', '100.0 %', '99.9 %', '0.1 %', '—')
    """
    number = as_number(fraction)
    if number is None:
        return UNKNOWN
    tenths = round(number * 1000)
    if number < 1 and tenths >= 1000:
        tenths = 999
    elif number > 0 and tenths <= 0:
        tenths = 1
    return f"{tenths / 10:.1f} %"


def uptime(seconds: object) -> str:
    """The uptime badge text: the two largest units since the last startup.

    Examples
    --------
    >>> uptime(3 * 86400 + 4 * 3600 + 59), uptime(4 * 3600 + 12 * 60), uptime(42), uptime(None)
    ('Up 3d 4h', 'Up 4h 12m', 'Up 42s', 'Uptime —')
    """
    number = as_number(seconds)
    if number is None or number < 0:
        return f"Uptime {UNKNOWN}"
    total = int(number)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"Up {days}d {hours}h"
    if hours:
        return f"Up {hours}h {minutes}m"
    if minutes:
        return f"Up {minutes}m"
    return f"Up {secs}s"


def ago(seconds: object) -> str:
    """How long ago something happened: ``12 s ago``, ``3 min ago``, ``2 h ago``, ``4 d ago``.

    Examples
    --------
    >>> ago(0.4), ago(12.7), ago(185), ago(7300), ago(None)
    ('just now', '12 s ago', '3 min ago', '2 h ago', '—')
    """
    number = as_number(seconds)
    if number is None:
        return UNKNOWN
    number = max(number, 0.0)
    if number < 1:
        return "just now"
    if number < 60:
        return f"{int(number)} s ago"
    if number < 3_600:
        return f"{int(number // 60)} min ago"
    if number < 86_400:
        return f"{int(number // 3_600)} h ago"
    return f"{int(number // 86_400)} d ago"


def store_zone(name: object) -> tzinfo:
    """The store's time zone by IANA name; UTC when the name is missing or unknown.

    Examples
    --------
    >>> store_zone("Europe/Berlin"), store_zone("Mars/Olympus"), store_zone(None)
    (zoneinfo.ZoneInfo(key='Europe/Berlin'), datetime.timezone.utc, datetime.timezone.utc)
    """
    if not isinstance(name, str) or not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def parse_time(value: object) -> datetime | None:
    """A snapshot time (ISO-8601 UTC with ``Z``) as an aware ``datetime``; ``None`` when unreadable.

    Examples
    --------
    >>> parse_time("2026-11-25T12:00:00.250Z")
    datetime.datetime(2026, 11, 25, 12, 0, 0, 250000, tzinfo=datetime.timezone.utc)
    >>> parse_time("yesterday") is None
    True
    """
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def event_time(value: object, zone: tzinfo) -> str:
    """An event's time in the store's zone, to the second.

    Examples
    --------
    >>> event_time("2026-11-25T11:00:05Z", store_zone("Europe/Berlin"))
    'Nov 25, 12:00:05'
    """
    moment = parse_time(value)
    if moment is None:
        return UNKNOWN
    local = moment.astimezone(zone)
    return f"{MONTHS[local.month - 1]} {local.day:02d}, {local:%H:%M:%S}"


def short_time(value: object, zone: tzinfo) -> str:
    """A time in the store's zone, to the minute (the balance cards' "as of").

    Examples
    --------
    >>> short_time("2026-11-25T11:59:00Z", store_zone("UTC")), short_time(None, store_zone("UTC"))
    ('Nov 25, 11:59', '—')
    """
    moment = parse_time(value)
    if moment is None:
        return UNKNOWN
    local = moment.astimezone(zone)
    return f"{MONTHS[local.month - 1]} {local.day:02d}, {local:%H:%M}"
