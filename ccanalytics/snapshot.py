"""The snapshot: every number of the Dashboard at one moment, and its JSON form.

``compute`` turns the store's clean frames into a ``Snapshot`` (pure polars);
``Snapshot.to_dict`` is the JSON of metrics.md, byte for byte in its formats.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics import metrics
from ccanalytics.contract import TABLES
from ccanalytics.units import (
    BACKUP_OVERDUE_MS,
    DAY_MS,
    WEEK_MS,
    eth_text,
    iso_utc,
    parse_now,
    usdc_text,
)

if TYPE_CHECKING:
    import argparse

    from ccanalytics.ledger import Totals
    from ccanalytics.settings import Settings

__all__ = ["Balances", "DataIssue", "RoleView", "Snapshot", "compute"]

ROLES = ("buyer", "seller")
ISSUE_TABLES = (*TABLES, "settings")


@dataclass(frozen=True)
class Balances:
    """The wallet's balances and where they come from (``chain``, ``snapshot`` or ``none``)."""

    usdc_micro: int | None = None
    eth_wei: int | None = None
    source: str = "none"
    as_of_ms: int | None = None
    note: str | None = None  # why live balances are not shown; never holds a secret

    @property
    def known(self) -> bool:
        return self.usdc_micro is not None


@dataclass(frozen=True)
class DataIssue:
    table: str
    rule: str
    rows: int


@dataclass(frozen=True)
class RoleView:
    """The figures of one role (buyer or seller); money in micro-USDC."""

    calls_24h: int
    success_24h: int
    latency_sum_24h: float
    latency_n_24h: int
    money_24h: int  # spent (buyer) or revenue (seller)
    calls_7d: int
    money_7d: int
    total_calls: int
    total_money: int
    call_rate: pl.DataFrame  # hour (epoch ms), success, error
    breakdown: pl.DataFrame  # api_id, api_name, calls, success, errors, usdc, avg_latency_ms | success_rate

    @property
    def success_rate_24h(self) -> float | None:
        return self.success_24h / self.calls_24h if self.calls_24h else None

    @property
    def avg_latency_ms_24h(self) -> float | None:
        return self.latency_sum_24h / self.latency_n_24h if self.latency_n_24h else None


