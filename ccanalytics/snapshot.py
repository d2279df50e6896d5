"""The snapshot: every number of the Dashboard at one moment, and its JSON form.

``compute`` turns the store's clean frames into a ``Snapshot`` (pure polars);
``Snapshot.to_dict`` is the JSON of metrics.md, byte for byte in its formats.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics import metrics
from ccanalytics import views as ranged
from ccanalytics.alerts import Alert, evaluate, spike_flags
from ccanalytics.contract import TABLES
from ccanalytics.runway import Runway, days_left, gas_burn, spend_rate
from ccanalytics.units import (
    BACKUP_OVERDUE_MS,
    DAY_MS,
    WEEK_MS,
    eth_text,
    iso_utc,
    parse_events,
    parse_now,
    usdc_text,
)

if TYPE_CHECKING:
    import argparse

    from ccanalytics.consumers import FirstSeen
    from ccanalytics.ledger import Totals
    from ccanalytics.settings import Settings

__all__ = [
    "Balances",
    "BuyerView",
    "DataIssue",
    "RoleView",
    "SellerView",
    "Snapshot",
    "TableFacts",
    "compute",
    "role_views",
    "table_facts",
]

ROLES = metrics.ROLES
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
    call_rate: pl.DataFrame  # hour (epoch ms), success, error, spike
    breakdown: pl.DataFrame  # api_id, api_name, calls, success, errors, usdc, avg/p95_latency_ms, success_rate
    extra: dict[str, Any] = field(default_factory=dict)  # views.md's additions, as JSON

    @property
    def success_rate_24h(self) -> float | None:
        return self.success_24h / self.calls_24h if self.calls_24h else None

    @property
    def avg_latency_ms_24h(self) -> float | None:
        return self.latency_sum_24h / self.latency_n_24h if self.latency_n_24h else None

    def __getattr__(self, name: str) -> Any:
        """views.md's additions (``p95_latency_ms_24h``, ``previous_24h``…) under their JSON names."""
        extra = self.__dict__.get("extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@dataclass(frozen=True)
class BuyerView(RoleView):
    """The buyer's figures; every key of ``to_dict()["buyer"]`` is also an attribute.

    The JSON's money is exact USDC text (``spent_24h_usdc``); the integers are
    ``money_24h`` and ``total_money`` (micro-USDC).
    """

    @property
    def spent_24h_usdc(self) -> str:
        return usdc_text(self.money_24h) or ""

    @property
    def total_spent_usdc(self) -> str:
        return usdc_text(self.total_money) or ""


@dataclass(frozen=True)
class SellerView(RoleView):
    """The seller's figures; every key of ``to_dict()["seller"]`` is also an attribute."""

    @property
    def revenue_24h_usdc(self) -> str:
        return usdc_text(self.money_24h) or ""

    @property
    def revenue_7d_usdc(self) -> str:
        return usdc_text(self.money_7d) or ""


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
    reconciliation: dict[str, Any] | None = None  # the latest `ccanalytics reconcile` before now
    alerts: tuple[Alert, ...] = field(default=())
    runway: Runway = field(default_factory=Runway)
    view: dict[str, Any] | None = None  # views.md's ranged view (``snapshot --range``)

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
            "reconciliation": self.reconciliation,
            "alerts": [a.to_dict() for a in self.alerts],
            "runway": self.runway.to_dict(),
            **({} if self.view is None else {"view": self.view}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _call_rate_list(view: RoleView) -> list[dict[str, Any]]:
    rows = view.call_rate.select("hour", "success", "error", "spike").iter_rows()
    return [{"hour": iso_utc(h), "success": s, "error": e, "spike": k} for h, s, e, k in rows]


def _breakdown_list(view: RoleView) -> list[dict[str, Any]]:
    rows = view.breakdown.with_columns(usdc=pl.col("usdc").map_batches(_usdc_texts, return_dtype=pl.String))
    return rows.to_dicts()


def _usdc_texts(micro: pl.Series) -> pl.Series:
    # Exact integer formatting (sums are Int128); vectorised over the (few) breakdown rows.
    micro = micro.cast(pl.Int128)
    million = pl.Series([1_000_000], dtype=pl.Int128)
    whole = (micro // million).cast(pl.String)
    frac = (micro % million).cast(pl.String).str.zfill(6)
    return whole + "." + frac


def _buyer_dict(v: RoleView) -> dict[str, Any]:
    return {
        "calls_24h": v.calls_24h,
        "success_rate_24h": v.success_rate_24h,
        "avg_latency_ms_24h": v.avg_latency_ms_24h,
        **v.extra,
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
        "avg_latency_ms_24h": v.avg_latency_ms_24h,
        **v.extra,
        "revenue_24h_usdc": usdc_text(v.money_24h),
        "calls_7d": v.calls_7d,
        "revenue_7d_usdc": usdc_text(v.money_7d),
        "call_rate": _call_rate_list(v),
        "breakdown": _breakdown_list(v),
    }


# -- computing ------------------------------------------------------------


def _latest_balance(balance_snapshots: pl.LazyFrame, now: int) -> pl.LazyFrame:
    """The latest valid balance snapshot before ``now`` (ties: the later row)."""
    return (
        metrics.existing(balance_snapshots, now)
        .sort("ts_ms", "_rid", maintain_order=True)  # no rowid (a view): scan order breaks ties
        .tail(1)
        .select("ts_ms", "usdc_micro", "eth_wei")
    )


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


@dataclass(frozen=True)
class TableFacts:
    """What the small tables say at one moment; unchanged until ``valid_until_ms``.

    Between refreshes the small tables rarely change, and ``now`` matters to
    them only when it passes the time of one of their rows: a store can keep
    these facts while its tables and that horizon hold.
    """

    events: pl.DataFrame
    startup_ms: int | None
    last_backup_ms: int | None
    balance: Balances
    has_apis: bool
    issues: dict[str, list[DataIssue]]
    valid_from_ms: int
    valid_until_ms: int | None  # the next row time at or after `now`; None: no such row


def table_facts(tables: dict[str, pl.DataFrame], now: int, events_limit: int) -> TableFacts:
    """Facts of the small tables (events, apis, balance_snapshots, backups) at ``now``."""
    good = {name: frame.lazy().filter(pl.col("rule").is_null()) for name, frame in tables.items()}
    timed = [tables[t].lazy().select("ts_ms") for t in ("events", "balance_snapshots", "backups")]
    queries = {
        "events": metrics.recent_events(good["events"], now, events_limit),
        "startup": metrics.latest_time(good["events"].filter(pl.col("type") == "startup"), now),
        "backup": metrics.latest_time(good["backups"], now),
        "balance": _latest_balance(good["balance_snapshots"], now),
        "apis": good["apis"].select(pl.len()),
        "next": pl.concat(timed).filter(pl.col("ts_ms") >= now).select(pl.col("ts_ms").min()),
        **{f"issues_{t}": table_issues(t, f, now) for t, f in tables.items()},
    }
    results = dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))
    balance = Balances()
    if results["balance"].height:
        ts, usdc, eth = results["balance"].row(0)
        balance = Balances(usdc_micro=usdc, eth_wei=int(eth), source="snapshot", as_of_ms=ts)
    return TableFacts(
        events=results["events"].select("id", "ts_ms", "type", "severity", "message"),
        startup_ms=results["startup"].item(),
        last_backup_ms=results["backup"].item(),
        balance=balance,
        has_apis=results["apis"].item() > 0,
        issues={t: _ordered_issues(t, results[f"issues_{t}"]) for t in tables},
        valid_from_ms=now,
        valid_until_ms=results["next"].item(),
    )


def role_views(
    calls: pl.LazyFrame,
    totals: Totals,
    apis: pl.LazyFrame,
    now: int,
    timezone: str,
    windowed: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame] | None = None,
) -> dict[str, RoleView]:
    """The figures of both roles: windows, call rates and breakdowns, in one collect.

    ``windowed`` are the windows, call rates and period figures at ``now``
    when they were kept elsewhere (``running.Running.at``): then only the
    all-time figures are queried.
    """
    tallies, names, sketches = totals.tallies.lazy(), totals.names.lazy(), totals.sketch.lazy()
    periods = {
        "24h": (now - DAY_MS, now),
        "previous_24h": (now - 2 * DAY_MS, now - DAY_MS),
        "previous_7d": (now - 2 * WEEK_MS, now - WEEK_MS),
    }
    alltime = [
        metrics.merge_tallies(tallies, by=("role",)),
        *(ranged.all_time_breakdown(tallies, sketches, names, apis, role) for role in ROLES),
    ]
    if windowed is None:
        queries = [metrics.windows(calls, now), metrics.call_rate(calls, now, timezone)]
        windows, rates, figures, everything, *breakdowns = pl.collect_all(
            [*queries, ranged.period_figures(calls, periods), *alltime]
        )
    else:
        (windows, rates, figures), (everything, *breakdowns) = windowed, pl.collect_all(alltime)
    views: dict[str, RoleView] = {}
    for role, breakdown in zip(ROLES, breakdowns, strict=True):
        money = "price_micro" if role == "buyer" else "revenue_micro"
        window, total = _row(windows, role), _row(everything, role)
        period = {r["period"]: r for r in figures.filter(pl.col("role") == role).to_dicts()}
        day = ranged.figures_dict(period.get("24h"), role, ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms"))
        extra: dict[str, Any] = {f"{key}_24h": value for key, value in day.items()}
        previous = ("calls", "success_rate", "avg_latency_ms", "p95_latency_ms", "usdc")
        extra["previous_24h"] = ranged.figures_dict(period.get("previous_24h"), role, previous)
        if role == "seller":
            extra["previous_7d"] = ranged.figures_dict(period.get("previous_7d"), role, ("calls", "usdc"))
        views[role] = (BuyerView if role == "buyer" else SellerView)(
            calls_24h=window.get("calls_24h", 0),
            success_24h=window.get("success_24h", 0),
            latency_sum_24h=window.get("latency_sum_24h", 0.0),
            latency_n_24h=window.get("latency_n_24h", 0),
            money_24h=window.get(f"{money}_24h", 0),
            calls_7d=window.get("calls_7d", 0),
            money_7d=window.get(f"{money}_7d", 0),
            total_calls=total.get("calls", 0),
            total_money=total.get(money, 0),
            call_rate=rates.filter(pl.col("role") == role).drop("role"),
            breakdown=breakdown,
            extra=extra,
        )
    return views


def _row(frame: pl.DataFrame, role: str) -> dict[str, Any]:
    rows = frame.filter(pl.col("role") == role).to_dicts()
    return rows[0] if rows else {}


def compute(
    *,
    now: int,
    settings: Settings,
    calls: pl.LazyFrame,
    totals: Totals,
    facts: TableFacts,
    apis: pl.DataFrame,
    shape_issues: dict[str, DataIssue],
    setting_issues: list[str],
    balances: Balances | None = None,
    balance_snapshots: pl.DataFrame | None = None,
    range_name: str | None = None,
    api: str | None = None,
    views: dict[str, RoleView] | None = None,
    seen: FirstSeen | None = None,
    horizon: int = 0,
    windowed: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame] | None = None,
    view: dict[str, Any] | None = None,
) -> Snapshot:
    """Every number of the Dashboard at ``now``.

    ``calls`` are the valid calls of the last week (at least) that exist at
    ``now``; ``totals`` the all-time totals of calls at ``now``; ``facts``
    those of the small tables (``table_facts``) and ``apis`` the clean rows of
    the apis table; ``balances`` are live balances when the chain answered
    (else they come from the latest balance snapshot); ``balance_snapshots``
    the judged rows of that table, for the gas runway.  With ``range_name``
    (views.md), ``calls`` reach back to the range's previous period and the
    snapshot has a ``view`` (limited to ``api`` when given); ``seen`` are
    the first seller calls of consumers before ``horizon``, where ``calls``
    begin.  ``views`` are the roles' figures when they were tallied elsewhere
    (the fleet's engines), ``windowed`` the windowed figures when they were
    kept as running state (see ``role_views``), ``view`` the ranged view when
    it was kept elsewhere (``history``).
    """
    good_apis = apis.lazy().filter(pl.col("rule").is_null())
    if views is None:
        views = role_views(calls, totals, good_apis, now, settings.timezone, windowed)
    if balances is None:
        balances = facts.balance
    elif not balances.known:
        balances = replace(facts.balance, note=balances.note)

    issues: list[DataIssue] = []
    for table in ISSUE_TABLES:
        if table in shape_issues:
            issues.append(shape_issues[table])
        elif table == "calls":
            issues += _ordered_issues("calls", totals.issues)
        elif table == "settings":
            issues += [DataIssue("settings", rule, 1) for rule in setting_issues]
        else:
            issues += facts.issues[table]

    no_calls = views["buyer"].total_calls == 0 and views["seller"].total_calls == 0
    no_money = not balances.known or (balances.usdc_micro == 0 and balances.eth_wei == 0)
    last_backup = facts.last_backup_ms
    auto_pause = (
        settings.auto_pause_enabled and balances.known and balances.usdc_micro < settings.low_usdc_threshold_micro  # type: ignore[operator]
    )
    backup_overdue = last_backup is None or now - last_backup > BACKUP_OVERDUE_MS
    errors = _errors(calls, views, now, settings)
    views = {role: _with_spikes(view, errors, role, now, settings) for role, view in views.items()}
    return Snapshot(
        now_ms=now,
        timezone=settings.timezone,
        mode="seller" if facts.has_apis and views["seller"].total_calls > 0 else "buyer",
        uptime_s=None if facts.startup_ms is None else (now - facts.startup_ms) // 1000,
        balances=balances,
        buyer=views["buyer"],
        seller=views["seller"],
        events=facts.events,
        auto_pause=auto_pause,
        backup_overdue=backup_overdue,
        empty_state=no_calls and no_money,
        low_gas=balances.eth_wei is not None and balances.eth_wei < settings.low_gas_threshold_wei,
        last_backup_ms=last_backup,
        panel_url=settings.panel_url,
        data_issues=tuple(issues),
        alerts=evaluate(
            now=now,
            settings=settings,
            usdc_micro=balances.usdc_micro,
            eth_wei=balances.eth_wei,
            auto_pause=auto_pause,
            backup_overdue=backup_overdue,
            last_backup_ms=last_backup,
            errors=errors.lazy(),
        ),
        runway=_runway(calls, views["buyer"], balances, balance_snapshots, now, settings),
        view=view
        if view is not None or range_name is None or seen is None
        else _view_with_spikes(
            ranged.ranged_view(
                calls,
                seen=seen,
                horizon=horizon,
                names=totals.names.lazy(),
                apis=good_apis,
                now=now,
                timezone=settings.timezone,
                range_name=range_name,
                api=api,
            ),
            calls.filter(pl.lit(True) if api is None else pl.col("api_id") == api),
            now,
            settings,
            range_name,
        ),
    )


