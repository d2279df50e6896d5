"""Reading a store's SQLite file: read-only, clean rows, nothing else.

Every query goes through a connection opened with ``mode=ro``: the dashboard
can never change or lock a control center's data.  Rows come back *clean*
(see ``contract``): the contract's dtypes, wrong storage classes as null, plus
``_rid`` (the SQLite rowid, used to read only what is new).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import polars as pl

from ccanalytics.contract import TABLES
from ccanalytics.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Source", "TableShape"]

_MAGIC = b"SQLite format 3\x00"
RID = "_rid"


@dataclass(frozen=True)
class TableShape:
    """What one contract table looks like in this store."""

    name: str
    exists: bool
    columns: frozenset[str]
    has_rowid: bool
    missing: tuple[str, ...]  # required contract columns the table lacks

    @property
    def usable(self) -> bool:
        return self.exists and not self.missing


def _uri(path: Path) -> str:
    return "file:" + quote(str(path.resolve())) + "?mode=ro"


def _check_file(path: Path) -> None:
    """Refuse, in one line, what cannot be a store: before SQLite sees it."""
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a SQLite store")
    size = path.stat().st_size
    if size == 0:
        raise StoreError(f"{path}: is empty (0 bytes), not a SQLite store")
    try:
        with path.open("rb") as f:
            header = f.read(100)
    except OSError as exc:
        raise StoreError(f"{path}: cannot be read ({exc.strerror})") from None
    if not header.startswith(_MAGIC):
        raise StoreError(f"{path}: is not a SQLite database")
    if len(header) < 100:
        raise StoreError(f"{path}: is truncated ({size} bytes, less than a SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is only trustworthy when no WAL holds newer pages.
    wal = path.with_name(path.name + "-wal")
    if pages and not wal.exists() and size < pages * page_size:
        raise StoreError(f"{path}: is truncated ({size} of {pages * page_size} bytes)")


class Source:
    """A read-only connection to one store file.

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> create_store(path)
    >>> source = Source(path)
    >>> source.read("calls").columns[:4]
    ['_rid', 'request_id', 'ts_ms', 'role']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        _check_file(self.path)
        self.identity = self._stat_identity()
        try:
            self.con = sqlite3.connect(_uri(self.path), uri=True, check_same_thread=False, isolation_level=None)
            self.con.execute("PRAGMA busy_timeout = 5000")
            self.shapes = self._read_shapes()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: is not a readable SQLite database ({exc})") from None
        calls = self.shapes["calls"]
        if not calls.exists:
            raise StoreError(f"{self.path}: has no calls table")
        if calls.missing:
            raise StoreError(f"{self.path}: calls table lacks column {', '.join(calls.missing)}")

    def close(self) -> None:
        self.con.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same state of the file."""
        self._query("BEGIN")
        try:
            yield
        finally:
            self.con.execute("ROLLBACK")

    # -- what the file is ---------------------------------------------------

    def _stat_identity(self) -> tuple[int, int]:
        st = self.path.stat()
        return (st.st_dev, st.st_ino)

    def replaced(self) -> bool:
        """Whether the path now names another file than the one opened."""
        try:
            return self._stat_identity() != self.identity
        except OSError:
            return True

    def data_version(self) -> int:
        """Changes whenever another connection commits to the store."""
        return self._query("PRAGMA data_version")[0][0]

    def _read_shapes(self) -> dict[str, TableShape]:
        rows = self.con.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
        ).fetchall()
        found = {name: (kind, sql or "") for name, kind, sql in rows}
        # What a cache was built from: another schema, another cache.
        self.schema_sql = "\n".join(sql for _, _, sql in rows if sql)
        shapes = {}
        for name in [*TABLES, "settings"]:
            if name not in found:
                shapes[name] = TableShape(name, False, frozenset(), False, ())
                continue
            kind, sql = found[name]
            columns = frozenset(r[1] for r in self.con.execute(f'PRAGMA table_info("{name}")'))
            required = TABLES[name].required if name in TABLES else ("key", "value")
            has_rowid = kind == "table" and "WITHOUT ROWID" not in sql.upper()
            missing = tuple(c for c in required if c not in columns)
            shapes[name] = TableShape(name, True, columns, has_rowid, missing)
        return shapes

    # -- reading ------------------------------------------------------------

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self.con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the store ({exc})") from None

    def count(self, table: str) -> int:
        return self._query(f'SELECT count(*) FROM "{table}"')[0][0]

    def count_after(self, table: str, rowid: int) -> int:
        """Rows with a rowid above ``rowid`` (cheap: a range of the table's b-tree)."""
        return self._query(f'SELECT count(*) FROM "{table}" WHERE rowid > ?', (rowid,))[0][0]

    def max_rowid(self, table: str) -> int:
        return self._query(f'SELECT coalesce(max(rowid), 0) FROM "{table}"')[0][0]

    def select_sql(self, table: str) -> str:
        """The query that yields a table's clean rows (see ``contract``)."""
        shape = self.shapes[table]
        rid = "rowid" if shape.has_rowid else "NULL"
        items = [f"{rid} AS {RID}"]
        items += [c.select_sql(c.name in shape.columns) for c in TABLES[table].columns]
        return f'SELECT {", ".join(items)} FROM "{table}"'

    def read(self, table: str, after_rowid: int | None = None) -> pl.DataFrame:
        """Clean rows of a table (those with ``rowid > after_rowid`` when given)."""
        sql = self.select_sql(table)
        params: tuple = ()
        if after_rowid is not None:
            sql += " WHERE rowid > ?"
            params = (after_rowid,)
        schema = {RID: pl.Int64, **TABLES[table].schema}
        return pl.DataFrame(self._query(sql, params), schema=schema, orient="row")

    def row_at(self, table: str, rowid: int) -> tuple | None:
        """The clean values of the row with this rowid (None when there is none)."""
        rows = self._query(f"{self.select_sql(table)} WHERE rowid = ?", (rowid,))
        return rows[0] if rows else None

    def read_chunks(self, table: str, chunk_rows: int = 1_000_000) -> Iterator[pl.DataFrame]:
        """All clean rows of a big table, a bounded chunk at a time (via ADBC, into Arrow)."""
        import adbc_driver_sqlite.dbapi as adbc

        schema = {RID: pl.Int64, **TABLES[table].schema}
        # ADBC fixes each column's type from the first rows it sees, and a run of
        # NULLs would fix it wrongly: lead with one row of the right types.
        types = " , ".join(f'{_TYPE_LITERAL[dtype]} AS "{name}"' for name, dtype in schema.items())
        base = f"SELECT {types} UNION ALL {self.select_sql(table)}"
        if not self.shapes[table].has_rowid:
            yield self.read(table)
            return
        top = self.max_rowid(table)
        try:
            with closing(adbc.connect(_uri(self.path))) as con, closing(con.cursor()) as cur:
                for low in range(0, top, chunk_rows):
                    cur.execute(f"{base} WHERE rowid > ? AND rowid <= ?", (low, low + chunk_rows))
                    arrow = cur.fetch_arrow_table()
                    yield _conform(pl.from_arrow(arrow), schema).slice(1)
        except adbc.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the store ({exc})") from None

    def settings(self) -> dict[str, str | None]:
        """The raw key/value pairs of the settings table (values as text)."""
        if not self.shapes["settings"].usable:
            return {}
        # A blob is a value, but never a valid one: it reads as text no check accepts.
        rows = self._query(
            """SELECT CAST("key" AS TEXT), CASE typeof("value") WHEN 'blob' THEN char(0) || 'blob'
            ELSE CAST("value" AS TEXT) END FROM settings"""
        )
        return {key: value for key, value in rows if key is not None}


_TYPE_LITERAL = {pl.Int64: "0", pl.Float64: "0.5", pl.String: "''"}


def _conform(frame: pl.DataFrame | pl.Series, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Give a frame read through Arrow exactly the contract's dtypes.

    An all-null column arrives typed ``null``; a column SQLite reported with
    another declared type arrives as that type.  Both are cast, never guessed.
    """
    assert isinstance(frame, pl.DataFrame)
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
