"""Literal snapshot dicts for the dashboard's widget tests (metrics.md, "The snapshot JSON").

Each is what ``store.snapshot(now=NOW).to_dict()`` returns for one situation (with
exactly its keys: tests/unit/test_ui_snapshots.py checks them against a real snapshot):
a buyer node, a node that both buys and sells, a fresh node (empty state), a
node with every banner up, and a store whose text is hostile markup.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

NOW = "2026-11-25T12:00:00Z"  # a Wednesday; 13:00 in Europe/Berlin
XSS = "<img src=x onerror=alert(1)>"


def call_rate(success: list[int] | None = None, error: list[int] | None = None) -> list[dict[str, Any]]:
    """48 hourly buckets ending with the hour of NOW; counts default to a day-shaped pattern."""
    last = datetime(2026, 11, 25, 12, tzinfo=UTC)
    success = (
        success if success is not None else [(7 * i) % 23 + (10 if 8 <= (i + 13) % 24 <= 20 else 0) for i in range(48)]
    )
    error = error if error is not None else [(i % 5 == 0) * (1 + i % 3) for i in range(48)]
    return [
        {
            "hour": (last - timedelta(hours=47 - i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "success": success[i],
            "error": error[i],
            "spike": False,
        }
        for i in range(48)
    ]


def _previous(calls: int = 0, usdc: str = "0.000000", **figures: float | None) -> dict[str, Any]:
    """views.md's ``previous_24h``: the day before's figures (null rates and latencies without calls)."""
    keys = ("success_rate", "avg_latency_ms", "p95_latency_ms")
    return {"calls": calls, **{key: figures.get(key) for key in keys}, "usdc": usdc}


def _seller_nothing() -> dict[str, Any]:
    return {
        "calls_24h": 0,
        "success_rate_24h": None,
        "avg_latency_ms_24h": None,
        "p50_latency_ms_24h": None,
        "p95_latency_ms_24h": None,
        "p99_latency_ms_24h": None,
        "previous_24h": _previous(),
        "previous_7d": {"calls": 0, "usdc": "0.000000"},
        "revenue_24h_usdc": "0.000000",
        "calls_7d": 0,
        "revenue_7d_usdc": "0.000000",
        "call_rate": call_rate([0] * 48, [0] * 48),
        "breakdown": [],
    }


BUYER: dict[str, Any] = {
    "now": NOW,
    "timezone": "Europe/Berlin",
    "mode": "buyer",
    "uptime_s": 3 * 86_400 + 4 * 3_600 + 17 * 60,
    "balances": {
        "usdc": "12.500000",
        "eth": "0.004200000000000000",
        "source": "snapshot",
        "as_of": "2026-11-25T11:59:00Z",
        "note": None,
    },
    "buyer": {
        "calls_24h": 1_234,
        "success_rate_24h": 0.973,
        "avg_latency_ms_24h": 212.4,
        "p50_latency_ms_24h": 120.0,
        "p95_latency_ms_24h": 640.5,
        "p99_latency_ms_24h": 1_210.0,
        "previous_24h": _previous(1_180, "1.180000", success_rate=0.981, avg_latency_ms=198.7, p95_latency_ms=602.0),
        "spent_24h_usdc": "1.234000",
        "total_calls": 48_210,
        "total_spent_usdc": "43.118000",
        "call_rate": call_rate(),
        "breakdown": [
            {
                "api_id": "bb-sse-ticker",
                "api_name": "SSE market ticker",
                "calls": 30_100,
                "success": 29_950,
                "errors": 150,
                "usdc": "30.100000",
                "avg_latency_ms": 88.2,
                "p95_latency_ms": 140.0,
                "success_rate": 0.995017,
            },
            {
                "api_id": "bb-graphql",
                "api_name": "GraphQL demo",
                "calls": 12_000,
                "success": 11_400,
                "errors": 600,
                "usdc": "12.000000",
                "avg_latency_ms": 310.9,
                "p95_latency_ms": 820.0,
                "success_rate": 0.95,
            },
            {
                "api_id": "geo-lookup",
                "api_name": "Geo lookup",
                "calls": 6_100,
                "success": 6_100,
                "errors": 0,
                "usdc": "1.018000",
                "avg_latency_ms": None,
                "p95_latency_ms": None,
                "success_rate": 1.0,
            },
            {
                "api_id": "demo-echo",
                "api_name": None,
                "calls": 10,
                "success": 9,
                "errors": 1,
                "usdc": "0.000000",
                "avg_latency_ms": 4.0,
                "p95_latency_ms": 6.0,
                "success_rate": 0.9,
            },
        ],
    },
    "seller": _seller_nothing(),
    "events": [
        {
            "ts": "2026-11-25T11:58:10Z",
            "type": "catalog_sync",
            "severity": "info",
            "message": "Catalog synced: 214 APIs",
        },
        {
            "ts": "2026-11-25T10:12:00Z",
            "type": "error_spike",
            "severity": "warning",
            "message": "bb-graphql: 12 % errors in 10 min",
        },
        {
            "ts": "2026-11-24T22:40:31Z",
            "type": "error",
            "severity": "error",
            "message": "Settlement failed: nonce too low",
        },
        {
            "ts": "2026-11-22T07:43:00Z",
            "type": "startup",
            "severity": "info",
            "message": "Control center started",
        },
    ],
    "banners": {"auto_pause": False, "backup_overdue": False, "empty_state": False, "low_gas": False},
    "data_issues": [],
    "panel_url": "https://localhost:3002/panel",
    "last_backup": "2026-11-20T03:00:00Z",
    "reconciliation": None,
    "alerts": [],
    "runway": {
        "usdc_days": 10.13,
        "spend_per_day_usdc": "1.234000",
        "eth_days": 42.0,
        "gas_per_day_eth": "0.000100000000000000",
    },
}

SELLER: dict[str, Any] = copy.deepcopy(BUYER)
SELLER.update(
    mode="seller",
    timezone="UTC",
    balances={
        "usdc": "250.000000",
        "eth": "0.120000000000000000",
        "source": "chain",
        "as_of": None,
        "note": None,
    },
    runway={
        "usdc_days": None,
        "spend_per_day_usdc": "0.000000",
        "eth_days": 1_200.0,
        "gas_per_day_eth": "0.000100000000000000",
    },
    seller={
        "calls_24h": 860,
        "success_rate_24h": 0.9953,
        "avg_latency_ms_24h": 95.1,
        "p50_latency_ms_24h": 80.0,
        "p95_latency_ms_24h": 210.0,
        "p99_latency_ms_24h": 400.0,
        "previous_24h": _previous(842, "0.799900", success_rate=0.9941, avg_latency_ms=97.3, p95_latency_ms=215.0),
        "previous_7d": {"calls": 5_700, "usdc": "5.415000"},
        "revenue_24h_usdc": "0.817000",
        "calls_7d": 5_912,
        "revenue_7d_usdc": "5.616400",
        "call_rate": call_rate([20 + i % 9 for i in range(48)], [i % 11 == 0 for i in range(48)]),
        "breakdown": [
            {
                "api_id": "wx-forecast",
                "api_name": "Weather forecast",
                "calls": 9_000,
                "success": 8_960,
                "errors": 40,
                "usdc": "8.550000",
                "avg_latency_ms": 91.0,
                "p95_latency_ms": 200.0,
                "success_rate": 0.99556,
            },
            {
                "api_id": "fx-rates",
                "api_name": "FX rates",
                "calls": 2_400,
                "success": 2_400,
                "errors": 0,
                "usdc": "2.280000",
                "avg_latency_ms": 120.5,
                "p95_latency_ms": 260.0,
                "success_rate": 1.0,
            },
        ],
    },
)

EMPTY: dict[str, Any] = {
    "now": NOW,
    "timezone": "UTC",
    "mode": "buyer",
    "uptime_s": 42,
    "balances": {"usdc": None, "eth": None, "source": "none", "as_of": None, "note": None},
    "buyer": {
        "calls_24h": 0,
        "success_rate_24h": None,
        "avg_latency_ms_24h": None,
        "p50_latency_ms_24h": None,
        "p95_latency_ms_24h": None,
        "p99_latency_ms_24h": None,
        "previous_24h": _previous(),
        "spent_24h_usdc": "0.000000",
        "total_calls": 0,
        "total_spent_usdc": "0.000000",
        "call_rate": call_rate([0] * 48, [0] * 48),
        "breakdown": [],
    },
    "seller": _seller_nothing(),
    "events": [
        {"ts": "2026-11-25T11:59:18Z", "type": "startup", "severity": "info", "message": "Control center started"}
    ],
    "banners": {"auto_pause": False, "backup_overdue": True, "empty_state": True, "low_gas": False},
    "data_issues": [],
    "panel_url": "https://localhost:3002/panel",
    "last_backup": None,
    "reconciliation": None,
    "alerts": [],
    "runway": {"usdc_days": None, "spend_per_day_usdc": None, "eth_days": None, "gas_per_day_eth": None},
}

ALARMS: dict[str, Any] = copy.deepcopy(BUYER)
ALARMS.update(
    uptime_s=None,
    balances={
        "usdc": "0.004000",
        "eth": "0.000012000000000000",
        "source": "snapshot",
        "as_of": "2026-11-25T09:30:00Z",
        "note": "RPC did not answer within 5 s",
    },
    banners={"auto_pause": True, "backup_overdue": True, "empty_state": False, "low_gas": True},
    runway={
        "usdc_days": 0.0,
        "spend_per_day_usdc": "1.234000",
        "eth_days": 0.0,
        "gas_per_day_eth": "0.000100000000000000",
    },
    data_issues=[
        {"table": "calls", "rule": "status_code outside 100..599", "rows": 2},
        {"table": "events", "rule": "unknown severity", "rows": 1},
    ],
    last_backup="2026-10-14T12:00:00Z",
)

NASTY: dict[str, Any] = copy.deepcopy(SELLER)
NASTY["panel_url"] = 'https://evil.example/"><img src=x onerror=alert(2)>'
NASTY["timezone"] = "<script>alert(3)</script>"
NASTY["balances"]["note"] = XSS
NASTY["balances"]["source"] = "snapshot"
NASTY["banners"] = {"auto_pause": True, "backup_overdue": True, "empty_state": False, "low_gas": True}
NASTY["data_issues"] = [{"table": XSS, "rule": XSS, "rows": 3}]
NASTY["events"] = [{"ts": NOW, "type": XSS, "severity": "error", "message": XSS}]
for _role in ("buyer", "seller"):
    for _row in NASTY[_role]["breakdown"]:
        _row["api_id"] = f"{_row['api_id']}{XSS}"
        _row["api_name"] = XSS
