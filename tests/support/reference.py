"""A naive reference of ``metrics.md``: the snapshot computed with plain Python loops.

This module is deliberately written from the spec alone (``data-contract.md``,
``metrics.md`` and the lead's decisions where the spec is silent), without
looking at the package's implementation, so the two can be tested against each
other.  It reads every row with ``typeof()``, judges each value by its SQLite
storage class, and computes every number with ``for`` loops over Python lists.
Speed is not a goal; being obviously right is.

Balances come from ``balance_snapshots`` only: ``rpc_url`` is ignored (no chain reads).
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sqlite3
import urllib.request
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

from ccanalytics.errors import StoreError

__all__ = ["assert_snapshots_equal", "iso_ms", "reference_snapshot"]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 604_800_000
BACKUP_MAX_AGE_MS = 2_592_000_000
BUCKETS = 48
# alerts.md's rules in their order, and the levels a rule may have.
_RULE_ORDER = ("low_usdc", "low_gas", "auto_pause", "backup_overdue", "error_spike")
_ALERT_RULES = ("low_usdc", "low_gas", "auto_pause", "error_spike", "backup_overdue")  # settings order
_LEVELS = ("off", "panel", "email", "webhook", "email+webhook")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Table order of ``data_issues``.
_TABLE_ORDER = ("calls", "events", "apis", "balance_snapshots", "backups", "settings")

_CALLS_REQUIRED = ("request_id", "ts_ms", "role", "api_id", "status_code")
# Optional calls columns and the value (with its storage class) a store without them implies.
_CALLS_OPTIONAL = {
    "api_name": (None, "null"),
    "latency_ms": (None, "null"),
    "price_micro": (0, "integer"),
    "revenue_micro": (0, "integer"),
    "demo": (0, "integer"),
    "consumer": (None, "null"),
}
# Optional tables: the columns they must have (in the order a missing one is reported),
# and the optional columns with their defaults.
_OPTIONAL_TABLES = {
    "events": (("id", "ts_ms", "type", "severity", "message"), {}),
    "apis": (("api_id", "name", "price_micro", "registered_ms"), {"active": (1, "integer")}),
    "balance_snapshots": (("ts_ms", "usdc_micro", "eth_wei"), {}),
    "backups": (("ts_ms",), {"file": (None, "null"), "size_bytes": (None, "null")}),
}

_RULES = {
    "calls": (
        "request_id is missing",
        "request_id is not valid text",
        "ts_ms is not an integer",
        "ts_ms is out of range",
        "role is not valid text",
        "role is not buyer or seller",
        "api_id is missing",
        "api_id is not valid text",
        "status_code outside 100..599",
        "latency_ms is negative or not a number",
        "price_micro is negative or not an integer",
        "revenue_micro is negative or not an integer",
        "demo is not 0 or 1",
    ),
    "events": (
        "id is not an integer",
        "ts_ms is not an integer",
        "ts_ms is out of range",
        "type is missing",
        "severity is not info, warning or error",
        "message is missing",
    ),
    "apis": (
        "api_id is missing",
        "name is missing",
        "price_micro is negative or not an integer",
        "registered_ms is not an integer",
        "active is not 0 or 1",
    ),
    "balance_snapshots": (
        "ts_ms is not an integer",
        "ts_ms is out of range",
        "usdc_micro is negative or not an integer",
        "eth_wei is not a decimal number",
    ),
    "backups": (
        "ts_ms is not an integer",
        "ts_ms is out of range",
        "size_bytes is negative or not an integer",
    ),
    "settings": (
        "chain_id is not an integer",
        "low_usdc_threshold_micro is not a non-negative integer",
        "low_gas_threshold_wei is not a non-negative integer",
        "auto_pause_enabled is not 0 or 1",
        "timezone is not a known time zone",
        "wallet_address is not an address",
        "usdc_address is not an address",
        "panel_url is not an http(s) URL",
        "error_spike_errors is not a non-negative integer",
        "error_spike_window_ms is not a positive integer",
        *(f"alert_{r} is not off, panel, email, webhook or email+webhook" for r in _ALERT_RULES),
        "alert_repeat_ms is not a positive integer",
    ),
}

# The settings with a rule, in the order of _RULES["settings"].
_CHECKED_SETTINGS = (
    "chain_id",
    "low_usdc_threshold_micro",
    "low_gas_threshold_wei",
    "auto_pause_enabled",
    "timezone",
    "wallet_address",
    "usdc_address",
    "panel_url",
    "error_spike_errors",
    "error_spike_window_ms",
    *(f"alert_{r}" for r in _ALERT_RULES),
    "alert_repeat_ms",
)

_DEFAULT_SETTINGS = {
    "chain_id": "8453",
    "low_usdc_threshold_micro": "1000000",
    "low_gas_threshold_wei": "500000000000000",
    "auto_pause_enabled": "1",
    "timezone": "UTC",
    "panel_url": "https://localhost:3002/panel",
    "error_spike_errors": "5",
    "error_spike_window_ms": "300000",
    **{f"alert_{r}": "panel" for r in _ALERT_RULES},
    "alert_repeat_ms": "3600000",
}


# -- formatting ---------------------------------------------------------------


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with a ``Z``; milliseconds only when not zero.

    Examples
    --------
    >>> iso_ms(1795608000000)
    '2026-11-25T12:00:00Z'
    >>> iso_ms(1795608000123)
    '2026-11-25T12:00:00.123Z'
    >>> iso_ms(-1)
    '1969-12-31T23:59:59.999Z'
    """
    t = _EPOCH + timedelta(milliseconds=ms)
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    if ms % 1000:
        text += f".{ms % 1000:03d}"
    return text + "Z"


