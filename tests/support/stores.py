"""Writing test stores: a tiny builder, and hypothesis strategies for adversarial stores.

A store is described by a :class:`StoreSpec` (plain rows as dicts) and written
with raw ``INSERT`` statements, so a test can put a value of any storage class
in any column.  The standard schema comes from ``ccanalytics.contract``; a
table can also be written *loose* (columns without declared types, so SQLite
keeps every value's class as given: text ``'123'`` in ``ts_ms``, ``NULL`` in
``role``), without some of its columns, or not at all.

Two ways in:

>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as tmp:
...     path = StoreBuilder(os.path.join(tmp, "store.db")).call(1_000, role="seller").api("api-a").write()
...     con = sqlite3.connect(path)
...     print(con.execute("SELECT role, price_micro, revenue_micro FROM calls").fetchall())
...     con.close()
[('seller', 1000, 950)]

and for property tests, ``cases()`` draws a :class:`Case` (a spec, a ``now`` and
an event count) whose rows cluster on the edges that ``now`` defines::

    @given(case=cases())
    def test_snapshot(case):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "store.db")
            case.spec.write(path)
            expected = reference_snapshot(path, case.now_ms, case.events)
"""

from __future__ import annotations

import random
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from ccanalytics.contract import DDL

__all__ = [
    "BAD_ZONES",
    "OMIT",
    "ZONES",
    "BadText",
    "Case",
    "HostileCase",
    "HostileSpec",
    "StoreBuilder",
    "StoreSpec",
    "cases",
    "dst_transitions",
    "hostile_cases",
    "nows",
    "stores",
]

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
WEEK_MS = 604_800_000
BACKUP_MAX_AGE_MS = 2_592_000_000

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "Asia/Kolkata")
# Names zoneinfo refuses on every platform (no case games: macOS file systems ignore case).
BAD_ZONES = ("Mars/Olympus_Mons", "Europe/Berlinn", "", "+05:45", "../etc/passwd", "America", "UTC+1")

_TABLE_ORDER = ("calls", "events", "apis", "balance_snapshots", "backups", "settings")


class _Omit:
    def __repr__(self) -> str:
        return "OMIT"

    def __reduce__(self) -> str:
        return "OMIT"  # a copy or an unpickled spec still holds the one OMIT


OMIT = _Omit()
"""A column value meaning "leave the column out of the INSERT" (its DDL default applies)."""


def _declarations() -> dict[str, list[tuple[str, str]]]:
    """Table -> [(column, declaration)] parsed from the contract's DDL."""
    tables = {}
    for name, body in re.findall(r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\);", DDL, re.DOTALL):
        columns = []
        for line in body.strip().splitlines():
            column, declaration = line.strip().rstrip(",").split(None, 1)
            columns.append((column, declaration))
        tables[name] = columns
    return tables


_DECLARATIONS = _declarations()


@dataclass
class StoreSpec:
    """Everything a test store holds, written by :meth:`write`.

    Rows are dicts column -> value; a value of :data:`OMIT` (or a column not in
    the dict) is left out of the ``INSERT``.  ``loose`` tables are created with
    untyped columns and no constraints; ``absent`` tables are not created;
    ``dropped`` maps a table to columns it is created without; a table in
    ``views`` is written to ``<table>_data`` and read through a view named
    ``<table>``, and one in ``without_rowid`` is a WITHOUT ROWID table (both
    need a primary key, so only ``calls`` and ``apis`` qualify for the latter).
    """

    calls: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    apis: list[dict] = field(default_factory=list)
    balance_snapshots: list[dict] = field(default_factory=list)
    backups: list[dict] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)
    loose: frozenset[str] = frozenset()
    absent: frozenset[str] = frozenset()
    dropped: dict[str, tuple[str, ...]] = field(default_factory=dict)
    views: frozenset[str] = frozenset()
    without_rowid: frozenset[str] = frozenset()

    def write(self, path: str, *, wal: bool = True) -> None:
        """Write the store to ``path`` (a new file), in WAL mode like a control center's.

        The schema is the contract's ``DDL`` (what ``create_store`` runs), written
        without fsync: ``create_store`` takes ~50 ms on a disk, too slow for
        hundreds of hypothesis examples.
        """
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA synchronous=OFF")
            if wal:
                con.execute("PRAGMA journal_mode=WAL")
            con.executescript(DDL)
            con.execute("BEGIN")
            custom = self.loose | self.views | self.without_rowid | {t for t, c in self.dropped.items() if c}
            for table in _TABLE_ORDER:
                if table in self.absent:
                    con.execute(f'DROP TABLE "{table}"')
                elif table in custom:
                    dropped = self.dropped.get(table, ())
                    columns = [(c, d) for c, d in _DECLARATIONS[table] if c not in dropped]
                    if table in self.loose:
                        # Untyped, but a WITHOUT ROWID table still needs its primary key.
                        key = " PRIMARY KEY" if table in self.without_rowid else ""
                        items = ", ".join(f'"{c}"' + (key if i == 0 else "") for i, (c, _) in enumerate(columns))
                    else:
                        items = ", ".join(f'"{c}" {d}' for c, d in columns)
                    suffix = " WITHOUT ROWID" if table in self.without_rowid else ""
                    con.execute(f'DROP TABLE "{table}"')
                    con.execute(f'CREATE TABLE "{_target(self, table)}" ({items}){suffix}')
                    if table in self.views:
                        con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM "{table}_data"')
            for table in _TABLE_ORDER[:-1]:
                if table in self.absent:
                    continue
                dropped = self.dropped.get(table, ())
                for row in getattr(self, table):
                    kept = {c: v for c, v in row.items() if v is not OMIT and c not in dropped}
                    if kept:
                        names = ", ".join(f'"{c}"' for c in kept)
                        marks = ", ".join("?" for _ in kept)
                        con.execute(
                            f'INSERT INTO "{_target(self, table)}" ({names}) VALUES ({marks})', list(kept.values())
                        )
                    else:
                        con.execute(f'INSERT INTO "{_target(self, table)}" DEFAULT VALUES')
            if "settings" not in self.absent:
                for key, value in self.settings.items():
                    con.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (key, value))
            con.execute("COMMIT")
        finally:
            con.close()


