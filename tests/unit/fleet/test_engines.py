"""ccanalytics.fleet.engines: the polars engine reads a dataset of the lake; engines are chosen by name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl
import pytest

from ccanalytics.errors import CCError
from ccanalytics.fleet.engines import PolarsEngine, engine

if TYPE_CHECKING:
    from pathlib import Path


def test_a_dataset_without_files_reads_as_its_schema_with_the_partitions(tmp_path: Path) -> None:
    frame = PolarsEngine().collect(PolarsEngine().scan(tmp_path / "absent", {"ts_ms": pl.Int64}))
    assert frame.schema == pl.Schema({"ts_ms": pl.Int64, "node": pl.String, "day": pl.String}) and frame.height == 0


def test_the_partitions_come_from_the_folders_and_temporary_files_are_not_read(tmp_path: Path) -> None:
    for node, day, ts in (("a", "2026-11-24", 1), ("b", "2026-11-25", 2)):
        folder = tmp_path / f"node={node}" / f"day={day}"
        folder.mkdir(parents=True)
        pl.DataFrame({"ts_ms": [ts]}).write_parquet(folder / "data.parquet")
    pl.DataFrame({"ts_ms": [99]}).write_parquet(
        tmp_path / "node=a" / "day=2026-11-24" / ".data.parquet.4242.tmp"
    )  # as export names them
    polars = PolarsEngine()
    query = polars.scan(tmp_path, {"ts_ms": pl.Int64}).filter(nw.col("day") >= "2026-11-24").sort("ts_ms")
    assert polars.collect(query).rows() == [(1, "a", "2026-11-24"), (2, "b", "2026-11-25")]


def test_engines_by_name() -> None:
    assert engine("polars").name == "polars"
    with pytest.raises(CCError, match="--master applies to --engine spark only"):
        engine("polars", master="local[2]")
    with pytest.raises(CCError, match="unknown engine 'duck'"):
        engine("duck")