def _view_with_spikes(
    view: dict[str, Any], calls: pl.LazyFrame, now: int, settings: Settings, range_name: str
) -> dict[str, Any]:
    """Each ``view.series`` bucket gains ``spike`` (alerts.md), from the view's own calls."""
    starts = ranged.bucket_starts(now, settings.timezone, ranged.RANGES[range_name])
    since = max(starts[0] - settings.error_spike_window_ms, -(2**62))
    errors = metrics.window(calls.filter(~metrics.succeeded()), since, now).select("role", "ts_ms").collect()
    for role in ROLES:
        flags = spike_flags(starts, now, errors.filter(pl.col("role") == role)["ts_ms"], settings).to_list()
        for bucket, flag in zip(view[role]["series"], flags, strict=True):
            bucket["spike"] = flag
    return view


def _errors(calls: pl.LazyFrame, views: dict[str, RoleView], now: int, settings: Settings) -> pl.DataFrame:
    """The failed calls (role, ts_ms, api_id) the spike flags and the error-spike rule look at."""
    first = min(now, *(int(v.call_rate["hour"].min() or now) for v in views.values()))
    since = max(first - settings.error_spike_window_ms, -(2**62))  # a huge window: every error
    return metrics.window(calls.filter(~metrics.succeeded()), since, now).select("role", "ts_ms", "api_id").collect()