def _target(spec: StoreSpec, table: str) -> str:
    """The table that holds ``table``'s rows."""
    return f"{table}_data" if table in spec.views else table


class StoreBuilder:
    """A fluent way to write a small store by hand.

    Every method but :meth:`write` returns the builder; ``spec`` is the
    :class:`StoreSpec` being built.  Request ids default to ``req-0001``,
    ``req-0002``, … in call order.
    """

    def __init__(self, path: str) -> None:
        self.path = str(path)
        self.spec = StoreSpec()

    def call(
        self,
        ts_ms: object,
        role: object = "buyer",
        api_id: object = "api-a",
        status_code: object = 200,
        *,
        request_id: object = None,
        api_name: object = None,
        latency_ms: object = 100.0,
        price_micro: object = 1000,
        revenue_micro: object = None,
        demo: object = 0,
        **extra: object,
    ) -> StoreBuilder:
        """Add a call; a seller call earns 95 % of its price unless ``revenue_micro`` is given."""
        if request_id is None:
            request_id = f"req-{len(self.spec.calls) + 1:04d}"
        if revenue_micro is None:
            revenue_micro = price_micro * 95 // 100 if role == "seller" and isinstance(price_micro, int) else 0
        self.spec.calls.append(
            {
                "request_id": request_id,
                "ts_ms": ts_ms,
                "role": role,
                "api_id": api_id,
                "api_name": api_name,
                "status_code": status_code,
                "latency_ms": latency_ms,
                "price_micro": price_micro,
                "revenue_micro": revenue_micro,
                "demo": demo,
                **extra,
            }
        )
        return self

    def event(
        self,
        ts_ms: object,
        type: object = "startup",
        severity: object = "info",
        message: object = "Control center started",
        *,
        id: object = OMIT,
    ) -> StoreBuilder:
        """Add an event; its ``id`` is assigned by SQLite unless given."""
        self.spec.events.append({"id": id, "ts_ms": ts_ms, "type": type, "severity": severity, "message": message})
        return self

    def api(
        self,
        api_id: object,
        name: object = "An API",
        price_micro: object = 1000,
        registered_ms: object = 0,
        active: object = OMIT,
    ) -> StoreBuilder:
        """Register an API (``active`` defaults to the DDL's 1)."""
        self.spec.apis.append(
            {
                "api_id": api_id,
                "name": name,
                "price_micro": price_micro,
                "registered_ms": registered_ms,
                "active": active,
            }
        )
        return self

    def balance(self, ts_ms: object, usdc_micro: object = 0, eth_wei: object = "0") -> StoreBuilder:
        """Add a balance snapshot."""
        self.spec.balance_snapshots.append({"ts_ms": ts_ms, "usdc_micro": usdc_micro, "eth_wei": eth_wei})
        return self

    def backup(self, ts_ms: object, file: object = "backup.db", size_bytes: object = 1024) -> StoreBuilder:
        """Add a backup."""
        self.spec.backups.append({"ts_ms": ts_ms, "file": file, "size_bytes": size_bytes})
        return self

    def setting(self, key: str, value: object) -> StoreBuilder:
        """Set a setting (``None`` stores a NULL value)."""
        self.spec.settings[key] = value
        return self

    def loose(self, *tables: str) -> StoreBuilder:
        """Create these tables with untyped columns: values keep the class they are written with."""
        self.spec.loose = self.spec.loose | frozenset(tables)
        return self

    def absent(self, *tables: str) -> StoreBuilder:
        """Do not create these tables."""
        self.spec.absent = self.spec.absent | frozenset(tables)
        return self

    def view(self, *tables: str) -> StoreBuilder:
        """Write these tables' rows to ``<table>_data`` and read them through a view."""
        self.spec.views = self.spec.views | frozenset(tables)
        return self

    def without_rowid(self, *tables: str) -> StoreBuilder:
        """Create these tables (``calls``, ``apis``) WITHOUT ROWID."""
        self.spec.without_rowid = self.spec.without_rowid | frozenset(tables)
        return self

    def drop_columns(self, table: str, *columns: str) -> StoreBuilder:
        """Create ``table`` without these columns."""
        self.spec.dropped = {**self.spec.dropped, table: self.spec.dropped.get(table, ()) + columns}
        return self

    def write(self) -> str:
        """Write the store and return its path."""
        self.spec.write(self.path)
        return self.path


# -- time zones and moments ---------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _offset_ms(zone: ZoneInfo, ms: int) -> int:
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(zone).utcoffset() // timedelta(milliseconds=1)


