"""``ccanalytics fleet``: every node's snapshot and the fleet's figures, from a lake, on polars or Spark.

Three steps (docs/design.md, "The fleet"):

1. **Read** the lake on the engine (``tally_lake``): the days before the cut
   (``cut_day``: a day before the snapshot's reach, two weeks, or twice a
   ``--range``) as their rollups merged per node (``tallies``: narwhals sums,
   minima and latest, on polars or Spark — the heavy part: years of history
   over thousands of nodes become a few rows per node and API); the calls
   since the cut as rows.
2. **Assemble** each node's snapshot from those with the very code a store
   runs (``ledger.Totals``, ``compute.table_facts``, ``compute.compute``, and
   for a range of a day or more the ledger's history, ``Ledger.view_at``): each node
   equals ``ccanalytics snapshot`` of its store.
3. **Merge** the nodes into the fleet the same way (their rollups merged,
   their recent calls together, request ids made ``NODE/request_id``): the
   fleet is the snapshot of one store holding every node's calls, with the
   chart in ``--tz``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ccanalytics.errors import CCError
from ccanalytics.fleet.assemble import NO_CHAIN_NOTE, first_seen, node_snapshot, recent_rows, settled_totals
from ccanalytics.fleet.merge import fleet_figures
from ccanalytics.fleet.nodes import NO_ISSUES, by_node, issues_at, read_nodes
from ccanalytics.fleet.reading import LakeTallies, cut_day, cut_start, tally_lake
from ccanalytics.metrics.ledger import REACH_MS
from ccanalytics.metrics.views import RANGES
from ccanalytics.units import iso_utc, parse_now

if TYPE_CHECKING:
    from ccanalytics.fleet.engines import Engine

__all__ = ["NO_CHAIN_NOTE", "LakeTallies", "cut_day", "fleet_snapshot", "tally_lake"]


def fleet_snapshot(
    lake: str | Path,
    now: int | str | None = None,
    *,
    engine: Engine | None = None,
    timezone: str = "UTC",
    events: int = 50,
    range_name: str | None = None,
) -> dict[str, Any]:
    """The fleet JSON of fleet.md: ``nodes`` (each node's snapshot) and ``fleet``.

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> from ccanalytics.fleet.lake import export
    >>> folder = tempfile.mkdtemp()
    >>> create_store(os.path.join(folder, "a.db"))
    >>> _ = export(os.path.join(folder, "a.db"), os.path.join(folder, "lake"))
    >>> result = fleet_snapshot(os.path.join(folder, "lake"), now="2026-11-25T12:00:00Z")
    >>> list(result["nodes"]), result["fleet"]["buyer"]["total_calls"]
    (['a'], 0)
    """
    from ccanalytics.fleet.engines import PolarsEngine

    lake = Path(lake)
    if not lake.is_dir():
        raise CCError(f"{lake}: no such folder")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CCError(f"--tz {timezone!r} is not a known time zone") from None
    if range_name is not None and range_name not in RANGES:
        raise CCError(f"--range must be one of {', '.join(RANGES)}")
    try:
        now_ms = parse_now(now)
    except ValueError as exc:
        raise CCError(str(exc)) from None
    engine = engine or PolarsEngine()
    nodes = read_nodes(lake)
    reach = REACH_MS if range_name is None else max(REACH_MS, 2 * RANGES[range_name].length_ms)
    t = tally_lake(engine, lake, now_ms, reach)
    horizon = cut_start(now_ms, reach)
    parts = {name: by_node(getattr(t, name)) for name in ("tallies", "names", "sketch", "firsts", "recent")}
    issues = issues_at(lake, now_ms)
    snaps = {}
    for n in nodes:
        settled = settled_totals(*(parts[name].get(n.name) for name in ("tallies", "names", "sketch", "firsts")))
        recent = recent_rows(parts["recent"].get(n.name))
        seen = first_seen(parts["firsts"].get(n.name))
        node_issues = issues.get(n.name, NO_ISSUES)
        snaps[n.name] = node_snapshot(n, settled, recent, node_issues, now_ms, events, range_name, seen, horizon)
    return {
        "now": iso_utc(now_ms),
        "engine": engine.name,
        "nodes": {name: s.to_dict() for name, s in snaps.items()},
        "fleet": fleet_figures(nodes, snaps, t, now_ms, timezone, range_name, horizon),
    }
