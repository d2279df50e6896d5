"""Where the fleet's tallies run: polars on this machine, or Apache Spark.

An engine only reads a dataset of the lake as a ``narwhals.LazyFrame`` and
collects a (small) result into polars; the definitions (``tallies``) and the
queries (``fleet``) are the same for every engine.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import narwhals as nw
import polars as pl

from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from polars._typing import PolarsDataType

__all__ = ["Engine", "PolarsEngine", "SparkEngine", "engine"]

PARTITIONS = {"node": pl.String, "day": pl.String}


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("node=*/day=*/*.parquet"))


class Engine:
    """Reads a day-partitioned dataset of the lake, collects results into polars."""

    name = "engine"

    def scan(self, folder: Path, schema: Mapping[str, PolarsDataType]) -> nw.LazyFrame:
        """The dataset under ``folder`` (``node=*/day=*/*.parquet``) lazily; ``schema`` when it has no file yet."""
        raise NotImplementedError

    def collect(self, frame: nw.LazyFrame) -> pl.DataFrame:
        """Run ``frame`` on the engine; its (small) result as a polars frame."""
        return frame.collect(backend="polars").to_native()

    def close(self) -> None:
        """Let go of what the engine holds (a Spark session is kept for the process)."""


class PolarsEngine(Engine):
    """polars, lazy and streaming, on this machine.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> PolarsEngine().scan(Path(tempfile.mkdtemp()), {"ts_ms": pl.Int64}).collect().to_native().columns
    ['ts_ms', 'node', 'day']
    """

    name = "polars"

    def scan(self, folder: Path, schema: Mapping[str, PolarsDataType]) -> nw.LazyFrame:
        if not _has_files(folder):
            return nw.from_native(pl.LazyFrame(schema={**schema, **PARTITIONS}))
        frame = pl.scan_parquet(
            folder / "node=*" / "day=*" / "*.parquet", hive_partitioning=True, hive_schema=PARTITIONS
        )
        return nw.from_native(frame)

    def collect(self, frame: nw.LazyFrame) -> pl.DataFrame:
        return frame.to_native().collect(engine="streaming")


_SESSION: Any = None


def spark_session(master: str | None = None) -> Any:
    """The process's Spark session: ``master`` (default ``local[*]``), or Spark Connect when ``SPARK_REMOTE`` is set."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyspark warns about the pandas it finds; the fleet never uses pandas
            from pyspark.sql import SparkSession
    except ImportError:
        raise CCError("--engine spark needs pyspark: pip install 'ccanalytics[fleet]'") from None
    builder = SparkSession.builder.appName("ccanalytics-fleet")
    if not os.environ.get("SPARK_REMOTE"):
        builder = builder.master(master or "local[*]").config("spark.ui.enabled", "false")
        builder = builder.config("spark.ui.showConsoleProgress", "false")
        builder = builder.config("spark.driver.memory", os.environ.get("CCANALYTICS_SPARK_MEMORY", "1g"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            session = builder.getOrCreate()
    except Exception as exc:  # Java missing or too old, a cluster that does not answer
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CCError(f"cannot start Spark (it needs Java 17 or later: check `java -version`): {first}") from None
    # Partition values stay text (node names like "001", days): never guessed as numbers or dates.
    session.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    session.conf.set("spark.sql.session.timeZone", "UTC")
    if not os.environ.get("SPARK_REMOTE"):
        session.sparkContext.setLogLevel("ERROR")
    _SESSION = session
    return session


class SparkEngine(Engine):
    """Apache Spark through PySpark: ``local[*]``, a cluster's ``master``, or Spark Connect (``SPARK_REMOTE``)."""

    name = "spark"

    def __init__(self, master: str | None = None) -> None:
        self.session = spark_session(master)

    def scan(self, folder: Path, schema: Mapping[str, PolarsDataType]) -> nw.LazyFrame:
        if not _has_files(folder):
            empty = pl.DataFrame(schema={**schema, **PARTITIONS})
            return nw.from_native(self.session.createDataFrame(empty.to_arrow()))
        # Spark skips files whose names start with "." or "_": a temporary file of a running export is never read.
        return nw.from_native(self.session.read.parquet(str(folder)))


def engine(name: str, master: str | None = None) -> Engine:
    """The engine called ``name`` (``polars`` or ``spark``).

    Examples
    --------
    >>> engine("polars").name
    'polars'
    """
    if name == "polars":
        if master:
            raise CCError("--master applies to --engine spark only")
        return PolarsEngine()
    if name == "spark":
        return SparkEngine(master)
    raise CCError(f"unknown engine {name!r}: polars or spark")
