"""``fleet_snapshot`` (fleet.md): each node equals its store's snapshot; the fleet sums them and ranks the nodes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from ccanalytics.errors import CCError
from ccanalytics.fleet import fleet_snapshot
from ccanalytics.fleet.lake import export
from ccanalytics.store import open_store
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("fleet")
    alpha = StoreBuilder(str(folder / "alpha.db")).api("w", "Weather")
    alpha.call(NOW - HOUR_MS, role="seller", api_id="w", consumer="k").call(
        NOW - 2 * HOUR_MS, role="seller", api_id="w", status_code=500, consumer="k"
    )
    beta = StoreBuilder(str(folder / "beta.db"))
    beta.call(NOW - HOUR_MS, role="buyer", api_id="m", price_micro=300).call(NOW - 40 * DAY_MS, role="buyer")
    stores = {"alpha": alpha.write(), "beta": beta.write()}
    for path in stores.values():
        export(path, folder / "lake")
    return folder / "lake", stores


def test_every_node_is_its_stores_snapshot(lake: tuple[Path, dict[str, str]]) -> None:
    folder, stores = lake
    result = fleet_snapshot(folder, now="2026-11-25T12:00:00Z")
    assert (result["now"], result["engine"], list(result["nodes"])) == (
        "2026-11-25T12:00:00Z",
        "polars",
        ["alpha", "beta"],
    )
    for name, path in stores.items():
        with open_store(path) as store:
            assert result["nodes"][name] == store.snapshot(now=NOW).to_dict(), name


def test_the_fleet_sums_the_nodes_and_ranks_them(lake: tuple[Path, dict[str, str]]) -> None:
    fleet = fleet_snapshot(lake[0], now=NOW)["fleet"]
    assert fleet["nodes"] == 2
    assert fleet["seller"]["calls_24h"] == 2 and fleet["buyer"]["calls_24h"] == 1
    assert fleet["buyer"]["total_calls"] == 2
    assert fleet["buyer"]["total_spent_usdc"] == "0.001300"
    assert [r["node"] for r in fleet["rankings"]["by_revenue"]] == ["alpha", "beta"]
    assert fleet["rankings"]["by_error_rate"][0] == {
        "node": "alpha", "revenue_24h_usdc": "0.001900", "revenue_total_usdc": "0.001900",
        "calls_24h": 2, "errors_24h": 1, "error_rate_24h": 0.5,
    }  # fmt: skip


def test_a_ranged_fleet_view(lake: tuple[Path, dict[str, str]]) -> None:
    result = fleet_snapshot(lake[0], now=NOW, range_name="24h")
    with open_store(lake[1]["alpha"]) as store:
        assert result["nodes"]["alpha"]["view"] == store.snapshot(now=NOW, range="24h").to_dict()["view"]
    assert result["fleet"]["view"]["buyer"]["calls"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "--tz 'Mars/Olympus' is not a known time zone"),
        ({"range_name": "5y"}, "--range must be one of 1h, 24h, 7d, 30d, 90d"),
        ({"now": "yesterday"}, "yesterday"),
    ],
)
def test_bad_options_are_one_line(lake: tuple[Path, dict[str, str]], kwargs: dict, message: str) -> None:
    with pytest.raises(CCError, match=message.replace("(", r"\(")):
        fleet_snapshot(lake[0], **{"now": NOW, **kwargs})


def test_a_missing_lake_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CCError, match="no such folder"):
        fleet_snapshot(tmp_path / "nowhere", now=NOW)
