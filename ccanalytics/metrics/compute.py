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
from ccanalytics.metrics import alltime, formulas
from ccanalytics.metrics import views as ranged
from ccanalytics.metrics.alerts import evaluate, spike_flags, spike_flags_again
from ccanalytics.metrics.running import Windowed, before
from ccanalytics.metrics.runway import Rate, Runway, days_left, gas_burn, spend_rate
from ccanalytics.model import Balances, DataIssue
from ccanalytics.units import (
    BACKUP_OVERDUE_MS,
    DAY_MS,
    WEEK_MS,
)

if TYPE_CHECKING:
    from ccanalytics.metrics.consumers import FirstSeen
    from ccanalytics.metrics.ledger import Totals
    from ccanalytics.metrics.texts import Texts
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
    them only when it passes the time of one of their rows (or, for the gas
    burnt over the last 7 days, a balance snapshot's time plus 7 days): a
    store can keep these facts while its tables and that horizon hold.
    """

    events: pl.DataFrame
    startup_ms: int | None
    last_backup_ms: int | None
    balance: Balances
    has_apis: bool
    issues: dict[str, list[DataIssue]]
    valid_from_ms: int
    valid_until_ms: int | None  # the last `now` these facts hold at; None: every later one
    gas: Rate | None = None  # the runway's gas burnt over 7 days (``runway.gas_burn``)


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
        # the gas burnt changes when `now` - 7 d reaches a snapshot: at its time + 7 d
        "week": good["balance_snapshots"]
        .select(ts=pl.col("ts_ms") + WEEK_MS)
        .filter(pl.col("ts") > now)
        .select(pl.col("ts").min() - 1),
        **{f"issues_{t}": table_issues(t, f, now) for t, f in tables.items()},
    }
    results = dict(zip(queries, pl.collect_all(list(queries.values())), strict=True))
    horizons = [t for t in (results["next"].item(), results["week"].item()) if t is not None]
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
        valid_until_ms=min(horizons, default=None),
        gas=gas_burn(tables["balance_snapshots"].filter(pl.col("rule").is_null()), now),
    )


def role_views(
    calls: pl.LazyFrame,
    totals: Totals,
    apis: pl.DataFrame,
    now: int,
    timezone: str,
    windowed: Windowed | None = None,
) -> dict[str, RoleView]:
    """The figures of both roles: windows, call rates and breakdowns.

    ``apis`` are the valid rows of the apis table.  ``windowed`` are the
    windows, call rates and period figures at ``now`` when they were kept
    elsewhere (``running.Running.moved``): then only the all-time percentiles
    are queried.
    """
    frames = windowed if windowed is not None else _windowed(calls, now, timezone)
    return _role_views(frames, alltime.breakdowns(totals, alltime.p95_query(totals.sketch.lazy()).collect(), apis))


def _windowed(calls: pl.LazyFrame, now: int, timezone: str) -> Windowed:
    """The windows, call rates and period figures at ``now`` from the calls, in one ``collect_all``."""
    periods = {
        "24h": (now - DAY_MS, now),
        "previous_24h": (now - 2 * DAY_MS, now - DAY_MS),
        "previous_7d": (now - 2 * WEEK_MS, now - WEEK_MS),
    }
    windows, rates, figures = pl.collect_all(
        [formulas.windows(calls, now), formulas.call_rate(calls, now, timezone), ranged.period_figures(calls, periods)]
    )
    # Each role's chart hours by Series masks: cheaper than a frame filter or partition_by's group.
    roles, columns = rates["role"], [rates[name] for name in rates.columns if name != "role"]
    role_rates = {role: pl.DataFrame([column.filter(roles == role) for column in columns]) for role in ROLES}
    return Windowed(windows.to_dicts(), role_rates, figures.to_dicts())


_DAY_FIGURES = ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms")
_PREVIOUS_FIGURES = ("calls", "success_rate", "avg_latency_ms", "p95_latency_ms", "usdc")


def _role_views(frames: Windowed, everything: dict[str, alltime.AllTime]) -> dict[str, RoleView]:
    """Both roles' views from the windowed figures (Python values) and the all-time figures."""
    window_rows = {row["role"]: row for row in frames.windows}
    period_rows: dict[str, dict[str, dict[str, Any]]] = {role: {} for role in ROLES}
    for row in frames.figures:
        period_rows.setdefault(row["role"], {})[row["period"]] = row
    role_rates = frames.call_rate
    views: dict[str, RoleView] = {}
    for role in ROLES:
        money = formulas.money_column(role)
        window, period, total = window_rows.get(role, {}), period_rows[role], everything[role]
        day = ranged.figures_dict(period.get("24h"), role, _DAY_FIGURES)
        extra: dict[str, Any] = {f"{key}_24h": value for key, value in day.items()}
        extra["previous_24h"] = ranged.figures_dict(period.get("previous_24h"), role, _PREVIOUS_FIGURES)
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
            total_calls=total.calls,
            total_money=total.money,
            call_rate=role_rates[role],
            breakdown=total.breakdown,
            extra=extra,
        )
    return views


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
    texts: Texts | None = None,
    horizon: int = 0,
    windowed: Windowed | None = None,
    view: dict[str, Any] | None = None,
    chart_calls: pl.LazyFrame | None = None,
    chart_failed: pl.DataFrame | None = None,
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
    begin, and ``texts`` the texts of their consumers when ``calls`` are keyed
    (``consumers.keyed``).  ``views`` are the roles' figures when they were tallied elsewhere
    (the fleet's engines), ``windowed`` the windowed figures when they were
    kept as running state (see ``role_views``), ``view`` the ranged view when
    it was kept elsewhere (``history``), and ``chart_calls`` a smaller frame
    than ``calls`` that holds the valid calls the chart's spike flags look at
    (from the chart's first hour less ``error_spike_window_ms``), ``chart_failed``
    those of them that failed, sorted by time, when the running state keeps them.
    """
    near = calls if chart_calls is None else chart_calls
    valid_apis = apis if apis["rule"].null_count() == apis.height else apis.filter(pl.col("rule").is_null())  # no query
    good_apis = valid_apis.lazy()
    if views is None:  # the refresh's queries (the chart's errors, the all-time p95) in one collect_all
        frames = windowed if windowed is not None else _windowed(calls, now, settings.timezone)
        if chart_failed is not None:  # the failed calls kept: two searches and the sketch's p95, no query
            errors = _kept_errors(chart_failed, frames.hours, now, settings)
            p95 = totals.p95 if totals.p95 is not None else alltime.p95_query(totals.sketch)
        else:
            errors, p95 = pl.collect_all(
                [_errors(near, frames.hours, now, settings), alltime.p95_query(totals.sketch.lazy())]
            )
        views = _role_views(frames, alltime.breakdowns(totals, p95, valid_apis))
    else:
        hours = pl.concat([v.call_rate["hour"] for v in views.values()])
        errors = _errors(near, hours, now, settings).collect()
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
    views = _with_spikes(views, errors, now, settings)
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
            errors=errors,
        ),
        runway=_runway(calls, views["buyer"], balances, balance_snapshots, facts, now, settings),
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
                texts=texts,
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


def _since(hours: pl.Series, now: int, settings: Settings) -> int:
    """Where the errors the chart ``hours``' spike flags and the error-spike rule see begin."""
    first = hours.min()
    first = now if first is None else min(now, int(first))  # type: ignore[arg-type]
    return max(first - settings.error_spike_window_ms, -(2**62))  # a huge window: every error


def _errors(calls: pl.LazyFrame, hours: pl.Series, now: int, settings: Settings) -> pl.LazyFrame:
    """The failed calls (role, ts_ms, api_id) the spike flags of the chart ``hours`` and the error-spike rule see."""
    since = _since(hours, now, settings)
    return formulas.window(calls.filter(~formulas.succeeded()), since, now).select("role", "ts_ms", "api_id")


def _kept_errors(failed: pl.DataFrame, hours: pl.Series, now: int, settings: Settings) -> pl.DataFrame:
    """``_errors`` from the failed calls sorted by time (``running.Running.failed_calls``): a slice, no query."""
    times = failed["ts_ms"]
    lo, hi = before(times, _since(hours, now, settings)), before(times, now)
    return failed.slice(lo, hi - lo)[["role", "ts_ms", "api_id"]]


def _with_spikes(views: dict[str, RoleView], errors: pl.DataFrame, now: int, settings: Settings) -> dict[str, RoleView]:
    """Each role's chart hours gain ``spike`` (alerts.md), both roles in one pass."""
    hours = {role: view.call_rate["hour"] for role, view in views.items()}
    flags = spike_flags_again(hours, now, errors["ts_ms"], settings, errors["role"])  # unchanged: not computed again
    return {role: replace(view, call_rate=_with(view.call_rate, flags[role])) for role, view in views.items()}


def _with(frame: pl.DataFrame, column: pl.Series) -> pl.DataFrame:
    """``frame`` with ``column`` added (``hstack``: no plan) or replaced."""
    return frame.with_columns(column) if column.name in frame.columns else frame.hstack([column])


def _runway(
    calls: pl.LazyFrame,
    buyer: RoleView,
    balances: Balances,
    balance_snapshots: pl.DataFrame | None,
    facts: TableFacts,
    now: int,
    settings: Settings,
) -> Runway:
    """The runway; the week's spend is the buyer's 7 d window (a query only while the buyer's history is younger)."""
    if buyer.total_calls > buyer.calls_7d:  # a buyer call before the week: the whole week
        spend: Rate | None = Rate(buyer.money_7d, WEEK_MS)
    elif buyer.calls_7d == 0:  # no buyer call at all
        spend = None
    else:
        spend = spend_rate(calls.filter(pl.col("role") == "buyer"), False, now)
    gas = facts.gas
    if balance_snapshots is not None:
        gas = gas_burn(balance_snapshots.filter(pl.col("rule").is_null()), now)
    return Runway(
        usdc_days=days_left(balances.usdc_micro, settings.low_usdc_threshold_micro, spend),
        spend=spend,
        eth_days=days_left(balances.eth_wei, settings.low_gas_threshold_wei, gas),
        gas=gas,
    )
