"""The snapshot: every number of the Dashboard at one moment, and its JSON form.

``metrics.compute`` turns the store's clean frames into a ``Snapshot``;
``Snapshot.to_dict`` is the JSON of metrics.md, byte for byte in its formats:
the one place where the package turns frames into Python values, row by row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ccanalytics.metrics.runway import Runway
from ccanalytics.units import (
    eth_text,
    iso_utc,
    usdc_text,
)

if TYPE_CHECKING:
    import polars as pl

    from ccanalytics.metrics.alerts import Alert
    from ccanalytics.model import Balances, DataIssue

__all__ = [
    "BuyerView",
    "RoleView",
    "SellerView",
    "Snapshot",
]


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
                for ts, t, s, m in _rows(self.events, ("ts_ms", "type", "severity", "message"))
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
    rows = _rows(view.call_rate, ("hour", "success", "error", "spike"))
    return [{"hour": iso_utc(h), "success": s, "error": e, "spike": k} for h, s, e, k in rows]


def _rows(frame: pl.DataFrame, columns: tuple[str, ...]) -> zip[tuple[Any, ...]]:
    """The frame's rows of these columns as Python values (each column read whole: no query to plan)."""
    return zip(*(frame[name].to_list() for name in columns), strict=True)


def _breakdown_list(view: RoleView) -> list[dict[str, Any]]:
    # The few breakdown rows as Python values: the sums (Int128) stay exact integers until usdc_text.
    return [{**row, "usdc": usdc_text(row["usdc"])} for row in view.breakdown.to_dicts()]


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
