"""Computing the snapshot: the store's clean frames in, a ``Snapshot`` out (pure polars).

``compute`` assembles every number of the Dashboard from the ledger's totals,
the running windows and the small tables; ``table_facts`` reads the small
tables' figures (latest balance, events, backups, data issues).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.contract import STORE_TABLES, TABLES
from ccanalytics.metrics import formulas
from ccanalytics.metrics import views as ranged
from ccanalytics.metrics.alerts import evaluate, spike_flags
from ccanalytics.metrics.runway import Runway, days_left, gas_burn, spend_rate
from ccanalytics.model import Balances, DataIssue
from ccanalytics.units import (
    BACKUP_OVERDUE_MS,
    DAY_MS,
    WEEK_MS,
)

if TYPE_CHECKING:
    from ccanalytics.metrics.consumers import FirstSeen
    from ccanalytics.metrics.ledger import Totals
    from ccanalytics.settings import Settings

from ccanalytics.metrics.snapshot import BuyerView, RoleView, SellerView, Snapshot

__all__ = ["TableFacts", "compute", "role_views", "table_facts", "table_issues"]

ROLES = formulas.ROLES
ISSUE_TABLES = tuple(STORE_TABLES)


def _latest_balance(balance_snapshots: pl.LazyFrame, now: int) -> pl.LazyFrame:
    """The latest valid balance snapshot before ``now`` (ties: the later row)."""
    return (
        formulas.existing(balance_snapshots, now)
        .sort("ts_ms", "_rid", maintain_order=True)  # no rowid (a view): scan order breaks ties
        .tail(1)
        .select("ts_ms", "usdc_micro", "eth_wei")
    )


def table_issues(table: str, frame: pl.DataFrame, now: int) -> pl.LazyFrame:
    """Bad rows of a small table that exist at ``now`` (rows without a valid time always do)."""
    rows = frame.lazy()
    if TABLES[table].has_ts:
        rows = rows.filter(pl.col("ts_ms").is_null() | (pl.col("ts_ms") < now))
    return formulas.issue_counts(rows)


def _ordered_issues(table: str, counts: pl.DataFrame) -> list[DataIssue]:
    order = {rule: i for i, (rule, _) in enumerate(TABLES[table].rules)}
    found = {rule: rows for rule, rows in zip(counts["rule"], counts["rows"], strict=True) if rows}
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
        "events": formulas.recent_events(good["events"], now, events_limit),
        "startup": formulas.latest_time(good["events"].filter(pl.col("type") == "startup"), now),
        "backup": formulas.latest_time(good["backups"], now),
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
        formulas.merge_tallies(tallies, by=("role",)),
        *(ranged.all_time_breakdown(tallies, sketches, names, apis, role) for role in ROLES),
    ]
    if windowed is None:
        queries = [formulas.windows(calls, now), formulas.call_rate(calls, now, timezone)]
        windows, rates, figures, everything, *breakdowns = pl.collect_all(
            [*queries, ranged.period_figures(calls, periods), *alltime]
        )
    else:
        (windows, rates, figures), (everything, *breakdowns) = windowed, pl.collect_all(alltime)
    views: dict[str, RoleView] = {}
    for role, breakdown in zip(ROLES, breakdowns, strict=True):
        money = formulas.money_column(role)
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
        settings.auto_pause_enabled
        and balances.usdc_micro is not None  # known
        and balances.usdc_micro < settings.low_usdc_threshold_micro
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
    errors = formulas.window(calls.filter(~formulas.succeeded()), since, now).select("role", "ts_ms").collect()
    for role in ROLES:
        flags = spike_flags(starts, now, errors.filter(pl.col("role") == role)["ts_ms"], settings).to_list()
        for bucket, flag in zip(view[role]["series"], flags, strict=True):
            bucket["spike"] = flag
    return view


def _errors(calls: pl.LazyFrame, views: dict[str, RoleView], now: int, settings: Settings) -> pl.DataFrame:
    """The failed calls (role, ts_ms, api_id) the spike flags and the error-spike rule look at."""
    first = min(now, *(v.call_rate.select(pl.col("hour").min().fill_null(now)).item() for v in views.values()))
    since = max(first - settings.error_spike_window_ms, -(2**62))  # a huge window: every error
    return formulas.window(calls.filter(~formulas.succeeded()), since, now).select("role", "ts_ms", "api_id").collect()


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
