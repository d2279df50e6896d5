"""ccanalytics.fleet.merge: the nodes merged into the fleet's figures, and the nodes ranked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ccanalytics.fleet import fleet_snapshot

from .conftest import NOW

if TYPE_CHECKING:
    from pathlib import Path


def test_the_fleet_is_the_sum_of_its_nodes_and_knows_each_api_s_nodes(lake: Path) -> None:
    fleet = fleet_snapshot(lake, now=NOW)["fleet"]
    assert fleet["nodes"] == 2
    assert fleet["seller"]["total_calls"] == 4 and fleet["seller"]["total_revenue_usdc"] == "0.006000"
    [weather] = fleet["seller"]["breakdown"]
    assert (weather["api_id"], weather["nodes"], weather["calls"]) == ("weather", 2, 4)
    assert [row["nodes"] for row in fleet["buyer"]["breakdown"]] == [1]
    assert fleet["data_issues"] == [{"table": "calls", "rule": "role is not buyer or seller", "rows": 1}]


def test_the_rankings_by_revenue_and_by_error_rate(lake: Path) -> None:
    rankings = fleet_snapshot(lake, now=NOW)["fleet"]["rankings"]
    assert [(r["node"], r["revenue_24h_usdc"]) for r in rankings["by_revenue"]] == [
        ("beta", "0.003000"),
        ("alpha", "0.002000"),
    ]
    assert [(r["node"], r["error_rate_24h"]) for r in rankings["by_error_rate"]] == [("alpha", 0.5), ("beta", 0.0)]