def _usdc(micro: int) -> str:
    return f"{micro // 10**6}.{micro % 10**6:06d}"


def _eth(wei: int) -> str:
    return f"{wei // 10**18}.{wei % 10**18:018d}"


# -- reading --------------------------------------------------------------------


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lower(name: str) -> str:
    """SQLite folds the case of names in ASCII only."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in name)


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [_lower(row[1]) for row in con.execute(f"PRAGMA table_info({_q(table)})")]


def _rowid(con: sqlite3.Connection, table: str) -> str | None:
    """A name that reaches the table's rowid, None when it has none (or columns took every name)."""
    taken = set(_columns(con, table))
    for name in ("rowid", "_rowid_", "oid"):
        if name not in taken:
            try:
                con.execute(f"SELECT {name} FROM {_q(table)} LIMIT 1").fetchall()
            except sqlite3.OperationalError:
                return None
            return name
    return None


class _NotUtf8(str):
    """Text whose bytes were not UTF-8: its value is decoded with replacement characters."""


def _text_of(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _NotUtf8(data.decode("utf-8", "replace"))


def _read(con: sqlite3.Connection, table: str, wanted: dict[str, tuple[object, str] | None]) -> list[dict]:
    """Every row as {column: (value, storage class)}, plus "_rowid".

    ``wanted`` maps a column to None (it must be present) or to the (value, class)
    used when the table lacks it.  A view or a WITHOUT ROWID table has no rowid:
    the row's position in the scan stands in for it.
    """
    present = set(_columns(con, table))
    selected = [c for c in wanted if c in present]
    items = [f"{_q(c)}, typeof({_q(c)})" for c in selected]
    rowid = _rowid(con, table) if _table_kind(con, table) == "table" else None
    if rowid is not None:
        raws = con.execute(f"SELECT {', '.join([rowid, *items])} FROM {_q(table)}").fetchall()
    else:  # a view, a WITHOUT ROWID table
        raws = [(None, *r) for r in con.execute(f"SELECT {', '.join(items)} FROM {_q(table)}")]
    rows = []
    for position, raw in enumerate(raws):
        row: dict = {"_rowid": position if raw[0] is None else raw[0]}
        for i, c in enumerate(selected):
            row[c] = (raw[1 + 2 * i], raw[2 + 2 * i])
        for c, default in wanted.items():
            if c not in present:
                row[c] = default
        rows.append(row)
    return rows


def _table_kind(con: sqlite3.Connection, table: str) -> str:
    for name, kind in con.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')"):
        if _lower(name) == table:
            return kind
    return ""


# -- the rules --------------------------------------------------------------------


def _is_int(cell: tuple) -> bool:
    return cell[1] == "integer"


def _is_text(cell: tuple) -> bool:
    return cell[1] == "text"


def _nonempty_text(cell: tuple) -> bool:
    return cell[1] == "text" and cell[0] != ""


def _utf8(cell: tuple) -> bool:
    """Not text whose bytes were not UTF-8 (any other value passes: other rules judge it)."""
    return not isinstance(cell[0], _NotUtf8)


MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def _in_range(cell: tuple) -> bool:
    return MIN_MS <= cell[0] <= MAX_MS


def _amount(cell: tuple) -> bool:
    return cell[1] == "integer" and cell[0] >= 0


def _flag(cell: tuple) -> bool:
    return cell[1] == "integer" and cell[0] in (0, 1)


def _latency_ok(cell: tuple) -> bool:
    if cell[1] == "null":
        return True
    if cell[1] not in ("integer", "real"):
        return False
    return math.isfinite(cell[0]) and cell[0] >= 0


def _eth_ok(cell: tuple) -> bool:
    if cell[1] == "integer":
        return cell[0] >= 0
    return cell[1] == "text" and re.fullmatch(r"[0-9]{1,78}", cell[0]) is not None


def _checks(table: str) -> list:
    """The tests of a table's rules, in the order of ``_RULES[table]``."""
    if table == "calls":
        return [
            lambda r: _nonempty_text(r["request_id"]),
            lambda r: _utf8(r["request_id"]),
            lambda r: _is_int(r["ts_ms"]),
            lambda r: _in_range(r["ts_ms"]),
            lambda r: _utf8(r["role"]),
            lambda r: _is_text(r["role"]) and r["role"][0] in ("buyer", "seller"),
            lambda r: _nonempty_text(r["api_id"]),
            lambda r: _utf8(r["api_id"]),
            lambda r: _is_int(r["status_code"]) and 100 <= r["status_code"][0] <= 599,
            lambda r: _latency_ok(r["latency_ms"]),
            lambda r: _amount(r["price_micro"]),
            lambda r: _amount(r["revenue_micro"]),
            lambda r: _flag(r["demo"]),
        ]
    if table == "events":
        return [
            lambda r: _is_int(r["id"]),
            lambda r: _is_int(r["ts_ms"]),
            lambda r: _in_range(r["ts_ms"]),
            lambda r: _nonempty_text(r["type"]),
            lambda r: _is_text(r["severity"]) and r["severity"][0] in ("info", "warning", "error"),
            lambda r: _is_text(r["message"]),
        ]
    if table == "apis":
        return [
            lambda r: _nonempty_text(r["api_id"]),
            lambda r: _is_text(r["name"]),
            lambda r: _amount(r["price_micro"]),
            lambda r: _is_int(r["registered_ms"]),
            lambda r: _flag(r["active"]),
        ]
    if table == "balance_snapshots":
        return [
            lambda r: _is_int(r["ts_ms"]),
            lambda r: _in_range(r["ts_ms"]),
            lambda r: _amount(r["usdc_micro"]),
            lambda r: _eth_ok(r["eth_wei"]),
        ]
    return [  # backups
        lambda r: _is_int(r["ts_ms"]),
        lambda r: _in_range(r["ts_ms"]),
        lambda r: r["size_bytes"][1] == "null" or _amount(r["size_bytes"]),
    ]


def _sort_out(table: str, rows: list[dict], now_ms: int, issues: dict) -> list[dict]:
    """The valid rows that exist at ``now``; bad ones are counted in ``issues[table]``."""
    counts = issues.setdefault(table, {})
    good = []
    for row in rows:
        ts = row.get("ts_ms")
        # A row with a valid time at or after now does not exist yet, good or bad.
        if ts is not None and _is_int(ts) and _in_range(ts) and ts[0] >= now_ms:
            continue
        broken = None
        for rule, check in zip(_RULES[table], _checks(table), strict=True):
            if not check(row):
                broken = rule
                break
        if broken is None:
            good.append(row)
        else:
            counts[broken] = counts.get(broken, 0) + 1
    return good


# -- settings ---------------------------------------------------------------------


def _zone_ok(name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:
        return False
    return True


def _setting_ok(key: str, value: str) -> bool:
    if key == "chain_id":
        return re.fullmatch(r"[0-9]+", value) is not None and int(value) > 0
    if key in ("low_usdc_threshold_micro", "low_gas_threshold_wei"):
        return re.fullmatch(r"[0-9]+", value) is not None
    if key == "auto_pause_enabled":
        return value in ("0", "1")
    if key == "timezone":
        return _zone_ok(value)
    if key in ("wallet_address", "usdc_address"):
        return re.fullmatch(r"0x[0-9a-fA-F]{40}", value) is not None
    if key == "panel_url":
        return value.startswith(("http://", "https://"))
    if key == "error_spike_errors":
        return re.fullmatch(r"[0-9]+", value) is not None
    if key in ("error_spike_window_ms", "alert_repeat_ms"):
        return re.fullmatch(r"[0-9]+", value) is not None and int(value) > 0
    if key.startswith("alert_") and key in _CHECKED_SETTINGS:
        return value in _LEVELS
    return True  # rpc_url and unknown keys are free text


def _settings(con: sqlite3.Connection, tables: set[str], issues: dict) -> dict[str, str]:
    """The settings in effect: valid stored values over the defaults."""
    effective = dict(_DEFAULT_SETTINGS)
    if "settings" not in tables:
        return effective
    present = _columns(con, "settings")
    for column in ("key", "value"):
        if column not in present:
            (n,) = con.execute('SELECT count(*) FROM "settings"').fetchone()
            if n:
                issues["settings"] = {f"lacks column {column}": n}
            return effective
    bad = issues.setdefault("settings", {})
    # Keys match without regard to (ASCII) case; of repeated keys the row with the greatest rowid wins.
    rowid = _rowid(con, "settings") if _table_kind(con, "settings") == "table" else None
    order = f" ORDER BY {rowid}" if rowid else ""
    latest: dict[str, tuple] = {}
    for key, key_type, value, value_type in con.execute(
        f'SELECT "key", typeof("key"), CAST("value" AS TEXT), typeof("value") FROM "settings"{order}'
    ):
        if key_type == "text":
            latest[_lower(key)] = (value, value_type)
    for key, (value, value_type) in latest.items():
        if value_type == "null":
            continue
        # A blob is as unusable as malformed text; a number is read as its text.
        ok = value_type != "blob" and _setting_ok(key, value)
        if ok:
            effective[key] = value
        elif key in _CHECKED_SETTINGS:
            rule = _RULES["settings"][_CHECKED_SETTINGS.index(key)]
            bad[rule] = bad.get(rule, 0) + 1
    return effective


# -- alerts, spikes and runway (alerts.md) -----------------------------------------------


def _errors_at(errors: list[int], tau: Fraction, window: int) -> int:
    """How many error times ``ts`` satisfy ``tau - window <= ts < tau`` (``tau`` a real instant)."""
    return sum(1 for ts in errors if tau - window <= ts < tau)


def _spike(errors: list[int], start: int, end: int, limit: int, window: int) -> bool:
    """Whether some real instant of ``[start, end)`` sees more than ``limit`` errors in the window.

    Error times are whole milliseconds, so the count can only change at an
    error's time or at an error's time plus the window: between two such points
    (and on either side of one) it is constant.  Trying every such point, and
    the midpoint just after it, covers every value the count takes.
    """
    half = Fraction(1, 2)
    instants = {Fraction(start)}
    for ts in errors:
        for point in (ts, ts + window):
            instants.update((Fraction(point), point + half))
    return any(start <= tau < end and _errors_at(errors, tau, window) > limit for tau in instants)


def _window_text(ms: int) -> str:
    if ms % HOUR_MS == 0:
        return f"{ms // HOUR_MS} h"
    if ms % 60_000 == 0:
        return f"{ms // 60_000} min"
    if ms % 1000 == 0:
        return f"{ms // 1000} s"
    return f"{ms} ms"


def _alerts(
    settings: dict, now_ms: int, usdc: int | None, wei: int | None, auto_pause: bool,
    backup_overdue: bool, last_backup: int | None, calls: list[dict],
) -> list[dict]:  # fmt: skip
    usdc_limit, wei_limit = int(settings["low_usdc_threshold_micro"]), int(settings["low_gas_threshold_wei"])
    usdc_text = None if usdc is None else _usdc(usdc)
    wei_text = None if wei is None else _eth(wei)
    low_usdc = usdc is not None and usdc < usdc_limit
    low_gas = wei is not None and wei < wei_limit
    window, limit = int(settings["error_spike_window_ms"]), int(settings["error_spike_errors"])
    per_api: dict[str, int] = {}
    for c in calls:
        if not _success(c) and now_ms - window <= c["ts_ms"][0] < now_ms:
            per_api[c["api_id"][0]] = per_api.get(c["api_id"][0], 0) + 1
    count = sum(per_api.values())
    spike_text = f"{count} {'error' if count == 1 else 'errors'} in the last {_window_text(window)}"
    if count:
        ordered = sorted(per_api.items(), key=lambda kv: (-kv[1], kv[0]))
        spike_text += " (" + ", ".join(f"{api} {n}" for api, n in ordered) + ")"

    def balance_text(unit: str, value: str | None, threshold: str, low: bool) -> str:
        if value is None:
            return f"{unit} balance unknown"
        if low:
            return f"Low {unit}: {value} {unit}, below {threshold}"
        return f"{unit} balance {value}, threshold {threshold}"

    age = None if last_backup is None else now_ms - last_backup
    usdc_cap, wei_cap = _usdc(usdc_limit), _eth(wei_limit)
    rows = {
        "low_usdc": (low_usdc, usdc_text, usdc_cap, balance_text("USDC", usdc_text, usdc_cap, low_usdc)),
        "low_gas": (low_gas, wei_text, wei_cap, balance_text("ETH", wei_text, wei_cap, low_gas)),
        "auto_pause": (
            auto_pause, usdc_text, usdc_cap,
            f"API serving paused: USDC {usdc_text} below {usdc_cap}" if auto_pause else "API serving not paused",
        ),
        "backup_overdue": (
            backup_overdue, age, BACKUP_MAX_AGE_MS,
            "No backup yet" if age is None else f"Last backup {age // DAY_MS} days ago",
        ),
        "error_spike": (count > limit, count, limit, spike_text),
    }  # fmt: skip
    return [
        {
            "rule": rule,
            "firing": rows[rule][0],
            "level": settings[f"alert_{rule}"],
            "value": rows[rule][1],
            "threshold": rows[rule][2],
            "message": rows[rule][3],
        }
        for rule in _RULE_ORDER
    ]


def _days(balance: int | None, threshold: int, amount: int | None, span: int | None) -> float | None:
    if balance is None:
        return None
    if balance <= threshold:
        return 0.0
    if amount is None or span is None or amount == 0:
        return None
    rate_per_day = Fraction(amount * DAY_MS, span)
    return float(Fraction(balance - threshold) / rate_per_day)


def _runway(
    settings: dict, now_ms: int, usdc: int | None, wei: int | None, buyer: list[dict], snaps: list[dict]
) -> dict:
    spend = span = None
    if buyer:
        first = min(c["ts_ms"][0] for c in buyer)
        start = max(now_ms - WEEK_MS, first)
        if now_ms - start >= DAY_MS:
            span = now_ms - start
            spend = sum(c["price_micro"][0] for c in buyer if start <= c["ts_ms"][0] < now_ms)
    burn = gas_span = None
    ordered = sorted(snaps, key=lambda b: (b["ts_ms"][0], b["_rowid"]))
    if ordered:
        begin = 0
        for i, b in enumerate(ordered):
            if b["ts_ms"][0] <= now_ms - WEEK_MS:
                begin = i
        chosen = ordered[begin:]
        if chosen[-1]["ts_ms"][0] - chosen[0]["ts_ms"][0] >= DAY_MS:
            gas_span = chosen[-1]["ts_ms"][0] - chosen[0]["ts_ms"][0]
            burn = 0
            for a, b in itertools.pairwise(chosen):
                drop = int(a["eth_wei"][0]) - int(b["eth_wei"][0])
                if drop > 0:
                    burn += drop
    return {
        "usdc_days": _days(usdc, int(settings["low_usdc_threshold_micro"]), spend, span),
        "spend_per_day_usdc": None if spend is None else _usdc(spend * DAY_MS // span),
        "eth_days": _days(wei, int(settings["low_gas_threshold_wei"]), burn, gas_span),
        "gas_per_day_eth": None if burn is None else _eth(burn * DAY_MS // gas_span),
    }


# -- the snapshot -------------------------------------------------------------------


def _open(path: str) -> sqlite3.Connection:
    if not os.path.isfile(path):
        raise StoreError(f"{path}: no such file")
    uri = "file:" + urllib.request.pathname2url(os.path.abspath(path)) + "?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    # Never crash on text that is not UTF-8: decoded with replacement, and marked.
    con.text_factory = _text_of
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        con.close()
        raise StoreError(f"{path}: not a SQLite database ({exc})") from None
    return con


def _success(row: dict) -> bool:
    return 200 <= row["status_code"][0] <= 299


def _bucket_starts(now_ms: int, zone: ZoneInfo) -> list[int]:
    moment = _EPOCH + timedelta(milliseconds=now_ms)
    try:
        offset = moment.astimezone(zone).utcoffset()
    except OverflowError:  # past 9999-12-31 in that zone: its offset a day earlier
        offset = (moment - timedelta(days=1)).astimezone(zone).utcoffset()
    offset_ms = offset // timedelta(milliseconds=1)
    last = now_ms - (now_ms + offset_ms) % HOUR_MS
    return [last - (BUCKETS - 1 - i) * HOUR_MS for i in range(BUCKETS)]


def _call_rate(calls: list[dict], starts: list[int], now_ms: int, settings: dict) -> list[dict]:
    rate = []
    errors = [c["ts_ms"][0] for c in calls if not _success(c)]
    limit, window = int(settings["error_spike_errors"]), int(settings["error_spike_window_ms"])
    for start in starts:
        end = min(start + HOUR_MS, now_ms)
        success = error = 0
        for c in calls:
            if start <= c["ts_ms"][0] < end:
                if _success(c):
                    success += 1
                else:
                    error += 1
        spike = _spike(errors, start, end, limit, window)
        rate.append({"hour": iso_ms(start), "success": success, "error": error, "spike": spike})
    return rate


def _mean_latency(calls: list[dict]) -> float | None:
    total = 0.0
    n = 0
    for c in calls:
        if c["latency_ms"][1] != "null":
            total += float(c["latency_ms"][0])
            n += 1
    return total / n if n else None


def _latencies(calls: list[dict]) -> list[float]:
    return sorted(float(c["latency_ms"][0]) for c in calls if c["latency_ms"][1] != "null")


def _percentile(calls: list[dict], nn: int) -> float | None:
    """Nearest rank: the value at 1-based position ceil(nn/100 * n) of the sorted latencies."""
    values = _latencies(calls)
    if not values:
        return None
    position = -(-nn * len(values) // 100)
    return values[max(position, 1) - 1]


def _money(role: str) -> str:
    return "price_micro" if role == "buyer" else "revenue_micro"


def _figures(calls: list[dict], role: str) -> dict:
    """views.md's figures of a set of calls of one role."""
    success = sum(1 for c in calls if _success(c))
    return {
        "calls": len(calls),
        "success_rate": success / len(calls) if calls else None,
        "avg_latency_ms": _mean_latency(calls),
        "p50_latency_ms": _percentile(calls, 50),
        "p95_latency_ms": _percentile(calls, 95),
        "p99_latency_ms": _percentile(calls, 99),
        "usdc": _usdc(sum(c[_money(role)][0] for c in calls)),
    }


def _between(calls: list[dict], start: int, end: int) -> list[dict]:
    return [c for c in calls if start <= c["ts_ms"][0] < end]


def _breakdown(calls: list[dict], role: str, names: dict[str, str]) -> list[dict]:
    ids: list[str] = []
    for c in calls:
        if c["api_id"][0] not in ids:
            ids.append(c["api_id"][0])
    rows = []
    for api_id in ids:
        mine = [c for c in calls if c["api_id"][0] == api_id]
        success = sum(1 for c in mine if _success(c))
        money = "price_micro" if role == "buyer" else "revenue_micro"
        row = {
            "api_id": api_id,
            "api_name": names.get(api_id, api_id),
            "calls": len(mine),
            "success": success,
            "errors": len(mine) - success,
            "usdc": _usdc(sum(c[money][0] for c in mine)),
        }
        row["avg_latency_ms"] = _mean_latency(mine)
        row["p95_latency_ms"] = _percentile(mine, 95)
        row["success_rate"] = success / len(mine)
        rows.append(row)
    # Two stable sorts: the second key first.
    rows.sort(key=lambda r: r["api_id"])
    rows.sort(key=lambda r: r["calls"], reverse=True)
    return rows


def _names(calls: list[dict], apis: list[dict]) -> dict[str, str]:
    """api_id -> display name: a registered name, else the latest call's name."""
    latest: dict[str, tuple[int, str, str]] = {}
    for c in calls:
        if c["api_name"][1] != "text":
            continue
        key = (c["ts_ms"][0], c["request_id"][0], c["api_name"][0])
        api_id = c["api_id"][0]
        if api_id not in latest or key[:2] > latest[api_id][:2]:
            latest[api_id] = key
    names = {api_id: key[2] for api_id, key in latest.items()}
    for a in apis:
        names[a["api_id"][0]] = a["name"][0]
    return names


def reference_snapshot(
    path: str, now_ms: int, events: int = 50, range_name: str | None = None, api: str | None = None
) -> dict:
    """The snapshot of ``metrics.md`` for the store at ``path`` as of ``now_ms``.

    Parameters
    ----------
    path
        A store (SQLite file); opened read-only.
    now_ms
        The moment to compute for, epoch milliseconds.
    events
        How many events to list.
    range_name, api
        views.md's ranged view (``1h`` … ``90d``), limited to one ``api_id``.

    Returns
    -------
    dict
        The snapshot JSON object, with the keys and order of ``metrics.md``.

    Raises
    ------
    StoreError
        The file is missing, not SQLite, or its ``calls`` table is missing or
        lacks a required column.
    """
    con = _open(str(path))
    try:
        return _snapshot(con, str(path), now_ms, events, range_name, api)
    finally:
        con.close()


def _snapshot(
    con: sqlite3.Connection, path: str, now_ms: int, n_events: int, range_name: str | None, api: str | None
) -> dict:
    tables = {_lower(r[0]) for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    if "calls" not in tables:
        raise StoreError(f"{path}: no calls table")
    try:
        present = _columns(con, "calls")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: the calls table cannot be read ({exc})") from None
    for column in _CALLS_REQUIRED:
        if column not in present:
            raise StoreError(f"{path}: the calls table lacks column {column}")

    issues: dict[str, dict[str, int]] = {}
    wanted_calls: dict = {c: None for c in _CALLS_REQUIRED}
    wanted_calls.update(_CALLS_OPTIONAL)
    calls = _sort_out("calls", _read(con, "calls", wanted_calls), now_ms, issues)

    rows_of: dict[str, list[dict]] = {}
    for table, (required, optional) in _OPTIONAL_TABLES.items():
        rows_of[table] = []
        if table not in tables:
            continue
        try:
            have = _columns(con, table)
            lacking = [c for c in required if c not in have]
            if lacking:
                (n,) = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
                if n:
                    issues[table] = {f"lacks column {lacking[0]}": n}
                continue
            wanted: dict = {c: None for c in required}
            wanted.update(optional)
            raw = _read(con, table, wanted)
        except sqlite3.DatabaseError:  # a view over a table that is gone: left out, and said
            issues[table] = {"cannot be read": 0}
            continue
        rows_of[table] = _sort_out(table, raw, now_ms, issues)

    try:
        settings = _settings(con, tables, issues)
    except sqlite3.DatabaseError:
        issues["settings"] = {"cannot be read": 0}
        settings = dict(_DEFAULT_SETTINGS)
    zone_name = settings["timezone"]
    zone = ZoneInfo(zone_name)

    buyer = [c for c in calls if c["role"][0] == "buyer"]
    seller = [c for c in calls if c["role"][0] == "seller"]
    starts = _bucket_starts(now_ms, zone)
    names = _names(calls, rows_of["apis"])

    day = [c for c in buyer if now_ms - DAY_MS <= c["ts_ms"][0] < now_ms]
    day_success = sum(1 for c in day if _success(c))
    previous_keys = ("calls", "success_rate", "avg_latency_ms", "p95_latency_ms", "usdc")
    buyer_before = _figures(_between(buyer, now_ms - 2 * DAY_MS, now_ms - DAY_MS), "buyer")
    buyer_out = {
        "calls_24h": len(day),
        "success_rate_24h": day_success / len(day) if day else None,
        "avg_latency_ms_24h": _mean_latency(day),
        "p50_latency_ms_24h": _percentile(day, 50),
        "p95_latency_ms_24h": _percentile(day, 95),
        "p99_latency_ms_24h": _percentile(day, 99),
        "previous_24h": {k: buyer_before[k] for k in previous_keys},
        "spent_24h_usdc": _usdc(sum(c["price_micro"][0] for c in day)),
        "total_calls": len(buyer),
        "total_spent_usdc": _usdc(sum(c["price_micro"][0] for c in buyer)),
        "call_rate": _call_rate(buyer, starts, now_ms, settings),
        "breakdown": _breakdown(buyer, "buyer", names),
    }

    s_day = [c for c in seller if now_ms - DAY_MS <= c["ts_ms"][0] < now_ms]
    s_week = [c for c in seller if now_ms - WEEK_MS <= c["ts_ms"][0] < now_ms]
    s_success = sum(1 for c in s_day if _success(c))
    seller_before = _figures(_between(seller, now_ms - 2 * DAY_MS, now_ms - DAY_MS), "seller")
    seller_weeks = _between(seller, now_ms - 2 * WEEK_MS, now_ms - WEEK_MS)
    seller_out = {
        "calls_24h": len(s_day),
        "success_rate_24h": s_success / len(s_day) if s_day else None,
        "avg_latency_ms_24h": _mean_latency(s_day),
        "p50_latency_ms_24h": _percentile(s_day, 50),
        "p95_latency_ms_24h": _percentile(s_day, 95),
        "p99_latency_ms_24h": _percentile(s_day, 99),
        "previous_24h": {k: seller_before[k] for k in previous_keys},
        "previous_7d": {"calls": len(seller_weeks), "usdc": _usdc(sum(c["revenue_micro"][0] for c in seller_weeks))},
        "revenue_24h_usdc": _usdc(sum(c["revenue_micro"][0] for c in s_day)),
        "calls_7d": len(s_week),
        "revenue_7d_usdc": _usdc(sum(c["revenue_micro"][0] for c in s_week)),
        "call_rate": _call_rate(seller, starts, now_ms, settings),
        "breakdown": _breakdown(seller, "seller", names),
    }

    latest_balance = None
    for b in rows_of["balance_snapshots"]:
        if latest_balance is None or (b["ts_ms"][0], b["_rowid"]) > (
            latest_balance["ts_ms"][0],
            latest_balance["_rowid"],
        ):
            latest_balance = b
    if latest_balance is None:
        usdc_micro = wei = None
        balances = {"usdc": None, "eth": None, "source": "none", "as_of": None}
    else:
        usdc_micro = latest_balance["usdc_micro"][0]
        wei = int(latest_balance["eth_wei"][0])
        balances = {
            "usdc": _usdc(usdc_micro),
            "eth": _eth(wei),
            "source": "snapshot",
            "as_of": iso_ms(latest_balance["ts_ms"][0]),
        }

    ordered_events = sorted(rows_of["events"], key=lambda e: (e["ts_ms"][0], e["id"][0]), reverse=True)
    startups = [e for e in ordered_events if e["type"][0] == "startup"]
    uptime_s = (now_ms - startups[0]["ts_ms"][0]) // 1000 if startups else None

    backup_times = [b["ts_ms"][0] for b in rows_of["backups"]]
    backup_overdue = not backup_times or now_ms - max(backup_times) > BACKUP_MAX_AGE_MS
    last_backup = max(backup_times) if backup_times else None

    auto_pause = (
        settings["auto_pause_enabled"] == "1"
        and usdc_micro is not None
        and usdc_micro < int(settings["low_usdc_threshold_micro"])
    )
    empty_state = not calls and (usdc_micro is None or (usdc_micro == 0 and wei == 0))

    data_issues = []
    for table in _TABLE_ORDER:
        counts = issues.get(table, {})
        shape_rules = [r for r in counts if r.startswith("lacks column ") or r == "cannot be read"]
        for rule in shape_rules + list(_RULES[table]):
            if counts.get(rule, 0) > 0 or rule == "cannot be read":
                data_issues.append({"table": table, "rule": rule, "rows": counts[rule]})

    out = {
        "now": iso_ms(now_ms),
        "timezone": zone_name,
        "mode": "seller" if rows_of["apis"] and seller else "buyer",
        "uptime_s": uptime_s,
        "balances": balances,
        "buyer": buyer_out,
        "seller": seller_out,
        "events": [
            {
                "ts": iso_ms(e["ts_ms"][0]),
                "type": e["type"][0],
                "severity": e["severity"][0],
                "message": e["message"][0],
            }
            for e in ordered_events[: max(n_events, 0)]
        ],
        "banners": {
            "auto_pause": auto_pause,
            "backup_overdue": backup_overdue,
            "empty_state": empty_state,
        },
        "data_issues": data_issues,
        "alerts": _alerts(settings, now_ms, usdc_micro, wei, auto_pause, backup_overdue, last_backup, calls),
        "runway": _runway(settings, now_ms, usdc_micro, wei, buyer, rows_of["balance_snapshots"]),
    }
    if range_name is not None:
        out["view"] = _view(calls, names, now_ms, zone, range_name, api, settings)
    return out


# -- views.md: ranged views ---------------------------------------------------------

MINUTE_MS = 60_000
_RANGES = {  # window length, buckets, unit
    "1h": (HOUR_MS, 60, "1m"),
    "24h": (DAY_MS, 24, "1h"),
    "7d": (7 * DAY_MS, 168, "1h"),
    "30d": (30 * DAY_MS, 30, "1d"),
    "90d": (90 * DAY_MS, 90, "1d"),
}


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _view_starts(now_ms: int, zone: ZoneInfo, count: int, unit: str) -> list[int]:
    local = (_EPOCH + timedelta(milliseconds=now_ms)).astimezone(zone)
    if unit == "1d":
        # Walk back one calendar day at a time; each day starts at its local midnight.
        starts = []
        day = local.date()
        while len(starts) < count:
            midnight = _to_ms(datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC))
            if midnight <= now_ms:
                starts.append(midnight)
            day -= timedelta(days=1)
        return starts[::-1]
    step = MINUTE_MS if unit == "1m" else HOUR_MS
    # Local wall time floored to the unit, as an offset from now.
    wall_ms = local.minute * MINUTE_MS + local.second * 1000 + now_ms % 1000
    if unit == "1m":
        wall_ms = local.second * 1000 + now_ms % 1000
    last = now_ms - wall_ms
    return [last - (count - 1 - i) * step for i in range(count)]


def _view(
    calls: list[dict],
    names: dict[str, str],
    now_ms: int,
    zone: ZoneInfo,
    range_name: str,
    api: str | None,
    settings: dict,
) -> dict:
    length, count, unit = _RANGES[range_name]
    start = now_ms - length
    if api is not None:
        calls = [c for c in calls if c["api_id"][0] == api]
    starts = _view_starts(now_ms, zone, count, unit)
    out: dict = {
        "range": range_name,
        "api": api,
        "start": iso_ms(start),
        "end": iso_ms(now_ms),
        "bucket": unit,
    }
    for role in ("buyer", "seller"):
        mine = [c for c in calls if c["role"][0] == role]
        window = _between(mine, start, now_ms)
        section = _figures(window, role)
        section["previous"] = _figures(_between(mine, start - length, start), role)
        series = []
        errors = [c["ts_ms"][0] for c in mine if not _success(c)]
        spike_limit, spike_window = int(settings["error_spike_errors"]), int(settings["error_spike_window_ms"])
        for i, bucket in enumerate(starts):
            end = min(starts[i + 1], now_ms) if i + 1 < len(starts) else now_ms
            inside = _between(mine, bucket, end)
            ok = sum(1 for c in inside if _success(c))
            spike = _spike(errors, bucket, end, spike_limit, spike_window)
            series.append({"start": iso_ms(bucket), "success": ok, "error": len(inside) - ok, "spike": spike})
        section["series"] = series
        section["breakdown"] = _breakdown(window, role, names)
        if role == "seller":

            def who(c: dict) -> str | None:
                return c["consumer"][0] if c["consumer"][1] == "text" else None

            first: dict[str, int] = {}
            for c in mine:
                if who(c) is not None and (who(c) not in first or c["ts_ms"][0] < first[who(c)]):
                    first[who(c)] = c["ts_ms"][0]
            seen = {who(c) for c in window if who(c) is not None}
            section["consumers"] = len(seen)
            section["new_consumers"] = sum(1 for t in first.values() if start <= t < now_ms)
            tops = []
            for consumer in seen:
                theirs = [c for c in window if who(c) == consumer]
                tops.append((sum(c["revenue_micro"][0] for c in theirs), len(theirs), consumer))
            tops.sort(key=lambda t: t[2])
            tops.sort(key=lambda t: (t[0], t[1]), reverse=True)
            section["top_consumers"] = [{"consumer": c, "calls": n, "usdc": _usdc(m)} for m, n, c in tops[:10]]
        out[role] = section
    return out


# -- comparison ---------------------------------------------------------------------


_PERCENTILE_KEY = re.compile(r"\bp\d\d_latency_ms(_24h)?$")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def _first_difference(actual: object, expected: object, path: str) -> str | None:
    ka, ke = _kind(actual), _kind(expected)
    if ka != ke:
        return f"{path}: expected {ke} {expected!r}, got {ka} {actual!r}"
    if ke == "object":
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            if key not in actual:
                return f"{where}: missing (expected {value!r})"
            found = _first_difference(actual[key], value, where)
            if found:
                return found
        return None
    if ke == "list":
        for i, (a, e) in enumerate(zip(actual, expected, strict=False)):
            found = _first_difference(a, e, f"{path}[{i}]")
            if found:
                return found
        if len(actual) != len(expected):
            return f"{path}: expected {len(expected)} items, got {len(actual)}"
        return None
    if ke == "float":
        # views.md: a percentile may be within 1 % of the exact one (a sketch).
        tolerance = 0.01 if _PERCENTILE_KEY.search(path) else 1e-9
        if math.isclose(actual, expected, rel_tol=tolerance):
            return None
        return f"{path}: expected {expected!r}, got {actual!r}"
    if actual != expected:
        return f"{path}: expected {expected!r}, got {actual!r}"
    return None


def assert_snapshots_equal(actual: dict, expected: dict) -> None:
    """Assert that ``actual`` agrees with the reference snapshot ``expected``.

    Only the keys of ``expected`` are compared (``actual`` may have more); floats
    agree within a relative tolerance of 1e-9, everything else exactly and with
    the same JSON type.  The message names the first differing path.

    Examples
    --------
    >>> assert_snapshots_equal({"a": [{"b": 1.0}], "extra": 1}, {"a": [{"b": 1.0 + 1e-12}]})
    >>> assert_snapshots_equal({"a": [{"b": "0.1"}]}, {"a": [{"b": "0.2"}]})
    Traceback (most recent call last):
    ...
    AssertionError: a[0].b: expected '0.2', got '0.1'
    """
    found = _first_difference(actual, expected, "")
    if found:
        raise AssertionError(found)