def dst_transitions(zone: str, year: int = 2026) -> list[int]:
    """The instants (epoch ms) in ``year`` at which ``zone``'s UTC offset changes.

    Examples
    --------
    >>> [datetime.fromtimestamp(t / 1000, UTC).isoformat() for t in dst_transitions("Europe/Berlin")]
    ['2026-03-29T01:00:00+00:00', '2026-10-25T01:00:00+00:00']
    >>> dst_transitions("Asia/Kathmandu")
    []
    """
    tz = ZoneInfo(zone)
    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp() * 1000)
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp() * 1000)
    found = []
    t = start
    while t < end:
        if _offset_ms(tz, t) != _offset_ms(tz, t + DAY_MS):
            lo, hi = t, t + DAY_MS  # offset(lo) is old, offset(hi) is new
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_ms(tz, mid) == _offset_ms(tz, lo):
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
        t += DAY_MS
    return found


_TRANSITIONS = tuple(t for zone in ZONES for t in dst_transitions(zone))
_NOON_2026_11_25 = 1_795_608_000_000
_YEAR_2026 = (1_767_225_600_000, 1_798_761_600_000)

_SHIFTS = (
    0, 1, -1, 999, -999, 15 * 60_000, 30 * 60_000, 45 * 60_000, HOUR_MS, -HOUR_MS,
    HOUR_MS - 1, -HOUR_MS + 1, DAY_MS, -DAY_MS, 2 * DAY_MS, -2 * DAY_MS, 47 * HOUR_MS, -47 * HOUR_MS,
)  # fmt: skip


@st.composite
def nows(draw: st.DrawFn) -> int:
    """A ``now`` (epoch ms): near a DST change of one of :data:`ZONES`, or anywhere in 2026.

    Shifts of up to ±50 hours put a DST change anywhere inside the 48 hourly buckets.
    """
    base = draw(
        st.one_of(
            st.sampled_from(_TRANSITIONS),
            st.just(_NOON_2026_11_25),
            st.integers(*_YEAR_2026),
        )
    )
    shift = draw(st.one_of(st.sampled_from(_SHIFTS), st.integers(-50 * HOUR_MS, 50 * HOUR_MS)))
    return base + shift


# -- adversarial stores -------------------------------------------------------------
#
# Every strategy a draw uses is built once, here: a strategy built inside a draw is
# validated again on every draw, which made examples ten times slower.  Related
# fields are drawn together from precomputed tuples for the same reason.

_API_IDS = ("api-a", "api-b", "Z-upper", "bb-graphql", "ä-unicode")
_API_NAMES = (None, None, "Alpha", "Beta", "GraphQL demo", "", b"blob-name")
_STATUSES = (200, 201, 299, 204, 300, 199, 100, 599, 402, 404, 500, 502, 504)
_LATENCIES = (None, None, 0, 0.0, 12.5, 100, 250.25, 1999.999, 0.1)
_PRICES = (0, 1, 1000, 999_999, 1_000_000, 9_007_199_254_740_993)
_USDC = (0, 0, 1, 999_999, 1_000_000, 12_500_000, 9_007_199_254_740_993)
_WEI = ("0", "0", "1", "4200000000000000", "000123", "9" * 78, 0, 5_000_000_000_000_000)
_EVENT_TYPES = ("startup", "startup", "shutdown", "backup", "error", "catalog_sync", "Startup")
_SEVERITIES = ("info", "warning", "error")
_MESSAGES = ("Control center started", "", "Backup written", "ü ✓")

