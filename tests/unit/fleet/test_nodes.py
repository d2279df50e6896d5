"""ccanalytics.fleet.nodes: the nodes of a lake with their settings, small tables and bad rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl
import pytest

from ccanalytics.errors import CCError
from ccanalytics.fleet.nodes import SMALL_TABLES, by_node, empty_small, issues_at, read_nodes

from .conftest import NOW

if TYPE_CHECKING:
    from pathlib import Path


def test_the_nodes_in_name_order_with_their_small_tables(lake: Path) -> None:
    alpha, beta = read_nodes(lake)
    assert (alpha.name, beta.name) == ("alpha", "beta")
    assert alpha.settings.timezone == "UTC" and not alpha.rpc_url and alpha.setting_issues == []
    assert set(alpha.small) == set(SMALL_TABLES)
    assert alpha.small["apis"]["api_id"].to_list() == ["weather"] and beta.small["apis"].height == 0
    assert alpha.small["apis"]["rule"].null_count() == 1


def test_a_lake_without_nodes_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CCError, match="holds no nodes"):
        read_nodes(tmp_path)


def test_the_bad_rows_of_each_node_that_exist_at_now(lake: Path) -> None:
    found = issues_at(lake, NOW)
    assert list(found) == ["beta"] and found["beta"]["rows"].sum() == 1
    assert issues_at(lake, NOW - 10 * 3_600_000) == {}


def test_by_node_and_an_empty_small_table() -> None:
    frame = pl.DataFrame({"node": ["b", "a", "b"], "x": [1, 2, 3]})
    parts = by_node(frame)
    assert sorted(parts) == ["a", "b"] and parts["b"]["x"].to_list() == [1, 3] and parts["a"].columns == ["x"]
    assert empty_small("apis").height == 0 and empty_small("apis").columns[0] == "_rid"
