"""The peer: what an operator would build without ccanalytics.

Each dashboard panel is one SQL query straight on the control center's SQLite
file, recomputed on every refresh (as a Grafana SQLite panel does).  It
computes the same snapshot as ``ccanalytics`` for stores whose rows all keep
the contract (it does not look for bad rows — a Grafana panel would not
either), so the benchmark can check that both sides agree before timing them.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

HOUR, DAY, WEEK = 3_600_000, 86_400_000, 604_800_000
OK = "status_code BETWEEN 200 AND 299"


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    s, m = divmod(ms, 1000)
    text = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{m:03d}Z" if m else f"{text}Z"


def _usdc(micro: int | None) -> str:
    micro = micro or 0
    return f"{micro // 1_000_000}.{micro % 1_000_000:06d}"


def _eth(wei: int) -> str:
    return f"{wei // 10**18}.{wei % 10**18:018d}"


def peer_refresh(path: str, now: int, events: int = 50) -> dict:
    """One refresh of the peer dashboard: every panel is one query."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    q = con.execute
    settings = dict(q("SELECT key, value FROM settings").fetchall())
    tz = settings.get("timezone", "UTC")
    offset = datetime.fromtimestamp(now // 1000, tz=UTC).astimezone(ZoneInfo(tz)).utcoffset() or timedelta()
    last = now - (now + offset // timedelta(milliseconds=1)) % HOUR
    first = last - 47 * HOUR

    def card(role: str, start: int, money: str) -> tuple:
        return q(
            f"SELECT count(*), coalesce(sum({OK}), 0), sum(latency_ms), count(latency_ms), coalesce(sum({money}), 0)"
            " FROM calls WHERE role = ? AND ts_ms >= ? AND ts_ms < ?",
            (role, start, now),
        ).fetchone()

    def call_rate(role: str) -> list[dict]:
        rows = dict(
            (b, (s, e))
            for b, s, e in q(
                f"SELECT (ts_ms - ?) / {HOUR}, sum({OK}), sum(NOT ({OK})) FROM calls"
                " WHERE role = ? AND ts_ms >= ? AND ts_ms < ? GROUP BY 1",
                (first, role, first, now),
            )
        )
        return [
            {"hour": _iso(first + i * HOUR), "success": rows.get(i, (0, 0))[0], "error": rows.get(i, (0, 0))[1]}
            for i in range(48)
        ]

    # SQLite's bare-column rule: with max(), api_name comes from the row holding
    # the maximum (ties on ts_ms are broken arbitrarily, not by request_id).
    names = dict(
        (api, name)
        for api, name, _ in q(
            "SELECT api_id, api_name, max(ts_ms) FROM calls WHERE api_name IS NOT NULL AND ts_ms < ? GROUP BY api_id",
            (now,),
        )
    )
    registered = dict(q("SELECT api_id, name FROM apis").fetchall())

    def breakdown(role: str) -> list[dict]:
        money = "price_micro" if role == "buyer" else "revenue_micro"
        rows = q(
            f"SELECT api_id, count(*), sum({OK}), sum({money}), sum(latency_ms), count(latency_ms)"
            " FROM calls WHERE role = ? AND ts_ms < ? GROUP BY api_id ORDER BY count(*) DESC, api_id",
            (role, now),
        ).fetchall()
        out = []
        for api, n, ok, usdc, lat_sum, lat_n in rows:
            row = {
                "api_id": api,
                "api_name": registered.get(api) or names.get(api) or api,
                "calls": n,
                "success": ok,
                "errors": n - ok,
                "usdc": _usdc(usdc),
            }
            if role == "buyer":
                row["avg_latency_ms"] = lat_sum / lat_n if lat_n else None
            else:
                row["success_rate"] = ok / n
            out.append(row)
        return out

    b24 = card("buyer", now - DAY, "price_micro")
    b_all = q(
        "SELECT count(*), coalesce(sum(price_micro), 0) FROM calls WHERE role = 'buyer' AND ts_ms < ?", (now,)
    ).fetchone()
    s24 = card("seller", now - DAY, "revenue_micro")
    s7 = card("seller", now - WEEK, "revenue_micro")
    s_all = q("SELECT count(*) FROM calls WHERE role = 'seller' AND ts_ms < ?", (now,)).fetchone()[0]
    event_rows = q(
        "SELECT ts_ms, type, severity, message FROM events WHERE ts_ms < ? ORDER BY ts_ms DESC, id DESC LIMIT ?",
        (now, events),
    ).fetchall()
    startup = q("SELECT max(ts_ms) FROM events WHERE type = 'startup' AND ts_ms < ?", (now,)).fetchone()[0]
    backup = q("SELECT max(ts_ms) FROM backups WHERE ts_ms < ?", (now,)).fetchone()[0]
    balance = q(
        "SELECT ts_ms, usdc_micro, eth_wei FROM balance_snapshots WHERE ts_ms < ? ORDER BY ts_ms DESC, rowid DESC",
        (now,),
    ).fetchone()
    rates = {role: call_rate(role) for role in ("buyer", "seller")}
    breakdowns = {role: breakdown(role) for role in ("buyer", "seller")}
    con.close()

    usdc = balance[1] if balance else None
    eth = int(balance[2]) if balance else None
    threshold = int(settings.get("low_usdc_threshold_micro", 1_000_000))
    return {
        "now": _iso(now),
        "timezone": tz,
        "mode": "seller" if registered and s_all else "buyer",
        "uptime_s": None if startup is None else (now - startup) // 1000,
        "balances": {
            "usdc": None if usdc is None else _usdc(usdc),
            "eth": None if eth is None else _eth(eth),
            "source": "snapshot" if balance else "none",
            "as_of": _iso(balance[0]) if balance else None,
        },
        "buyer": {
            "calls_24h": b24[0],
            "success_rate_24h": b24[1] / b24[0] if b24[0] else None,
            "avg_latency_ms_24h": b24[2] / b24[3] if b24[3] else None,
            "spent_24h_usdc": _usdc(b24[4]),
            "total_calls": b_all[0],
            "total_spent_usdc": _usdc(b_all[1]),
            "call_rate": rates["buyer"],
            "breakdown": breakdowns["buyer"],
        },
        "seller": {
            "calls_24h": s24[0],
            "success_rate_24h": s24[1] / s24[0] if s24[0] else None,
            "revenue_24h_usdc": _usdc(s24[4]),
            "calls_7d": s7[0],
            "revenue_7d_usdc": _usdc(s7[4]),
            "call_rate": rates["seller"],
            "breakdown": breakdowns["seller"],
        },
        "events": [{"ts": _iso(t), "type": ty, "severity": s, "message": m} for t, ty, s, m in event_rows],
        "banners": {
            "auto_pause": settings.get("auto_pause_enabled", "1") == "1" and usdc is not None and usdc < threshold,
            "backup_overdue": backup is None or now - backup > 30 * DAY,
            "empty_state": b_all[0] == 0 and s_all == 0 and (usdc is None or (usdc == 0 and eth == 0)),
        },
        "data_issues": [],
    }


RANGES = {"1h": (HOUR, 60, "1m"), "24h": (DAY, 24, "1h"), "7d": (WEEK, 168, "1h"), "30d": (30 * DAY, 30, "1d")}
RANGES["90d"] = (90 * DAY, 90, "1d")


def _view_starts(now: int, tz: str, length: int, count: int, unit: str) -> list[int]:
    zone = ZoneInfo(tz)
    if unit == "1d":
        today = datetime.fromtimestamp(now // 1000, tz=UTC).astimezone(zone).date()
        days = [today - timedelta(days=i) for i in range(count - 1, -1, -1)]
        return [int(datetime(d.year, d.month, d.day, tzinfo=zone).timestamp() * 1000) for d in days]
    step = 60_000 if unit == "1m" else HOUR
    offset = (datetime.fromtimestamp(now // 1000, tz=UTC).astimezone(zone).utcoffset() or timedelta()) // timedelta(
        milliseconds=1
    )
    last = now - (now + offset) % step
    return [last - (count - 1 - i) * step for i in range(count)]


def peer_view(path: str, now: int, range_name: str = "90d", api: str | None = None) -> dict:
    """views.md's ``view`` object the peer's way: one SQL query per figure, percentiles by ORDER BY … OFFSET."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    q = con.execute
    tz = dict(q("SELECT key, value FROM settings").fetchall()).get("timezone", "UTC")
    length, count, unit = RANGES[range_name]
    start = now - length
    where_api = "" if api is None else " AND api_id = ?"
    extra = () if api is None else (api,)
    names = {a: n for a, n, _ in q("SELECT api_id, api_name, max(ts_ms) FROM calls WHERE api_name IS NOT NULL"
                                   " AND ts_ms < ? GROUP BY api_id", (now,))}  # fmt: skip
    names.update(q("SELECT api_id, name FROM apis").fetchall())
    starts = _view_starts(now, tz, length, count, unit)
    bucket = " ".join(f"WHEN ts_ms < {s} THEN {i - 1}" for i, s in enumerate(starts[1:], start=1))
    bucket = f"CASE {bucket} ELSE {count - 1} END" if bucket else "0"

    def pct(role: str, lo: int, hi: int, n: int, nn: int, api_id: str | None = None) -> float | None:
        if not n:
            return None
        filt, args = (where_api, extra) if api_id is None else (" AND api_id = ?", (api_id,))
        return q(
            f"SELECT latency_ms FROM calls WHERE role = ? AND ts_ms >= ? AND ts_ms < ? AND latency_ms IS NOT NULL"
            f"{filt} ORDER BY latency_ms LIMIT 1 OFFSET ?",
            (role, lo, hi, *args, -(-nn * n // 100) - 1),
        ).fetchone()[0]

    def figures(role: str, lo: int, hi: int) -> dict:
        money = "price_micro" if role == "buyer" else "revenue_micro"
        n, ok, lat, lat_n, usdc = q(
            f"SELECT count(*), coalesce(sum({OK}), 0), sum(latency_ms), count(latency_ms), coalesce(sum({money}), 0)"
            f" FROM calls WHERE role = ? AND ts_ms >= ? AND ts_ms < ?{where_api}",
            (role, lo, hi, *extra),
        ).fetchone()
        return {
            "calls": n,
            "success_rate": ok / n if n else None,
            "avg_latency_ms": lat / lat_n if lat_n else None,
            **{f"p{nn}_latency_ms": pct(role, lo, hi, lat_n, nn) for nn in (50, 95, 99)},
            "usdc": _usdc(usdc),
        }

    out: dict = {"range": range_name, "api": api, "start": _iso(start), "end": _iso(now), "bucket": unit}
    for role in ("buyer", "seller"):
        money = "price_micro" if role == "buyer" else "revenue_micro"
        section = figures(role, start, now)
        section["previous"] = figures(role, start - length, start)
        counted = {b: (s, e) for b, s, e in q(
            f"SELECT {bucket}, sum({OK}), sum(NOT ({OK})) FROM calls WHERE role = ? AND ts_ms >= ? AND ts_ms < ?"
            f"{where_api} GROUP BY 1", (role, starts[0], now, *extra))}  # fmt: skip
        section["series"] = [
            {"start": _iso(s), "success": counted.get(i, (0, 0))[0], "error": counted.get(i, (0, 0))[1]}
            for i, s in enumerate(starts)
        ]
        rows = q(
            f"SELECT api_id, count(*), sum({OK}), sum({money}), sum(latency_ms), count(latency_ms) FROM calls"
            f" WHERE role = ? AND ts_ms >= ? AND ts_ms < ?{where_api} GROUP BY api_id ORDER BY count(*) DESC, api_id",
            (role, start, now, *extra),
        ).fetchall()
        section["breakdown"] = [
            {"api_id": a, "api_name": names.get(a, a), "calls": n, "success": ok, "errors": n - ok, "usdc": _usdc(m),
             "avg_latency_ms": lat / lat_n if lat_n else None,
             "p95_latency_ms": pct(role, start, now, lat_n, 95, a), "success_rate": ok / n}
            for a, n, ok, m, lat, lat_n in rows
        ]  # fmt: skip
        if role == "seller":
            seller = f"role = 'seller' AND consumer IS NOT NULL{where_api}"
            section["consumers"] = q(
                f"SELECT count(DISTINCT consumer) FROM calls WHERE {seller} AND ts_ms >= ? AND ts_ms < ?",
                (*extra, start, now),
            ).fetchone()[0]
            section["new_consumers"] = q(
                f"SELECT count(*) FROM (SELECT min(ts_ms) AS first FROM calls WHERE {seller} AND ts_ms < ?"
                " GROUP BY consumer) WHERE first >= ?",
                (*extra, now, start),
            ).fetchone()[0]
            section["top_consumers"] = [
                {"consumer": c, "calls": n, "usdc": _usdc(m)}
                for c, n, m in q(
                    f"SELECT consumer, count(*), sum(revenue_micro) AS m FROM calls WHERE {seller}"
                    " AND ts_ms >= ? AND ts_ms < ? GROUP BY consumer ORDER BY m DESC, count(*) DESC, consumer LIMIT 10",
                    (*extra, start, now),
                )
            ]
        out[role] = section
    con.close()
    return out