def _with_spikes(view: RoleView, errors: pl.DataFrame, role: str, now: int, settings: Settings) -> RoleView:
    times = errors.filter(pl.col("role") == role)["ts_ms"]
    flags = spike_flags(view.call_rate["hour"], now, times, settings)
    return replace(view, call_rate=view.call_rate.with_columns(spike=flags))


def _runway(
    calls: pl.LazyFrame,
    buyer: RoleView,
    balances: Balances,
    balance_snapshots: pl.DataFrame | None,
    now: int,
    settings: Settings,
) -> Runway:
    spend = spend_rate(calls.filter(pl.col("role") == "buyer"), buyer.total_calls > buyer.calls_7d, now)
    gas = None
    if balance_snapshots is not None:
        gas = gas_burn(balance_snapshots.filter(pl.col("rule").is_null()), now)
    return Runway(
        usdc_days=days_left(balances.usdc_micro, settings.low_usdc_threshold_micro, spend),
        spend=spend,
        eth_days=days_left(balances.eth_wei, settings.low_gas_threshold_wei, gas),
        gas=gas,
    )


# -- the command ----------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """``ccanalytics snapshot --db PATH [--now T] [--events N] [--range R [--api ID]]``."""
    from ccanalytics.errors import CCError
    from ccanalytics.store import open_store

    try:
        now = parse_now(args.now)
        events = parse_events(args.events)
    except ValueError as exc:
        raise CCError(f"--{exc}") from None
    store = open_store(args.db)
    try:
        snap = store.snapshot(now=now, events=events, range=args.range, api=args.api)
    finally:
        store.close()
    sys.stdout.write(snap.to_json() + "\n")
    return 0
