"""metrics/snapshot.py against metrics.md's snapshot JSON: a Snapshot of literal frames, as JSON."""

from __future__ import annotations

import json

import polars as pl

from ccanalytics.metrics.snapshot import BuyerView, SellerView, Snapshot
from ccanalytics.model import Balances, DataIssue

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR = 3_600_000
BIG = 2**63 - 1
RATE = pl.DataFrame(
    {"hour": [NOW - HOUR, NOW], "success": [3, 0], "error": [1, 0], "spike": [False, True]},
    schema={"hour": pl.Int64, "success": pl.Int64, "error": pl.Int64, "spike": pl.Boolean},
)
BREAKDOWN = pl.DataFrame(
    {"api_id": ["a"], "api_name": ["Ä <b>"], "calls": [2], "success": [1], "errors": [1], "usdc": [2 * BIG],
     "avg_latency_ms": [12.5], "p95_latency_ms": [20.0], "success_rate": [0.5]},
    schema_overrides={"usdc": pl.Int128},
)  # fmt: skip


def view(kind: type, **given: object) -> BuyerView | SellerView:
    figures = {"calls_24h": 4, "success_24h": 3, "latency_sum_24h": 30.0, "latency_n_24h": 2, "money_24h": 1_000}
    figures |= {"calls_7d": 9, "money_7d": 2_500, "total_calls": 20, "total_money": 2 * BIG}
    figures |= {"call_rate": RATE, "breakdown": BREAKDOWN, "extra": {"p95_latency_ms_24h": 20.0}}
    return kind(**(figures | given))


def snapshot(**given: object) -> Snapshot:
    fields = {
        "now_ms": NOW + 5,
        "timezone": "Europe/Berlin",
        "mode": "seller",
        "uptime_s": 3600,
        "balances": Balances(12_500_000, 4_200_000_000_000_000, "snapshot", NOW - 60_000, None),
        "buyer": view(BuyerView),
        "seller": view(SellerView, calls_24h=0, success_24h=0, latency_n_24h=0),
        "events": pl.DataFrame(
            {
                "id": [2],
                "ts_ms": [NOW - 1],
                "type": ["startup"],
                "severity": ["info"],
                "message": ["Control center started"],
            }
        ),
        "auto_pause": False,
        "backup_overdue": True,
        "empty_state": False,
        "low_gas": False,
        "last_backup_ms": None,
        "panel_url": "https://localhost:3002/panel",
        "data_issues": (DataIssue("calls", "status_code outside 100..599", 2),),
    }
    return Snapshot(**(fields | given))  # type: ignore[arg-type]


def test_the_json_of_metrics_md() -> None:
    d = snapshot().to_dict()
    assert (d["now"], d["timezone"], d["mode"], d["uptime_s"]) == (
        "2026-11-25T12:00:00.005Z",
        "Europe/Berlin",
        "seller",
        3600,
    )
    assert d["balances"] == {"usdc": "12.500000", "eth": "0.004200000000000000", "source": "snapshot",
                             "as_of": "2026-11-25T11:59:00Z", "note": None}  # fmt: skip
    buyer = d["buyer"]
    assert (buyer["calls_24h"], buyer["success_rate_24h"], buyer["avg_latency_ms_24h"]) == (4, 0.75, 15.0)
    assert (buyer["spent_24h_usdc"], buyer["total_calls"], buyer["total_spent_usdc"]) == (
        "0.001000",
        20,
        "18446744073709.551614",  # an Int128 sum, exact
    )
    assert buyer["p95_latency_ms_24h"] == 20.0  # views.md's additions ride along
    assert buyer["call_rate"] == [
        {"hour": "2026-11-25T11:00:00Z", "success": 3, "error": 1, "spike": False},
        {"hour": "2026-11-25T12:00:00Z", "success": 0, "error": 0, "spike": True},
    ]
    assert buyer["breakdown"][0]["usdc"] == "18446744073709.551614"
    seller = d["seller"]
    assert (seller["calls_24h"], seller["success_rate_24h"], seller["avg_latency_ms_24h"]) == (0, None, None)
    assert (seller["revenue_24h_usdc"], seller["calls_7d"], seller["revenue_7d_usdc"]) == ("0.001000", 9, "0.002500")
    assert d["events"] == [{"ts": "2026-11-25T11:59:59.999Z", "type": "startup", "severity": "info",
                            "message": "Control center started"}]  # fmt: skip
    assert d["banners"] == {"auto_pause": False, "backup_overdue": True, "empty_state": False, "low_gas": False}
    assert d["data_issues"] == [{"table": "calls", "rule": "status_code outside 100..599", "rows": 2}]
    assert (d["last_backup"], d["reconciliation"], d["alerts"]) == (None, None, [])
    assert "view" not in d


def test_attributes_answer_to_the_json_names() -> None:
    s = snapshot()
    assert (s.buyer.spent_24h_usdc, s.seller.revenue_7d_usdc, s.buyer.p95_latency_ms_24h) == (
        "0.001000",
        "0.002500",
        20.0,
    )


def test_the_json_text_keeps_non_ascii_and_parses_back() -> None:
    s = snapshot(view={"range": "7d"})
    text = s.to_json()
    assert "Ä <b>" in text
    assert json.loads(text) == s.to_dict() and s.to_dict()["view"] == {"range": "7d"}


def test_a_snapshot_of_nothing() -> None:
    empty_rate, empty_breakdown = RATE.clear(), BREAKDOWN.clear()
    zero = {"calls_24h": 0, "success_24h": 0, "latency_sum_24h": 0.0, "latency_n_24h": 0, "money_24h": 0,
            "calls_7d": 0, "money_7d": 0, "total_calls": 0, "total_money": 0, "call_rate": empty_rate,
            "breakdown": empty_breakdown, "extra": {}}  # fmt: skip
    d = snapshot(buyer=BuyerView(**zero), seller=SellerView(**zero), events=pl.DataFrame(
        schema={"id": pl.Int64, "ts_ms": pl.Int64, "type": pl.String, "severity": pl.String, "message": pl.String}
    ), balances=Balances(), uptime_s=None, data_issues=()).to_dict()  # fmt: skip
    assert d["balances"] == {"usdc": None, "eth": None, "source": "none", "as_of": None, "note": None}
    assert (d["buyer"]["success_rate_24h"], d["buyer"]["avg_latency_ms_24h"], d["buyer"]["total_spent_usdc"]) == (
        None,
        None,
        "0.000000",
    )
    assert d["buyer"]["breakdown"] == [] and d["events"] == [] and d["data_issues"] == [] and d["uptime_s"] is None
