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

import math
import os
import re
import sqlite3
import urllib.request
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ccanalytics.errors import StoreError

__all__ = ["assert_snapshots_equal", "iso_ms", "reference_snapshot"]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 604_800_000
BACKUP_MAX_AGE_MS = 2_592_000_000
BUCKETS = 48

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
)

_DEFAULT_SETTINGS = {
    "chain_id": "8453",
    "low_usdc_threshold_micro": "1000000",
    "low_gas_threshold_wei": "500000000000000",
    "auto_pause_enabled": "1",
    "timezone": "UTC",
    "panel_url": "https://localhost:3002/panel",
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


def _call_rate(calls: list[dict], starts: list[int], now_ms: int) -> list[dict]:
    rate = []
    for start in starts:
        end = min(start + HOUR_MS, now_ms)
        success = error = 0
        for c in calls:
            if start <= c["ts_ms"][0] < end:
                if _success(c):
                    success += 1
                else:
                    error += 1
        rate.append({"hour": iso_ms(start), "success": success, "error": error})
    return rate


def _mean_latency(calls: list[dict]) -> float | None:
    total = 0.0
    n = 0
    for c in calls:
        if c["latency_ms"][1] != "null":
            total += float(c["latency_ms"][0])
            n += 1
    return total / n if n else None


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
        if role == "buyer":
            row["avg_latency_ms"] = _mean_latency(mine)
        else:
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


def reference_snapshot(path: str, now_ms: int, events: int = 50) -> dict:
    """The snapshot of ``metrics.md`` for the store at ``path`` as of ``now_ms``.

    Parameters
    ----------
    path
        A store (SQLite file); opened read-only.
    now_ms
        The moment to compute for, epoch milliseconds.
    events
        How many events to list.

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
        return _snapshot(con, str(path), now_ms, events)
    finally:
        con.close()


def _snapshot(con: sqlite3.Connection, path: str, now_ms: int, n_events: int) -> dict:
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
    buyer_out = {
        "calls_24h": len(day),
        "success_rate_24h": day_success / len(day) if day else None,
        "avg_latency_ms_24h": _mean_latency(day),
        "spent_24h_usdc": _usdc(sum(c["price_micro"][0] for c in day)),
        "total_calls": len(buyer),
        "total_spent_usdc": _usdc(sum(c["price_micro"][0] for c in buyer)),
        "call_rate": _call_rate(buyer, starts, now_ms),
        "breakdown": _breakdown(buyer, "buyer", names),
    }

    s_day = [c for c in seller if now_ms - DAY_MS <= c["ts_ms"][0] < now_ms]
    s_week = [c for c in seller if now_ms - WEEK_MS <= c["ts_ms"][0] < now_ms]
    s_success = sum(1 for c in s_day if _success(c))
    seller_out = {
        "calls_24h": len(s_day),
        "success_rate_24h": s_success / len(s_day) if s_day else None,
        "revenue_24h_usdc": _usdc(sum(c["revenue_micro"][0] for c in s_day)),
        "calls_7d": len(s_week),
        "revenue_7d_usdc": _usdc(sum(c["revenue_micro"][0] for c in s_week)),
        "call_rate": _call_rate(seller, starts, now_ms),
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

    return {
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
    }


# -- comparison ---------------------------------------------------------------------


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
        if math.isclose(actual, expected, rel_tol=1e-9):
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
