"""How the views' ledger keeps its recent rows' texts: the few-valued ones as categories.

A view's ledger keeps weeks of rows (``ledger.Ledger.recent``).  A text
column of polars holds a 16-byte view per row and, beyond 12 bytes, the text
itself; ``api_name`` (a dozen names, ~20 characters) and ``rule`` (null but for
the broken rows) take 4 bytes a row as categories instead.  Rows that leave
``recent`` for the totals are text again (``texts``), so nothing downstream
sees a category.

Pure polars, no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = ["AS_CATEGORIES", "compact", "like", "texts"]

AS_CATEGORIES = ("api_name", "rule")


def compact(schema: dict[str, PolarsDataType]) -> dict[str, PolarsDataType]:
    """``schema`` with the ``AS_CATEGORIES`` columns as categories.

    Examples
    --------
    >>> compact({"ts_ms": pl.Int64, "api_name": pl.String})
    {'ts_ms': Int64, 'api_name': Categorical}
    """
    return {name: pl.Categorical() if name in AS_CATEGORIES else dtype for name, dtype in schema.items()}


def texts(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with every category as text again (the same frame when there is none).

    Examples
    --------
    >>> rows = pl.DataFrame({"api_name": ["A"]}, schema={"api_name": pl.Categorical})
    >>> texts(rows).schema
    Schema([('api_name', String)])
    """
    if not any(dtype == pl.Categorical for dtype in rows.schema.values()):
        return rows
    return pl.DataFrame([s.cast(pl.String) if s.dtype == pl.Categorical else s for s in rows.get_columns()])


def like(rows: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """``rows`` (the columns of ``schema``, in order) in its dtypes, column by column: no query, no copy when they are.

    Examples
    --------
    >>> rows = pl.DataFrame({"api_name": ["A"]})
    >>> like(rows, pl.Schema({"api_name": pl.Categorical()})).schema
    Schema([('api_name', Categorical)])
    """
    if rows.schema == schema:
        return rows
    return pl.DataFrame([s if s.dtype == schema[s.name] else s.cast(schema[s.name]) for s in rows.get_columns()])
