"""The all-time figures of both roles from the ledger's totals: one small query, the rest on a few dozen rows.

A refresh's all-time figures come from ``Totals``: a tally per (role,
api_id), the latest name of each API and a latency sketch — a few dozen rows
however long the history.  Only the sketch's p95 per (role, api_id) needs a
query (``p95_query``, collected with the refresh's other queries or eagerly); joining
the tallies to names, registrations and percentiles and ordering them is done
on those few dozen rows as Python values (``breakdowns``), which costs
microseconds where a polars plan costs milliseconds of fixed cost (see
docs/design.md).  The figures are the same numbers ``views.all_time_breakdown``
gives: sums as integers, ratios as one float division.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.metrics import formulas, sketch

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ccanalytics.metrics.ledger import Totals

__all__ = ["BREAKDOWN_SCHEMA", "AllTime", "breakdowns", "p95_query"]

BREAKDOWN_SCHEMA = pl.Schema(
    {
        "api_id": pl.String,
        "api_name": pl.String,
        "calls": pl.Int64,
        "success": pl.Int64,
        "errors": pl.Int64,
        "usdc": pl.Int128,  # micro-USDC: spent (buyer) or earned (seller)
        "avg_latency_ms": pl.Float64,
        "p95_latency_ms": pl.Float64,
        "success_rate": pl.Float64,
    }
)


@dataclass(frozen=True)
class AllTime:
    """One role's all-time figures: calls, money (micro-USDC) and the API breakdown."""

    calls: int
    money: int
    breakdown: pl.DataFrame


def p95_query(sketches: sketch.Frame) -> sketch.Frame:
    """Per (role, api_id), the sketch's nearest-rank ``p95_latency_ms`` (``sketch.sketch_percentiles``).

    An eager sketch (the ledger's ``Totals.sketch``) gives the answer itself, a lazy one a query.

    Examples
    --------
    >>> calls = pl.LazyFrame({"role": ["seller"] * 100, "api_id": ["a"] * 100,
    ...     "latency_ms": [float(v) for v in range(1, 101)]})
    >>> round(p95_query(sketch.sketch(calls)).collect()["p95_latency_ms"].item())
    95
    >>> round(p95_query(sketch.sketch(calls).collect())["p95_latency_ms"].item())
    95
    """
    return sketch.sketch_percentiles(sketches, percentiles=(95,))


def breakdowns(
    totals: Totals, p95: pl.DataFrame | Mapping[tuple[str, str], float | None], apis: pl.DataFrame
) -> dict[str, AllTime]:
    """Both roles' all-time figures from the totals, their ``p95_query`` and the valid ``apis`` rows.

    ``p95`` may also be that query's values by (role, api_id) (``Totals.p95``).

    ``api_name`` is the registered name (the last row of an ``api_id`` wins),
    else the latest call's, else the id; rows are ordered by calls descending,
    then ``api_id``.

    Examples
    --------
    >>> from ccanalytics.metrics.ledger import Totals
    >>> calls = pl.DataFrame({"ts_ms": [1, 2, 3], "role": ["buyer"] * 3, "api_id": ["a", "b", "b"],
    ...     "api_name": ["A", None, None], "request_id": ["r1", "r2", "r3"], "status_code": [200, 200, 500],
    ...     "latency_ms": [10.0, None, 4.0], "price_micro": [1, 2, 3], "revenue_micro": [0, 0, 0], "rule": None})
    >>> totals = Totals.empty().plus(calls)
    >>> apis = pl.DataFrame({"api_id": ["b", "b"], "name": ["Bee", "Bea"]})
    >>> figures = breakdowns(totals, p95_query(totals.sketch.lazy()).collect(), apis)
    >>> figures["buyer"].calls, figures["buyer"].money, figures["seller"].calls
    (3, 6, 0)
    >>> figures["buyer"].breakdown.select("api_id", "api_name", "calls", "errors", "usdc").rows()
    [('b', 'Bea', 2, 1, 5), ('a', 'A', 1, 0, 1)]
    """
    registered = dict(zip(apis["api_id"].to_list(), apis["name"].to_list(), strict=True))
    called = dict(zip(totals.names["api_id"].to_list(), totals.names["api_name"].to_list(), strict=True))
    p95s = (
        p95
        if not isinstance(p95, pl.DataFrame)
        else {
            (role, api): value
            for role, api, value in zip(
                p95["role"].to_list(), p95["api_id"].to_list(), p95["p95_latency_ms"].to_list(), strict=True
            )
        }
    )
    tallies = totals.tallies
    rows = zip(*(tallies[name].to_list() for name in formulas.TALLY_COLUMNS), strict=True)
    mine: dict[str, list[tuple]] = {role: [] for role in formulas.ROLES}
    for role, api, calls, success, latency_sum, latency_n, price, revenue in rows:
        money = price if role == "buyer" else revenue
        name = _first_known(registered.get(api), called.get(api), api)
        avg = latency_sum / latency_n if latency_n > 0 else None
        rate = success / calls if calls > 0 else None
        mine.setdefault(role, []).append(
            (api, name, calls, success, calls - success, money, avg, p95s.get((role, api)), rate)
        )
    out = {}
    for role in formulas.ROLES:
        ordered = sorted(mine[role], key=lambda row: (-row[2], row[0]))
        frame = pl.DataFrame(ordered, schema=BREAKDOWN_SCHEMA, orient="row")
        out[role] = AllTime(sum(row[2] for row in ordered), sum(row[5] for row in ordered), frame)
    return out


def _first_known(*names: str | None) -> str | None:
    """The first name that is not None (``pl.coalesce``): an empty name is a name."""
    return next((name for name in names if name is not None), None)
