"""``ccanalytics export``: a store's activity as a Hive-partitioned Parquet lake (fleet.md).

Layout under ``DIR`` (one folder per node, ``node=NAME``; days are UTC days)::

    calls/node=NAME/day=YYYY-MM-DD/data.parquet     the valid calls (data-contract.md's columns and dtypes)
    rollups/node=NAME/day=YYYY-MM-DD/data.parquet   per (role, api_id, hour): tallies (calls, successes, latency, money)
    names/node=NAME/day=YYYY-MM-DD/data.parquet     per api_id: the day's latest named call
    latency/node=NAME/day=YYYY-MM-DD/data.parquet   per (role, api_id, key): the day's latency sketch (``sketch``)
    firsts/node=NAME/day=YYYY-MM-DD/data.parquet    per (consumer, api_id): the day's first seller call
    issues/node=NAME/day=YYYY-MM-DD/data.parquet    bad calls of that day, counted per (table, rule, ts_ms)
    issues/node=NAME/day=undated/data.parquet       bad calls without a valid time and the small tables' bad rows
    events|apis|balance_snapshots|backups|settings/node=NAME/data.parquet   the small tables' valid rows
    nodes/node=NAME/data.parquet                    written last: the node's last exported day

A run reads only the calls from the last day of the node's last complete export on: that day is
rewritten, later days are added, earlier ones are left alone (calls that
arrive later for an earlier day are not picked up; export to a new folder to
start again).  Every file is written to a hidden temporary name in its folder,
then renamed over the old one, so a reader never sees a partial file; a file
whose bytes would not change is not written at all, so exporting twice changes
nothing.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ccanalytics.contract import TABLES, first_broken_rule
from ccanalytics.errors import CCError
from ccanalytics.store.sqlite import RID, Source

__all__ = ["ExportReport", "day_text", "export", "node_name"]

SMALL_TABLES = ("events", "apis", "balance_snapshots", "backups")
ROLLUPS = ("rollups", "names", "latency", "firsts")
HOUR_MS = 3_600_000
DATA_FILE = "data.parquet"
UNDATED = "undated"
REDACTED = "(set; not exported)"  # an rpc_url may hold an API key: the lake only says one is set
CALL_COLUMNS = TABLES["calls"].full_schema
ISSUE_SCHEMA = pl.Schema({"table": pl.String, "rule": pl.String, "ts_ms": pl.Int64, "rows": pl.Int64})
SETTINGS_SCHEMA = {"key": pl.String, "value": pl.String}
_NODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def node_name(text: str) -> str:
    """A node name fit for a partition folder, or a ``CCError`` saying what is allowed.

    Examples
    --------
    >>> node_name("seller-eu.1")
    'seller-eu.1'
    >>> node_name("a/b")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ccanalytics.errors.CCError: node name 'a/b' must be letters, digits, '.', '_' or '-' (at most 128, ...)
    """
    if not _NODE.match(text):
        raise CCError(
            f"node name {text!r} must be letters, digits, '.', '_' or '-'"
            " (at most 128, not starting with '.', '_' or '-')"
        )
    return text


def day_text(ts: pl.Expr) -> pl.Expr:
    """The UTC day of epoch milliseconds, as ``YYYY-MM-DD`` (the ``day=`` partition).

    Examples
    --------
    >>> pl.select(day_text(pl.lit(1795608000000))).item()
    '2026-11-25'
    """
    return pl.from_epoch(ts, time_unit="ms").dt.date().cast(pl.String)


@dataclass(frozen=True)
class ExportReport:
    """What one export did: the node, its calls and bad rows read, the files written and left as they were."""

    node: str
    calls: int
    bad_rows: int
    days: int
    written: int
    unchanged: int


class _Writer:
    """Writes Parquet files atomically, and only when their bytes change."""

    def __init__(self) -> None:
        self.written = 0
        self.unchanged = 0

    def write(self, frame: pl.DataFrame, path: Path) -> None:
        buffer = io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", statistics=True)
        data = buffer.getvalue()
        if _same(path, data, frame):
            self.unchanged += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with temporary.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)  # atomic: readers see the old file or the new one
        self.written += 1

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        self.written += 1


def _same(path: Path, data: bytes, frame: pl.DataFrame) -> bool:
    """Whether ``path`` already holds these rows.

    polars adds up a group's floats in an order that varies between runs, so a
    latency sum may differ in its last bits: such a file is the same.
    """
    from polars.testing import assert_frame_equal

    try:
        if path.read_bytes() == data:
            return True
        old = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError):
        return False
    try:
        assert_frame_equal(old, frame, check_exact=False, rel_tol=1e-12, abs_tol=0.0)
    except AssertionError:
        return False
    return True


def _days(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(p.name[4:] for p in folder.iterdir() if p.name.startswith("day=") and p.name != f"day={UNDATED}")


def _clear_temporaries(lake: Path, node: str) -> None:
    """Remove what a killed export left behind (hidden, so never read, but not to be kept)."""
    for dataset in ("calls", *ROLLUPS, "issues", *SMALL_TABLES, "settings", "nodes"):
        folder = lake / dataset / f"node={node}"
        if folder.is_dir():
            for stale in folder.rglob(".*.tmp"):
                stale.unlink(missing_ok=True)


def _read(source: Source, since_ms: int | None) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], list[dict], dict]:
    """The calls (all, or those from ``since_ms`` on and those without a valid time), the small tables, settings."""
    small: dict[str, pl.DataFrame] = {}
    shape_issues: list[dict] = []
    with source.transaction():
        if since_ms is None:
            chunks = list(source.read_chunks("calls", descriptive=True))
            calls = pl.concat(chunks) if chunks else source.read("calls", where="0", descriptive=True)
        else:
            calls = source.read(
                "calls",
                where='typeof("ts_ms") <> \'integer\' OR "ts_ms" >= ?',
                params=(since_ms,),
                descriptive=True,
            )
        for table in SMALL_TABLES:
            shape = source.shapes[table]
            if shape.usable:
                small[table] = source.read(table)
            else:
                small[table] = pl.DataFrame(schema={RID: pl.Int64, **TABLES[table].schema})
                rows = source.count(table) if shape.exists else 0
                if rows:
                    shape_issues.append({"table": table, "rule": f"lacks column {shape.missing[0]}", "rows": rows})
        settings = source.settings()
    return calls, small, shape_issues, settings


def _issues(table: str, judged: pl.DataFrame) -> pl.DataFrame:
    """Bad rows counted per (rule, time): the time decides whether a bad row exists at ``now``."""
    bad = judged.filter(pl.col("rule").is_not_null())
    ts = pl.col("ts_ms") if TABLES[table].has_ts else pl.lit(None, pl.Int64)
    return (
        bad.group_by("rule", ts_ms=ts)
        .agg(rows=pl.len().cast(pl.Int64))
        .select(table=pl.lit(table), rule="rule", ts_ms="ts_ms", rows="rows")
        .cast(ISSUE_SCHEMA)
    )


def _rollups(good: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Each day's mergeable figures, by the very definitions a store's ledger uses (``metrics``, ``sketch``).

    ``rollups``: tallies per (role, api_id, hour); ``names``: each API's latest
    named call; ``latency``: the latency sketch per (role, api_id);
    ``firsts``: each consumer's first seller call per API.  Day by day, so a
    rewritten last day is rolled up from exactly its own rows.
    """
    from ccanalytics.metrics import formulas, sketch

    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in ROLLUPS}
    for (day,), rows in sorted(good.partition_by("day", as_dict=True).items()):
        calls = rows.lazy()
        hourly = calls.with_columns(hour=pl.col("ts_ms") - pl.col("ts_ms") % HOUR_MS)
        seller = calls.filter((pl.col("role") == "seller") & pl.col("consumer").is_not_null())
        queries = {
            # Exact money sums are 128-bit; Parquet and Spark know them as decimal(38, 0).
            "rollups": formulas.tally(hourly, by=("role", "api_id", "hour"))
            .with_columns(pl.col("price_micro", "revenue_micro").cast(pl.Decimal(38, 0)))
            .sort("role", "api_id", "hour"),
            "names": formulas.latest_names(calls).sort("api_id"),
            "latency": sketch.sketch(calls).sort("role", "api_id", "key"),
            "firsts": seller.group_by("consumer", "api_id").agg(pl.col("ts_ms").min()).sort("consumer", "api_id"),
        }
        for name, frame in zip(queries, pl.collect_all(list(queries.values())), strict=True):
            parts[name].append(frame.with_columns(day=pl.lit(day)))
    return {name: pl.concat(p) if p else pl.DataFrame(schema={"day": pl.String}) for name, p in parts.items()}


