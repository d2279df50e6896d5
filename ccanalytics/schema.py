"""How a contract table is described: ``Column`` and ``Table``, and the SQL and polars made from them.

``contract`` declares the store's tables with these; everything that reads or
writes a store (its DDL, each column's clean-value expression, the rules as
one polars expression) is derived here, so the schema is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = ["Column", "Table", "first_broken_rule", "quote_name"]

_TEXT = ("text",)


@dataclass(frozen=True)
class Column:
    """One contract column: its polars dtype and how SQLite values are cleaned.

    ``sqlite_types`` are the ``typeof()`` results the column accepts; a value of
    any other type is read as ``bad``: ``NULL``, or for a column where null is
    legal a negative sentinel that breaks the column's rule.
    ``default`` is used when a store lacks an optional column altogether.
    The DDL declares a column ``NOT NULL`` when it is required or has a
    default, unless ``not_null`` says otherwise; ``primary_key`` and
    ``autoincrement`` are its key.
    """

    name: str
    dtype: PolarsDataType
    sqlite_types: tuple[str, ...]
    required: bool = True
    default: object = None
    bad: str = "NULL"
    # Text that is not valid UTF-8 makes the row bad (``INVALID_TEXT``) rather
    # than being read with replacement characters.
    strict: bool = False
    primary_key: bool = False
    autoincrement: bool = False
    not_null: bool | None = None

    @property
    def sql_type(self) -> str:
        """The column's type in the DDL: ``INTEGER``, ``REAL`` or ``TEXT``."""
        return _SQL_TYPE[self.dtype]

    @property
    def declaration(self) -> str:
        """What the DDL declares after the column's name.

        Examples
        --------
        >>> Column("price_micro", pl.Int64, ("integer",), required=False, default=0).declaration
        'INTEGER NOT NULL DEFAULT 0'
        >>> Column("id", pl.Int64, ("integer",), primary_key=True, autoincrement=True, not_null=False).declaration
        'INTEGER PRIMARY KEY AUTOINCREMENT'
        """
        parts = [self.sql_type]
        if self.primary_key:
            parts.append("PRIMARY KEY AUTOINCREMENT" if self.autoincrement else "PRIMARY KEY")
        if self.not_null if self.not_null is not None else (self.required or self.default is not None):
            parts.append("NOT NULL")
        if self.default is not None:
            parts.append(f"DEFAULT {_sql_literal(self.default)}")
        return " ".join(parts)

    def expression(self, actual: str | None, *, clean: bool = True, binary: bool = False) -> str:
        """The SQL expression of this column's clean value (or its raw one).

        ``actual`` is the column's name in the store (names are
        case-insensitive), None when the store lacks it.  Texts are judged
        here, by storage class, even when ``clean`` is false (a blob in a TEXT
        column keeps its class); with ``binary`` they are read as blobs, so
        that text that is not UTF-8 reaches Python as bytes (see ``sqlite``).
        """
        if actual is None:
            return _sql_literal(self.default)
        q = quote_name(actual)
        if self.dtype == pl.String:
            accepted = ", ".join(f"'{t}'" for t in self.sqlite_types)
            value = f"CAST({q} AS TEXT)" if self.sqlite_types != _TEXT else q
            value = f"CAST({value} AS BLOB)" if binary else value
            return f"CASE WHEN typeof({q}) IN ({accepted}) THEN {value} END"
        if not clean:
            return q
        accepted = ", ".join(f"'{t}'" for t in self.sqlite_types)
        return (
            f"CASE WHEN {q} IS NULL THEN NULL "
            f"WHEN typeof({q}) IN ({accepted}) THEN CAST({q} AS {_SQL_TYPE[self.dtype]}) "
            f"ELSE {self.bad} END"
        )


def quote_name(name: str) -> str:
    """A SQL identifier, double-quoted: any characters, a ``"`` doubled.

    Examples
    --------
    >>> quote_name('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


_SQL_TYPE: dict[PolarsDataType, str] = {pl.Int64: "INTEGER", pl.Float64: "REAL", pl.String: "TEXT"}


def _sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


@dataclass(frozen=True)
class Table:
    """A contract table: its columns and its rules, in the order they are checked."""

    name: str
    columns: tuple[Column, ...]
    rules: tuple[tuple[str, pl.Expr], ...]
    has_ts: bool = True
    # Columns no number depends on and no rule judges: read only for ad-hoc queries.
    descriptive: tuple[Column, ...] = ()
    # The columns' order in the store, when it is not ``columns`` then ``descriptive``.
    order: tuple[str, ...] = ()

    @property
    def stored(self) -> tuple[Column, ...]:
        """Every column of the table, in the store's (the DDL's) order."""
        every = (*self.columns, *self.descriptive)
        if not self.order:
            return every
        by_name = {c.name: c for c in every}
        return tuple(by_name[name] for name in self.order)

    @property
    def ddl(self) -> str:
        """The ``CREATE TABLE IF NOT EXISTS`` statement of the table (no ``;``).

        Examples
        --------
        >>> key = Column("key", pl.String, ("text",), primary_key=True)
        >>> print(Table("settings", (key, Column("value", pl.String, ("text",), not_null=False)), ()).ddl)
        CREATE TABLE IF NOT EXISTS settings (
            key   TEXT PRIMARY KEY NOT NULL,
            value TEXT
        )
        """
        width = max(len(c.name) for c in self.stored)
        lines = ",\n".join(f"    {c.name.ljust(width)} {c.declaration}" for c in self.stored)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n{lines}\n)"

    @property
    def schema(self) -> dict[str, PolarsDataType]:
        return {c.name: c.dtype for c in self.columns}

    @property
    def full_schema(self) -> dict[str, PolarsDataType]:
        """The schema with the descriptive columns: what ``store.<table>`` gives."""
        return {c.name: c.dtype for c in (*self.columns, *self.descriptive)}

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)


def first_broken_rule(table: Table) -> pl.Expr:
    """An expression naming the first rule a row breaks, ``null`` for a good row.

    Examples
    --------
    >>> frame = pl.DataFrame(
    ...     {"ts_ms": [1, None, 3], "usdc_micro": [5, 5, -1], "eth_wei": ["1", "2", "x"]}
    ... )
    >>> from ccanalytics.contract import BALANCE_SNAPSHOTS
    >>> frame.select(first_broken_rule(BALANCE_SNAPSHOTS)).to_series().to_list()
    [None, 'ts_ms is not an integer', 'usdc_micro is negative or not an integer']
    """
    expr = pl.lit(None, dtype=pl.String)
    for text, broken in reversed(table.rules):
        expr = pl.when(broken.fill_null(False)).then(pl.lit(text)).otherwise(expr)
    return expr