# (demo, price, revenue of a seller row, revenue of a buyer row). Demo calls are free;
# a buyer row's revenue is ignored by the spec, so it is sometimes loudly non-zero.
_MONEY = (
    (1, 0, 0, 0),
    (1, 0, 0, 0),
    *((0, p, p * 95 // 100, 0) for p in _PRICES),
    *((0, p, q, 777) for p in _PRICES[1:4] for q in (0, 1_000_000)),
)
# (request_id suffix, tx_hash, delivery): descriptive columns never make a row bad.
_DESCRIPTIVE = tuple(
    (suffix, tx, delivery)
    for suffix in ("", "a", "Z")
    for tx in (OMIT, None, "0x" + "ab" * 32, b"\x00", 5)
    for delivery in (OMIT, "p2p", "carrier pigeon")
)

# Bad values per (table, column): (values any table can store, values only a loose
# table can store: NULL in a NOT NULL column, a non-integer id, text that column
# affinity would turn into a number). Under the standard schema some values are
# converted by affinity and end up valid; the reference judges what is stored.
_BAD: dict[tuple[str, str], tuple[tuple[object, ...], tuple[object, ...]]] = {
    ("calls", "request_id"): (("", b"rid"), (None, 7)),
    ("calls", "ts_ms"): (("yesterday", 12.5, b"\x00", "float-now"), (None, "1795608000000")),
    ("calls", "role"): (("Buyer", "both", "", b"buyer"), (None,)),
    ("calls", "api_id"): (("", b"api-a"), (None, 5)),
    ("calls", "status_code"): ((99, 600, 0, -200, 200.5, "200 OK", b"\xc8"), (None, "200", 200.0)),
    ("calls", "latency_ms"): ((-1, -0.5, float("inf"), float("-inf"), "fast", b"\x01"), ("12.5",)),
    ("calls", "price_micro"): ((-1, 1.5, "free", b"\x00"), (None, 1000.0)),
    ("calls", "revenue_micro"): ((-1, 0.5, "none"), (None, "950")),
    ("calls", "demo"): ((2, -1, "yes", 0.5), (None, "1")),
    ("events", "id"): ((), ("e1", 1.5, None, b"\x01")),
    ("events", "ts_ms"): (("noon", 1.5, b"\x00"), (None, "0")),
    ("events", "type"): (("", b"startup"), (None, 5)),
    ("events", "severity"): (("INFO", "critical", "", b"info"), (None,)),
    ("events", "message"): ((b"msg",), (None, 7)),
    ("apis", "api_id"): (("", b"api-x"), (None,)),
    ("apis", "name"): ((b"name",), (None, 3)),
    ("apis", "price_micro"): ((-1, 0.5, "cheap"), (None,)),
    ("apis", "registered_ms"): (("then", 1.5), (None,)),
    ("apis", "active"): ((2, -1, "yes"), (None,)),
    ("balance_snapshots", "ts_ms"): (("now", 2.5), (None, "1")),
    ("balance_snapshots", "usdc_micro"): ((-1, 1.5, "lots"), (None, "12")),
    ("balance_snapshots", "eth_wei"): (
        ("1.5", "-1", "", "0x10", "9" * 79, " 1", "\uff11", b"1", "1e18"),
        (-1, 1.5, None),
    ),
    ("backups", "ts_ms"): (("today", 3.5), (None,)),
    ("backups", "size_bytes"): ((-1, 1.5, "big", b"\x00"), ()),
}

# Columns whose values must stay unique (a primary key under the standard schema).
_UNIQUE = {("calls", "request_id"), ("apis", "api_id"), ("events", "id")}

_SETTINGS = {
    "chain_id": ("8453", "84532", "31337", "0", "-1", "abc", "1.5", "", " 8453"),
    "low_usdc_threshold_micro": ("1000000", "0", "1", "12500000", "12500001", "-5", "1e6", "", "1.0"),
    "low_gas_threshold_wei": ("500000000000000", "0", "-1", "lots"),
    "auto_pause_enabled": ("1", "0", "2", "yes", "true", ""),
    "wallet_address": ("0x" + "ab" * 20, "0x" + "AB" * 20, "0x" + "ab" * 19, "ab" * 21, "0x" + "g" * 40),
    "usdc_address": ("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "0x1234", "USDC"),
    "panel_url": ("https://localhost:3002/panel", "http://10.0.0.2/panel", "ftp://x", "localhost:3002", ""),
    # alerts.md's settings: valid, invalid, and windows that make spikes of the drawn calls.
    "error_spike_errors": ("5", "0", "1", "2", "-1", "x", "1.5"),
    "error_spike_window_ms": ("300000", "1", "3600000", "86400000", "0", "-5", "abc"),
    "alert_error_spike": ("panel", "off", "email+webhook", "Email", ""),
    "alert_low_usdc": ("panel", "webhook", "sms"),
    "alert_repeat_ms": ("3600000", "1", "0", "soon"),
    # Valid zones three times as often as invalid ones; a blob is not a zone either.
    "timezone": (*ZONES, *ZONES, *ZONES, *BAD_ZONES, b"UTC"),
}

# Optional tables that lose a column, and the column; losing "active", "file" or
# "size_bytes" is fine, losing any other is reported as "lacks column …".
_LOSABLE = (
    ("events", "message"),
    ("events", "id"),
    ("apis", "registered_ms"),
    ("apis", "active"),
    ("balance_snapshots", "eth_wei"),
    ("backups", "ts_ms"),
    ("backups", "size_bytes"),
)
_CALLS_OPTIONAL = ("api_name", "latency_ms", "price_micro", "revenue_micro", "demo")


def _strategies() -> dict:
    built: dict = {
        "mistakes": st.sampled_from((0,) * 6 + (1, 1, 2)),  # shrinks toward no mistakes
        "shape": st.sampled_from(("both", "both", "both", "buyer", "seller", "empty")),
        "call_count": st.one_of(st.integers(0, 8), st.integers(0, 60)),
        "money": st.sampled_from([(*m, *d) for m in _MONEY for d in _DESCRIPTIVE]),
        "outcome": st.sampled_from(
            [(a, n, s, lat) for a in _API_IDS for n in _API_NAMES for s in _STATUSES for lat in _LATENCIES]
        ),
        "setting_pick": st.sampled_from(("absent", "null", "value", "value", "value")),
        "settings": {key: st.sampled_from(values) for key, values in _SETTINGS.items()},
        "tables": st.sets(st.sampled_from(_TABLE_ORDER[:-1]), max_size=5),
        "absent": st.sets(st.sampled_from(_TABLE_ORDER[1:]), max_size=2),
        "one_in_ten": st.integers(0, 9),
        "calls_optional": st.sets(st.sampled_from(_CALLS_OPTIONAL), min_size=1, max_size=2),
        "losable": st.sampled_from(_LOSABLE),
        # Not balance_snapshots: its ties are broken by rowid, which a view lacks.
        "views": st.sets(st.sampled_from(("calls", "events", "apis", "backups")), min_size=1, max_size=2),
        "without_rowid": st.sets(st.sampled_from(("calls", "apis")), min_size=1),
        "event": st.tuples(st.sampled_from(_EVENT_TYPES), st.sampled_from(_SEVERITIES), st.sampled_from(_MESSAGES)),
        "api_ids": st.lists(st.sampled_from(_API_IDS), unique=True, max_size=4),
        "api_row": st.tuples(
            st.sampled_from(("Registered A", "Registered B", "")),
            st.sampled_from(_PRICES),
            st.sampled_from((0, 1, 1, OMIT)),
        ),
        "balance": st.tuples(st.sampled_from(_USDC), st.sampled_from(_WEI)),
        "backup": st.tuples(st.sampled_from(("b.db", None, OMIT)), st.sampled_from((0, 1024, None, OMIT))),
        "events_listed": st.sampled_from((50, 50, 0, 1, 3)),
    }
    for table in _TABLE_ORDER[:-1]:
        columns = [c for t, c in _BAD if t == table]
        for loose in (False, True):
            usable = [c for c in columns if _BAD[(table, c)][0] or loose]
            built["column", table, loose] = st.sampled_from(usable)
            for c in usable:
                anywhere, loose_only = _BAD[(table, c)]
                built["bad", table, c, loose] = st.sampled_from(anywhere + loose_only if loose else anywhere)
    return built


_S = _strategies()


class Case(NamedTuple):
    """One drawn example: the store, the moment to compute for, and how many events to list."""

    spec: StoreSpec
    now_ms: int
    events: int


def _edges(now_ms: int, zone: object) -> list[int]:
    """Timestamps on the spec's edges for this ``now``: windows, buckets, the future."""
    try:
        offset = _offset_ms(ZoneInfo(zone), now_ms)
    except Exception:
        offset = 0  # an invalid zone means UTC
    last = now_ms - (now_ms + offset) % HOUR_MS
    edges = [now_ms + d for d in (0, 1, -1, HOUR_MS, 10 * DAY_MS)]
    for window in (DAY_MS, WEEK_MS):
        edges += [now_ms - window + d for d in (-1, 0, 1)]
    for k in (0, 1, 2, 24, 46, 47, 48):
        edges += [last - k * HOUR_MS + d for d in (-1, 0, 1)]
    return edges


def _spoil(draw: st.DrawFn, table: str, rows: list[dict], loose: bool, now_ms: int) -> None:
    """Break a few rows: one or two bad values each, unique columns kept unique."""
    used: dict[str, set] = {c: {r[c] for r in rows} for t, c in _UNIQUE if t == table}
    for i, row in enumerate(rows):
        for _ in range(draw(_S["mistakes"])):
            column = draw(_S["column", table, loose])
            value = draw(_S["bad", table, column, loose])
            if value == "float-now":  # an integral real: affinity makes it an integer unless loose
                value = float(now_ms - 1000)
            if column in used:
                if isinstance(value, bytes):
                    value += b"%d" % i
                if value is not None and value in used[column]:
                    continue
                used[column].discard(row[column])
                used[column].add(value)
            row[column] = value


@st.composite
def stores(draw: st.DrawFn, now_ms: int) -> StoreSpec:
    """An adversarial :class:`StoreSpec` whose rows cluster on the edges ``now_ms`` defines.

    Mixes: both roles, buyer-only, seller-only or no calls; calls at the window and
    bucket edges, in the future and with equal times; null latencies and names;
    demo calls; bad rows of every rule (wrong storage classes, too); events and
    balance snapshots with equal times; backups around the 30-day limit; valid and
    invalid settings and time zones; loose, absent and column-less tables, views and
    WITHOUT ROWID tables.
    """
    settings: dict[str, object] = {}
    for key in _SETTINGS:
        pick = draw(_S["setting_pick"])
        if pick == "null":
            settings[key] = None
        elif pick == "value":
            settings[key] = draw(_S["settings"][key])
    edges = _edges(now_ms, settings.get("timezone", "UTC"))
    ts = st.one_of(
        st.sampled_from(edges),
        st.integers(now_ms - DAY_MS - HOUR_MS, now_ms + HOUR_MS),
        st.integers(now_ms - 8 * DAY_MS, now_ms + 2 * HOUR_MS),
    )

    loose = draw(_S["tables"])
    absent = draw(_S["absent"])
    dropped: dict[str, tuple[str, ...]] = {}
    if draw(_S["one_in_ten"]) == 9:
        dropped["calls"] = tuple(sorted(draw(_S["calls_optional"])))
    if draw(_S["one_in_ten"]) == 9:
        table, column = draw(_S["losable"])
        dropped[table] = (column,)
    views = draw(_S["views"]) if draw(_S["one_in_ten"]) == 9 else set()
    # A loose table's NULL keys would break a WITHOUT ROWID table's NOT NULL primary key.
    without_rowid = draw(_S["without_rowid"]) - loose if draw(_S["one_in_ten"]) == 9 else set()

    shape = draw(_S["shape"])
    if shape == "empty":
        # No calls before now: a few future ones (which bad values may bring back as issues).
        roles, count = ("buyer", "seller"), draw(st.integers(0, 4))
        ts = st.sampled_from((now_ms, now_ms + 1, now_ms + HOUR_MS))
    else:
        roles = {"both": ("buyer", "seller"), "buyer": ("buyer",), "seller": ("seller",)}[shape]
        count = draw(_S["call_count"])
    role = st.sampled_from(roles)
    calls = []
    for n in range(count):
        r = draw(role)
        demo, price, seller_revenue, buyer_revenue, suffix, tx_hash, delivery = draw(_S["money"])
        api_id, api_name, status, latency = draw(_S["outcome"])
        calls.append(
            {
                # Not zero-padded: "r9" > "r10" as strings, the order name ties must use.
                "request_id": f"r{n}{suffix}",
                "ts_ms": draw(ts),
                "role": r,
                "api_id": api_id,
                "api_name": api_name,
                "status_code": status,
                "latency_ms": latency,
                "price_micro": price,
                "revenue_micro": seller_revenue if r == "seller" else buyer_revenue,
                "demo": demo,
                "tx_hash": tx_hash,
                "delivery": delivery,
            }
        )
    _spoil(draw, "calls", calls, "calls" in loose, now_ms)

    # Few distinct event times, so ties are common; ids distinct but not in insertion order.
    event_ts = st.one_of(st.sampled_from([*edges[:6], 0, -1, now_ms - 1000]), ts)
    n_events = draw(st.integers(0, 8))
    ids = draw(st.lists(st.integers(1, 1000), min_size=n_events, max_size=n_events, unique=True))
    events = []
    for event_id in ids:
        kind, severity, message = draw(_S["event"])
        events.append({"id": event_id, "ts_ms": draw(event_ts), "type": kind, "severity": severity, "message": message})
    _spoil(draw, "events", events, "events" in loose, now_ms)

    apis = []
    for api_id in draw(_S["api_ids"]):
        name, price, active = draw(_S["api_row"])
        registered = draw(st.sampled_from((0, now_ms - DAY_MS, now_ms + DAY_MS)))
        apis.append(
            {"api_id": api_id, "name": name, "price_micro": price, "registered_ms": registered, "active": active}
        )
    _spoil(draw, "apis", apis, "apis" in loose, now_ms)

    balance_ts = st.one_of(st.sampled_from([*edges[:3], now_ms - HOUR_MS, now_ms - HOUR_MS]), ts)
    balances = []
    for _ in range(draw(st.integers(0, 5))):
        usdc, wei = draw(_S["balance"])
        balances.append({"ts_ms": draw(balance_ts), "usdc_micro": usdc, "eth_wei": wei})
    _spoil(draw, "balance_snapshots", balances, "balance_snapshots" in loose, now_ms)

    backup_ts = st.sampled_from(
        [now_ms - BACKUP_MAX_AGE_MS + d for d in (-1, 0, 1)] + [now_ms - DAY_MS, now_ms, now_ms + 1, now_ms - 1]
    )
    backups = []
    for _ in range(draw(st.integers(0, 3))):
        file, size = draw(_S["backup"])
        backups.append({"ts_ms": draw(backup_ts), "file": file, "size_bytes": size})
    _spoil(draw, "backups", backups, "backups" in loose, now_ms)

    return StoreSpec(
        calls=calls,
        events=events,
        apis=apis,
        balance_snapshots=balances,
        backups=backups,
        settings=settings,
        loose=frozenset(loose),
        absent=frozenset(absent),
        dropped=dropped,
        views=frozenset(views),
        without_rowid=frozenset(without_rowid),
    )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A :class:`Case`: a ``now`` from :func:`nows`, a store around it, an event count."""
    now_ms = draw(nows())
    return Case(draw(stores(now_ms)), now_ms, draw(_S["events_listed"]))


# -- hostile stores: SQLite as other software writes it -----------------------------
#
# Loose or merely typed tables (no NOT NULL, no primary key), names in any case and
# extra columns with hostile names, values of every storage class in every column and
# at any row (well beyond the ~1 000 rows a fast reader samples), text that is not
# UTF-8, negative, huge or sparse rowids, repeated settings keys, amounts whose sums
# pass 2**63, times outside years 1-9999. See data-contract.md, "Stores written by
# someone else".


class BadText(bytes):
    """Bytes stored as TEXT although they are not UTF-8 (written with ``CAST(? AS TEXT)``)."""


_HOSTILE_TYPES = {  # the contract's affinities, without its constraints
    "calls": {
        "request_id": "TEXT", "ts_ms": "INTEGER", "role": "TEXT", "api_id": "TEXT", "api_name": "TEXT",
        "status_code": "INTEGER", "latency_ms": "REAL", "price_micro": "INTEGER", "revenue_micro": "INTEGER",
        "demo": "INTEGER", "tx_hash": "TEXT",
    },
    "events": {"id": "INTEGER", "ts_ms": "INTEGER", "type": "TEXT", "severity": "TEXT", "message": "TEXT"},
    "apis": {
        "api_id": "TEXT", "name": "TEXT", "price_micro": "INTEGER", "registered_ms": "INTEGER", "active": "INTEGER",
    },
    "balance_snapshots": {"ts_ms": "INTEGER", "usdc_micro": "INTEGER", "eth_wei": "TEXT"},
    "backups": {"ts_ms": "INTEGER", "file": "TEXT", "size_bytes": "INTEGER"},
    "settings": {"key": "TEXT", "value": "TEXT"},
}  # fmt: skip

MIN_TS_MS = -62_135_596_800_000
MAX_TS_MS = 253_402_300_799_999
_ANY = (
    None, 0, 1, -1, 2**63 - 1, -(2**63), 1.5, -0.0, 200.0, "", "x", "200", "ünï", "a\x00b",
    b"", b"\x00", b"buyer", BadText(b"\xff\xfe"), BadText(b"caf\xc3"),
)  # fmt: skip
# Values a column is likely to be given by another writer, valid or nearly so.
_HOSTILE = {
    ("calls", "request_id"): ("r-x", "R-X", BadText(b"r\xff"), b"r-blob"),
    ("calls", "ts_ms"): (MIN_TS_MS - 1, MIN_TS_MS, MAX_TS_MS, MAX_TS_MS + 1, -(2**62), 2**62, "1795608000000"),
    ("calls", "role"): ("buyer", "seller", "Buyer", BadText(b"buy\xe9r"), b"seller", "seller\x00"),
    ("calls", "api_id"): ("api-a", BadText(b"api-\xff"), b"api-a", "API-A"),
    ("calls", "api_name"): ("Renamed", BadText(b"Caf\xe9"), b"blob name", ""),
    ("calls", "status_code"): (200, 299, 599, 99, 600, "200", 200.5),
    ("calls", "latency_ms"): (0, 12.5, -1.0, float("inf"), "fast", 3),
    ("calls", "price_micro"): (4 * 10**18, 2**63 - 1, 0, -5, "100", 1.0),
    ("calls", "revenue_micro"): (4 * 10**18, 2**63 - 1, 0, -5, 2.5),
    ("calls", "demo"): (0, 1, 2, "1", 1.0),
    ("calls", "tx_hash"): (BadText(b"0x\xff"), b"\x01", 5),
    ("events", "ts_ms"): (MIN_TS_MS - 1, MAX_TS_MS + 1, 2**62, -(2**62), MIN_TS_MS + 1),
    ("events", "type"): ("startup", BadText(b"start\xffup"), b"startup", "STARTUP"),
    ("events", "severity"): ("info", "error", BadText(b"inf\xf6"), b"info"),
    ("events", "message"): (BadText(b"disk \xff full"), b"msg", "", 5),
    ("apis", "api_id"): ("api-a", "api-b", BadText(b"api-\xff")),
    ("apis", "name"): ("Registered", BadText(b"Na\xefve"), b"name"),
    ("balance_snapshots", "ts_ms"): (MAX_TS_MS + 1, MIN_TS_MS - 1),
    ("balance_snapshots", "usdc_micro"): (2**63 - 1, -1, 0),
    ("balance_snapshots", "eth_wei"): ("9" * 78, BadText(b"1\xff"), 10**18, "1.5"),
    ("backups", "ts_ms"): (MIN_TS_MS - 1, MAX_TS_MS + 1, 2**62),
}
# Extra columns other software adds, some named as SQLite's rowid is.
_EXTRA_COLUMNS = ('a"b', "rowid", "_rowid_", "oid", "Sel;ect --", "ñ")
_ROWID_PLANS = ("auto", "auto", "negative", "huge", "sparse", "mixed")
_HOSTILE_KEYS = (
    "timezone", "Timezone", "TIMEZONE", "chain_id", "CHAIN_ID", "low_usdc_threshold_micro",
    "auto_pause_enabled", "panel_url", "PANEL_URL", "wallet_address", "Low_Gas_Threshold_Wei",
)  # fmt: skip
_HOSTILE_SETTING_VALUES = (
    "Europe/Berlin", "Asia/Kathmandu", "UTC", "84532", "1", "0", 1, 8453, 12_500_000, 1.5, None,
    BadText(b"Europe/Berl\xffn"), b"UTC", "https://p.example/panel", "javascript:alert(1)", "0x" + "ab" * 20,
)  # fmt: skip


def _case_variant(name: str, pick: int) -> str:
    return (name, name.upper(), name.title(), name.swapcase())[pick % 4]


@dataclass
class HostileSpec:
    """A store as another program might write it: see :func:`hostile_cases`.

    ``rows`` maps a contract table to (rowid or None, {contract column: value}) rows;
    ``names`` and ``columns`` give the names the store uses, ``extra`` its extra
    columns, ``typed`` the tables declared with the contract's affinities.
    """

    journal: str = "wal"
    typed: frozenset[str] = frozenset()
    names: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rows: dict[str, list[tuple[int | None, dict]]] = field(default_factory=dict)
    settings: list[tuple[object, object]] = field(default_factory=list)

    def write(self, path: str) -> None:
        con = sqlite3.connect(path, isolation_level=None)
        try:
            con.execute("PRAGMA synchronous=OFF")
            con.execute(f"PRAGMA journal_mode={self.journal}")
            con.execute("BEGIN")
            for table, types in _HOSTILE_TYPES.items():
                name = self.names.get(table, table)
                columns = self.columns.get(table, {c: c for c in types})
                items = [_quoted(columns[c]) + (f" {types[c]}" if table in self.typed else "") for c in columns]
                items += [_quoted(e) for e in self.extra.get(table, ())]
                con.execute(f"CREATE TABLE {_quoted(name)} ({', '.join(items)})")
                taken = {c.lower() for c in (*columns.values(), *self.extra.get(table, ()))}
                rowid = next((r for r in ("rowid", "_rowid_", "oid") if r not in taken), None)
                rows = self.rows.get(table, [])
                if table == "settings":
                    rows = [(None, {"key": k, "value": v}) for k, v in self.settings]
                for at, row in rows:
                    names = [_quoted(columns[c]) for c in row]
                    marks = ["CAST(? AS TEXT)" if isinstance(v, BadText) else "?" for v in row.values()]
                    values = [bytes(v) if isinstance(v, BadText) else v for v in row.values()]
                    if at is not None and rowid is not None:
                        names, marks, values = [rowid, *names], ["?", *marks], [at, *values]
                    con.execute(f"INSERT INTO {_quoted(name)} ({', '.join(names)}) VALUES ({', '.join(marks)})", values)
            con.execute("COMMIT")
        finally:
            con.close()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class HostileCase(NamedTuple):
    """A hostile store, the moment to compute for, and how many rows a bulk read takes at once."""

    spec: HostileSpec
    now_ms: int
    chunk_rows: int


def _rowids(plan: str, n: int, rng: random.Random) -> list[int | None]:
    if plan == "auto":
        return [None] * n
    if plan == "negative":
        start = -(2**63) + rng.randrange(0, 10)
        return [start + i for i in range(n)]
    if plan == "huge":
        return [2**63 - 1 - n + i for i in range(n)]
    if plan == "sparse":  # snowflake-like ids: far apart, increasing
        return sorted(rng.sample(range(2**40, 2**62), n)) if n else []
    ids: set[int] = set()  # mixed: any order, any sign
    while len(ids) < n:
        ids.add(rng.randrange(-(2**62), 2**62))
    return list(ids)


@st.composite
def hostile_cases(draw: st.DrawFn) -> HostileCase:
    """A :class:`HostileCase`: a store as another program writes it, with its rows around ``now``."""
    now_ms = draw(st.sampled_from((_NOON_2026_11_25, *_TRANSITIONS[:2]))) + draw(st.integers(-HOUR_MS, HOUR_MS))
    rng = random.Random(draw(st.integers(0, 2**32)))
    spec = HostileSpec(journal=draw(st.sampled_from(("wal", "wal", "delete"))))
    spec.typed = frozenset(draw(st.sets(st.sampled_from(tuple(_HOSTILE_TYPES)))))
    for table, types in _HOSTILE_TYPES.items():
        spec.names[table] = _case_variant(table, draw(st.integers(0, 3)))
        spec.columns[table] = {c: _case_variant(c, rng.randrange(4)) for c in types}
        extra = draw(st.sets(st.sampled_from(_EXTRA_COLUMNS), max_size=3)) if table != "balance_snapshots" else set()
        spec.extra[table] = tuple(sorted(extra))
    if draw(st.integers(0, 9)) == 0:  # every name of the rowid taken: the table reads as if it had none
        spec.extra["calls"] = ("rowid", "_rowid_", "oid")

    n_calls = draw(st.sampled_from((0, 3, 40, 1_030, 1_300)))
    calls = []
    for i in range(n_calls):
        role = rng.choice(("buyer", "seller"))
        price = rng.choice((0, 1_000, 999_999, 4 * 10**18))
        calls.append(
            {
                "request_id": f"r{i}",
                "ts_ms": now_ms - rng.randrange(-HOUR_MS, 9 * DAY_MS),
                "role": role,
                "api_id": rng.choice(("api-a", "api-b", "ä-api")),
                "api_name": rng.choice((None, "Alpha", "Beta")),
                "status_code": rng.choice((200, 200, 201, 402, 502)),
                "latency_ms": rng.choice((None, 12.5, 100.0, 0.25)),
                "price_micro": price,
                "revenue_micro": price * 95 // 100 if role == "seller" else 0,
                "demo": 0,
                "tx_hash": "0x" + "ab" * 32,
            }
        )
    # Hostile values at any row, most of them beyond the rows a fast reader samples.
    for _ in range(draw(st.integers(0, 6)) if calls else 0):
        at = draw(st.one_of(st.integers(0, len(calls) - 1), st.integers(max(0, len(calls) - 300), len(calls) - 1)))
        column = draw(st.sampled_from(tuple(_HOSTILE_TYPES["calls"])))
        calls[at][column] = draw(st.sampled_from(_HOSTILE.get(("calls", column), ()) + _ANY))
    plan = draw(st.sampled_from(_ROWID_PLANS))
    spec.rows["calls"] = list(zip(_rowids(plan, len(calls), rng), calls, strict=True))

    events = [
        {"id": i + 1, "ts_ms": now_ms - rng.randrange(0, 3 * DAY_MS), "type": rng.choice(("startup", "backup")),
         "severity": rng.choice(("info", "warning", "error")), "message": rng.choice(("ok", "ünï"))}
        for i in range(draw(st.integers(0, 6)))
    ]  # fmt: skip
    apis = [
        {"api_id": rng.choice(("api-a", "api-b")), "name": rng.choice(("Registered A", "B")), "price_micro": 1000,
         "registered_ms": 0, "active": 1}
        for _ in range(draw(st.integers(0, 3)))
    ]  # fmt: skip
    balances = [
        {"ts_ms": now_ms - rng.randrange(0, DAY_MS), "usdc_micro": rng.choice((0, 5, 2**63 - 1)),
         "eth_wei": rng.choice(("0", "4200000000000000", 10**18))}
        for _ in range(draw(st.integers(0, 3)))
    ]  # fmt: skip
    backups = [{"ts_ms": now_ms - rng.randrange(0, 40 * DAY_MS), "file": "b.db", "size_bytes": 1} for _ in range(2)]
    for table, rows in (("events", events), ("apis", apis), ("balance_snapshots", balances), ("backups", backups)):
        for _ in range(draw(st.integers(0, 3)) if rows else 0):
            row = rows[draw(st.integers(0, len(rows) - 1))]
            column = draw(st.sampled_from(tuple(_HOSTILE_TYPES[table])))
            row[column] = draw(st.sampled_from(_HOSTILE.get((table, column), ()) + _ANY))
        spec.rows[table] = [(None, row) for row in rows]
    spec.settings = draw(
        st.lists(st.tuples(st.sampled_from(_HOSTILE_KEYS), st.sampled_from(_HOSTILE_SETTING_VALUES)), max_size=6)
    )
    if draw(st.integers(0, 9)) == 0:
        spec.settings.append((b"timezone", "Asia/Kolkata"))  # a key that is not text is no key
    chunk_rows = draw(st.sampled_from((100_000, 7, 500)))
    return HostileCase(spec, now_ms, chunk_rows)