def export(db: str | os.PathLike[str], to: str | os.PathLike[str], node: str | None = None) -> ExportReport:
    """Export a store into the lake at ``to`` as node ``node`` (default: the store's file name without suffix).

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> folder = tempfile.mkdtemp()
    >>> create_store(os.path.join(folder, "node-a.db"))
    >>> export(os.path.join(folder, "node-a.db"), os.path.join(folder, "lake")).node
    'node-a'
    """
    db = Path(db)
    node = node_name(node if node is not None else db.stem)
    lake = Path(to)
    if lake.exists() and not lake.is_dir():
        raise CCError(f"{lake}: is not a folder")
    source = Source(db)
    try:
        _clear_temporaries(lake, node)
        last = _last_day(lake, node)
        since_ms = _day_start(last) if last is not None else None
        calls, small, shape_issues, settings = _read(source, since_ms)
    finally:
        source.close()

    judged = calls.drop(RID).with_columns(rule=first_broken_rule(TABLES["calls"]))
    # Sorted first: float sums depend on the order of their terms, and a rerun must give the same bytes.
    good = judged.filter(pl.col("rule").is_null()).drop("rule").sort(pl.all())
    good = good.with_columns(day=day_text(pl.col("ts_ms")))
    bad = _issues("calls", judged).with_columns(day=day_text(pl.col("ts_ms")).fill_null(UNDATED))
    writer = _Writer()
    days = sorted(set(good["day"].unique().to_list()) | set(bad.filter(pl.col("day") != UNDATED)["day"].to_list()))
    datasets = {
        "calls": good,
        **_rollups(good),
        "issues": bad.filter(pl.col("day") != UNDATED).sort(pl.all()),
    }
    for dataset, frame in datasets.items():
        parts = frame.partition_by("day", as_dict=True, include_key=False)
        folder = lake / dataset / f"node={node}"
        for day in days:
            part = parts.get((day,))
            path = folder / f"day={day}" / DATA_FILE
            if part is not None:
                writer.write(part, path)
            elif path.exists():
                writer.remove(path)  # the rewritten last day lost its rows of this kind
        for day in _days(folder):  # exported days at or after `since` that the store no longer has
            if last is not None and day >= last and day not in days:
                writer.remove(folder / f"day={day}" / DATA_FILE)

    undated = [bad.filter(pl.col("day") == UNDATED).drop("day")]
    for table, frame in small.items():
        judged_small = frame.with_columns(rule=first_broken_rule(TABLES[table]))
        undated.append(_issues(table, judged_small))
        rows = judged_small.filter(pl.col("rule").is_null()).drop("rule")
        writer.write(rows, lake / table / f"node={node}" / DATA_FILE)
    undated.append(
        pl.DataFrame(shape_issues, schema=ISSUE_SCHEMA) if shape_issues else pl.DataFrame(schema=ISSUE_SCHEMA)
    )
    issues = pl.concat(undated).sort(pl.all())
    writer.write(issues, lake / "issues" / f"node={node}" / f"day={UNDATED}" / DATA_FILE)
    pairs = {k: (REDACTED if k == "rpc_url" and v else v) for k, v in sorted(settings.items())}
    frame = pl.DataFrame({"key": list(pairs), "value": list(pairs.values())}, schema=SETTINGS_SCHEMA)
    writer.write(frame, lake / "settings" / f"node={node}" / DATA_FILE)
    # Last: the mark of a complete export.  A killed run leaves the previous mark,
    # and the next run starts again from that mark's day.
    latest = max([*days, *([last] if last else [])], default=None)
    writer.write(
        pl.DataFrame({"last_day": [latest]}, schema={"last_day": pl.String}),
        lake / "nodes" / f"node={node}" / DATA_FILE,
    )
    return ExportReport(
        node=node,
        calls=good.height,
        bad_rows=int(issues["rows"].sum() or 0) + int(bad.filter(pl.col("day") != UNDATED)["rows"].sum() or 0),
        days=len(days),
        written=writer.written,
        unchanged=writer.unchanged,
    )


def _last_day(lake: Path, node: str) -> str | None:
    """The last day of the node's last complete export (None: never exported, or not to the end)."""
    try:
        return pl.read_parquet(lake / "nodes" / f"node={node}" / DATA_FILE)["last_day"].item()
    except (OSError, pl.exceptions.PolarsError, ValueError):
        return None


def _day_start(day: str) -> int:
    return pl.select(pl.lit(day).str.to_date().cast(pl.Datetime("ms")).cast(pl.Int64)).item()


def require_fleet_extra() -> None:
    """A one-line error when the ``fleet`` extra (narwhals) is not installed."""
    try:
        import narwhals  # noqa: F401
    except ImportError:
        raise CCError("the fleet needs narwhals: pip install 'ccanalytics[fleet]'") from None