@dataclass(frozen=True)
class Snapshot:
    """Every number of the Dashboard at ``now_ms``."""

    now_ms: int
    timezone: str
    mode: str
    uptime_s: int | None
    balances: Balances
    buyer: RoleView
    seller: RoleView
    events: pl.DataFrame  # id, ts_ms, type, severity, message; newest first
    auto_pause: bool
    backup_overdue: bool
    empty_state: bool
    low_gas: bool
    last_backup_ms: int | None
    panel_url: str
    data_issues: tuple[DataIssue, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The snapshot JSON of metrics.md (plus ``panel_url``, ``last_backup``, ``banners.low_gas``)."""
        b = self.balances
        return {
            "now": iso_utc(self.now_ms),
            "timezone": self.timezone,
            "mode": self.mode,
            "uptime_s": self.uptime_s,
            "balances": {
                "usdc": usdc_text(b.usdc_micro),
                "eth": eth_text(b.eth_wei),
                "source": b.source,
                "as_of": iso_utc(b.as_of_ms),
                "note": b.note,
            },
            "buyer": _buyer_dict(self.buyer),
            "seller": _seller_dict(self.seller),
            "events": [
                {"ts": iso_utc(ts), "type": t, "severity": s, "message": m}
                for ts, t, s, m in self.events.select("ts_ms", "type", "severity", "message").iter_rows()
            ],
            "banners": {
                "auto_pause": self.auto_pause,
                "backup_overdue": self.backup_overdue,
                "empty_state": self.empty_state,
                "low_gas": self.low_gas,
            },
            "data_issues": [{"table": i.table, "rule": i.rule, "rows": i.rows} for i in self.data_issues],
            "panel_url": self.panel_url,
            "last_backup": iso_utc(self.last_backup_ms),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _call_rate_list(view: RoleView) -> list[dict[str, Any]]:
    return [{"hour": iso_utc(h), "success": s, "error": e} for h, s, e in view.call_rate.iter_rows()]


def _breakdown_list(view: RoleView) -> list[dict[str, Any]]:
    rows = view.breakdown.with_columns(usdc=pl.col("usdc").map_batches(_usdc_texts, return_dtype=pl.String))
    return rows.to_dicts()


def _usdc_texts(micro: pl.Series) -> pl.Series:
    # Exact integer formatting; vectorised over the (few) breakdown rows.
    whole = (micro // 1_000_000).cast(pl.String)
    frac = (micro % 1_000_000).cast(pl.String).str.zfill(6)
    return whole + "." + frac


def _buyer_dict(v: RoleView) -> dict[str, Any]:
    return {
        "calls_24h": v.calls_24h,
        "success_rate_24h": v.success_rate_24h,
        "avg_latency_ms_24h": v.avg_latency_ms_24h,
        "spent_24h_usdc": usdc_text(v.money_24h),
        "total_calls": v.total_calls,
        "total_spent_usdc": usdc_text(v.total_money),
        "call_rate": _call_rate_list(v),
        "breakdown": _breakdown_list(v),
    }


def _seller_dict(v: RoleView) -> dict[str, Any]:
    return {
        "calls_24h": v.calls_24h,
        "success_rate_24h": v.success_rate_24h,
        "revenue_24h_usdc": usdc_text(v.money_24h),
        "calls_7d": v.calls_7d,
        "revenue_7d_usdc": usdc_text(v.money_7d),
        "call_rate": _call_rate_list(v),
        "breakdown": _breakdown_list(v),
    }


# -- computing ------------------------------------------------------------


def balances_from_snapshots(balance_snapshots: pl.DataFrame, now: int, note: str | None = None) -> Balances:
    """The latest balance snapshot before ``now`` (ties: the later row), or no balances."""
    latest = (
        metrics.existing(balance_snapshots.lazy(), now)
        .filter(pl.col("rule").is_null())
        .sort("ts_ms", "_rid", maintain_order=True)  # no rowid (a view): scan order breaks ties
        .tail(1)
        .collect()
    )
    if latest.is_empty():
        return Balances(note=note)
    ts, usdc, eth = latest.select("ts_ms", "usdc_micro", "eth_wei").row(0)
    return Balances(usdc_micro=usdc, eth_wei=int(eth), source="snapshot", as_of_ms=ts, note=note)


def table_issues(table: str, frame: pl.DataFrame, now: int) -> pl.LazyFrame:
    """Bad rows of a small table that exist at ``now`` (rows without a valid time always do)."""
    rows = frame.lazy()
    if TABLES[table].has_ts:
        rows = rows.filter(pl.col("ts_ms").is_null() | (pl.col("ts_ms") < now))
    return metrics.issue_counts(rows)


def _ordered_issues(table: str, counts: pl.DataFrame) -> list[DataIssue]:
    order = {rule: i for i, (rule, _) in enumerate(TABLES[table].rules)}
    found = {rule: rows for rule, rows in counts.iter_rows() if rows}
    return [DataIssue(table, rule, found[rule]) for rule in sorted(found, key=lambda r: order.get(r, -1))]


def compute(
    *,
    now: int,
    events_limit: int,
    settings: Settings,
    calls: pl.LazyFrame,
    totals: Totals,
    tables: dict[str, pl.DataFrame],
    shape_issues: dict[str, DataIssue],
    setting_issues: list[str],
    balances: Balances | None = None,
) -> Snapshot:
    """Every number of the Dashboard at ``now`` from the store's clean rows.

    ``calls`` are the valid calls of the last week (at least) that exist at
    ``now``; ``totals`` the all-time totals of calls at ``now``.  ``tables``
    holds the clean rows (with ``rule``) of events, apis, balance_snapshots and
    backups; ``balances`` are live balances when the chain answered (else they
    come from ``balance_snapshots``).
    """
    tallies, names = totals.tallies.lazy(), totals.names.lazy()
    good = {name: frame.lazy().filter(pl.col("rule").is_null()) for name, frame in tables.items()}
    tz = settings.timezone
    by_role = ("role",)
    queries = {
        "day": metrics.tally(metrics.window(calls, now - DAY_MS, now), by=by_role),
        "week": metrics.tally(metrics.window(calls, now - WEEK_MS, now), by=by_role),
        "all": metrics.merge_tallies(tallies, by=by_role),
        "events": metrics.recent_events(good["events"], now, events_limit),
        "startup": metrics.latest_time(good["events"].filter(pl.col("type") == "startup"), now),
        "backup": metrics.latest_time(good["backups"], now),
        **{f"rate_{r}": metrics.call_rate(calls, r, now, tz) for r in ROLES},
        **{f"breakdown_{r}": metrics.breakdown(tallies, names, good["apis"], r) for r in ROLES},
        **{f"issues_{t}": table_issues(t, f, now) for t, f in tables.items()},
    }
    results = dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))

    views = {r: _role_view(r, results) for r in ROLES}
    if balances is None:
        balances = balances_from_snapshots(tables["balance_snapshots"], now)
    elif not balances.known:
        balances = balances_from_snapshots(tables["balance_snapshots"], now, note=balances.note)

    startup = results["startup"].item()
    last_backup = results["backup"].item()
    no_calls = views["buyer"].total_calls == 0 and views["seller"].total_calls == 0
    no_money = not balances.known or (balances.usdc_micro == 0 and balances.eth_wei == 0)
    has_apis = good["apis"].select(pl.len()).collect().item() > 0

    issues: list[DataIssue] = []
    for table in ISSUE_TABLES:
        if table in shape_issues:
            issues.append(shape_issues[table])
        elif table == "calls":
            issues += _ordered_issues("calls", totals.issues)
        elif table == "settings":
            issues += [DataIssue("settings", rule, 1) for rule in setting_issues]
        else:
            issues += _ordered_issues(table, results[f"issues_{table}"])

    return Snapshot(
        now_ms=now,
        timezone=tz,
        mode="seller" if has_apis and views["seller"].total_calls > 0 else "buyer",
        uptime_s=None if startup is None else (now - startup) // 1000,
        balances=balances,
        buyer=views["buyer"],
        seller=views["seller"],
        events=results["events"].select("id", "ts_ms", "type", "severity", "message"),
        auto_pause=(
            settings.auto_pause_enabled and balances.known and balances.usdc_micro < settings.low_usdc_threshold_micro  # type: ignore[operator]
        ),
        backup_overdue=last_backup is None or now - last_backup > BACKUP_OVERDUE_MS,
        empty_state=no_calls and no_money,
        low_gas=balances.eth_wei is not None and balances.eth_wei < settings.low_gas_threshold_wei,
        last_backup_ms=last_backup,
        panel_url=settings.panel_url,
        data_issues=tuple(issues),
    )


def _row(frame: pl.DataFrame, role: str) -> dict[str, Any]:
    rows = frame.filter(pl.col("role") == role).to_dicts()
    return rows[0] if rows else {}


def _role_view(role: str, results: dict[str, pl.DataFrame]) -> RoleView:
    money = "price_micro" if role == "buyer" else "revenue_micro"
    day, week, total = (_row(results[k], role) for k in ("day", "week", "all"))
    return RoleView(
        calls_24h=day.get("calls", 0),
        success_24h=day.get("success", 0),
        latency_sum_24h=day.get("latency_sum", 0.0),
        latency_n_24h=day.get("latency_n", 0),
        money_24h=day.get(money, 0),
        calls_7d=week.get("calls", 0),
        money_7d=week.get(money, 0),
        total_calls=total.get("calls", 0),
        total_money=total.get(money, 0),
        call_rate=results[f"rate_{role}"],
        breakdown=results[f"breakdown_{role}"],
    )


# -- the command ----------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """``ccanalytics snapshot --db PATH [--now T] [--events N]``."""
    from ccanalytics.errors import CCError
    from ccanalytics.store import open_store

    try:
        now = parse_now(args.now)
    except ValueError as exc:
        raise CCError(str(exc)) from None
    if args.events < 0:
        raise CCError("--events must be 0 or more")
    store = open_store(args.db)
    try:
        snap = store.snapshot(now=now, events=args.events)
    finally:
        store.close()
    sys.stdout.write(snap.to_json() + "\n")
    return 0
