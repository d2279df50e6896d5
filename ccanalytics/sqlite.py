"""Reading a store's SQLite file: read-only, clean rows, nothing else.

Every query goes through a connection opened with ``mode=ro``: the dashboard
can never change or lock a control center's data.  Rows come back *clean*
(see ``contract``): the contract's dtypes, wrong storage classes as null, plus
``_rid`` (the SQLite rowid, used to read only what is new).
"""

from __future__ import annotations

import os
import sqlite3
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
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
            self._files = self._fingerprint()
            self.con = self._connect()
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

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(_uri(self.path), uri=True, check_same_thread=False, isolation_level=None)
        con.execute("PRAGMA busy_timeout = 5000")
        return con

    def _fingerprint(self) -> tuple:
        found = []
        for name in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = name.stat()
                found.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except OSError:
                found.append(None)
        return tuple(found)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same state of the file."""
        files = self._fingerprint()
        if files != self._files:
            self.con.close()
            self.con = self._connect()
            self._files = files
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
        return hash((self._files, self._query("PRAGMA data_version")[0][0]))

    def _read_shapes(self) -> dict[str, TableShape]:
        rows = self.con.execute(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name"
        ).fetchall()
        found = {name: (kind, sql or "") for name, kind, sql in rows}
        # What a cache was built from: another schema, another cache.
        self.schema_sql = "\n".join(sql for _, _, sql in rows if sql)
        shapes = {}
        self.declared: dict[str, dict[str, str]] = {}
        for name in [*TABLES, "settings"]:
            if name not in found:
                shapes[name] = TableShape(name, False, frozenset(), False, ())
                continue
            kind, sql = found[name]
            info = self.con.execute(f'PRAGMA table_info("{name}")').fetchall()
            self.declared[name] = {r[1]: r[2] or "" for r in info}
            columns = frozenset(self.declared[name])
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

    def states(self, tables: tuple[str, ...]) -> dict[str, tuple | None]:
        """For each table, in one query: its row count, greatest rowid and last row as text.

        Equal states mean nothing was added, deleted or rewritten at the end;
        None for a table without rowids (or one not usable), which is read whole.
        """
        parts, named = [], []
        for table in tables:
            shape = self.shapes[table]
            if not (shape.usable and shape.has_rowid):
                continue
            last = " || ',' || ".join(f'quote("{c}")' for c in sorted(shape.columns))
            parts.append(
                f'(SELECT count(*) FROM "{table}"), (SELECT max(rowid) FROM "{table}"), '
                f'(SELECT {last} FROM "{table}" WHERE rowid = (SELECT max(rowid) FROM "{table}"))'
            )
            named.append(table)
        values = self._query("SELECT " + ", ".join(parts))[0] if parts else ()
        found = {table: tuple(values[3 * i : 3 * i + 3]) for i, table in enumerate(named)}
        return {table: found.get(table) for table in tables}

    def count_after(self, table: str, rowid: int) -> int:
        """Rows with a rowid above ``rowid`` (cheap: a range of the table's b-tree)."""
        return self._query(f'SELECT count(*) FROM "{table}" WHERE rowid > ?', (rowid,))[0][0]

    def max_rowid(self, table: str) -> int:
        return self._query(f'SELECT coalesce(max(rowid), 0) FROM "{table}"')[0][0]

    def select_sql(
        self, table: str, *, clean: bool = True, texts_from: int | None = None, descriptive: bool = False
    ) -> str:
        """The query that yields a table's clean rows (see ``contract``), or its raw values.

        With ``texts_from``, the calls' long texts (``request_id``, ``api_name``)
        are read only for calls from that time on; earlier ones get ``'?'``
        where a valid text is, so the rules still judge them, at a fraction of
        the memory (see ``Store._read_history``).
        """
        shape = self.shapes[table]
        items = [f"{'rowid' if shape.has_rowid else 'NULL'} AS {RID}"]
        contract = TABLES[table]
        for column in (*contract.columns, *(contract.descriptive if descriptive else ())):
            present = column.name in shape.columns
            value = column.expression(present, clean=clean)
            if texts_from is not None and present and column.name in _SPARED_TEXTS:
                valid = _SPARED_TEXTS[column.name]
                value = f"CASE WHEN \"ts_ms\" >= {int(texts_from)} THEN {value} WHEN {valid} THEN '?' END"
            items.append(f'{value} AS "{column.name}"')
        return f'SELECT {", ".join(items)} FROM "{table}"'

    def read(
        self,
        table: str,
        after_rowid: int | None = None,
        *,
        where: str | None = None,
        params: tuple = (),
        descriptive: bool = False,
    ) -> pl.DataFrame:
        """Clean rows of a table: all, those with ``rowid > after_rowid``, or those ``where`` says."""
        sql = self.select_sql(table, descriptive=descriptive)
        if after_rowid is not None:
            where, params = "rowid > ?", (after_rowid,)
        if where is not None:
            sql += f" WHERE {where}"
        contract = TABLES[table]
        schema = {RID: pl.Int64, **(contract.full_schema if descriptive else contract.schema)}
        rows = self._query(sql, params)
        # Column by column: three times faster than handing polars the rows.
        columns = zip(*rows, strict=True) if rows else ([] for _ in schema)
        return pl.DataFrame(dict(zip(schema, columns, strict=True)), schema=schema)

    def read_rowids(self, table: str, rowids: list[int]) -> pl.DataFrame:
        """Clean rows of a table with these rowids."""
        frames = []
        for start in range(0, len(rowids), 500):  # SQLite limits the parameters of one statement
            batch = rowids[start : start + 500]
            frames.append(self.read(table, where=f"rowid IN ({', '.join('?' * len(batch))})", params=tuple(batch)))
        return pl.concat(frames) if frames else self.read(table, where="0")

    def row_at(self, table: str, rowid: int) -> tuple | None:
        """The clean values of the row with this rowid (None when there is none)."""
        rows = self._query(f"{self.select_sql(table)} WHERE rowid = ?", (rowid,))
        return rows[0] if rows else None

    def conforms(self, table: str) -> bool:
        """Whether every contract column present is declared with the contract's affinity.

        Then SQLite itself keeps each value's storage class in line, and a wrong
        one can only show as a column that no longer reads as the contract's
        type: rows can be read raw, and judged again only where that happens.
        """
        declared = self.declared[table]
        return all(
            _affinity(declared[c.name]) in _AFFINITIES[c.dtype] for c in TABLES[table].columns if c.name in declared
        )

    def read_chunks(
        self,
        table: str,
        chunk_rows: int = 100_000,
        workers: int = 2,
        texts_from: int | None = None,
        descriptive: bool = False,
    ) -> Iterator[pl.DataFrame]:
        """All clean rows of a big table, in rowid ranges read by ``workers`` threads (ADBC, into Arrow).

        ``texts_from`` and ``descriptive``: see ``select_sql``.
        """
        from adbc_driver_manager import Error as AdbcError

        if not self.shapes[table].has_rowid:
            yield self.read(table, descriptive=descriptive)
            return
        contract = TABLES[table]
        schema = {RID: pl.Int64, **(contract.full_schema if descriptive else contract.schema)}
        # ADBC fixes each column's type from the first rows it sees, and a run of
        # NULLs would fix it wrongly: lead with one row of the right types.
        types = ", ".join(f'{_TYPE_LITERAL[dtype]} AS "{name}"' for name, dtype in schema.items())
        options = {"texts_from": texts_from, "descriptive": descriptive}
        clean = f"SELECT {types} UNION ALL {self.select_sql(table, **options)}"
        raw = None
        if self.conforms(table):
            raw = f"SELECT {types} UNION ALL {self.select_sql(table, clean=False, **options)}"
        uri = _uri(self.path)

        def chunk(low: int) -> pl.DataFrame:
            where = f" WHERE rowid > {int(low)} AND rowid <= {int(low + chunk_rows)}"
            if raw is not None:
                frame = _adbc_frame(uri, raw + where)
                if all(frame.schema[name] == dtype for name, dtype in schema.items()):
                    return frame.slice(1)
            return _conform(_adbc_frame(uri, clean + where), schema).slice(1)

        top = self.max_rowid(table)
        starts = iter(range(0, top, chunk_rows))
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccanalytics-read") as pool:
                # At most `workers` chunks in flight: memory stays bounded however big the table.
                pending = deque(pool.submit(chunk, low) for low in islice(starts, workers))
                while pending:
                    frame = pending.popleft().result()
                    for low in islice(starts, 1):
                        pending.append(pool.submit(chunk, low))
                    yield frame
        except AdbcError as exc:
            raise StoreError(f"{self.path}: cannot read the store ({str(exc).splitlines()[0]})") from None

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


# Long texts of calls a bulk read may spare, and when a value is a valid one.
_SPARED_TEXTS = {
    "request_id": "typeof(\"request_id\") = 'text' AND \"request_id\" <> ''",
    "api_name": "typeof(\"api_name\") = 'text'",
}
_TYPE_LITERAL = {pl.Int64: "0", pl.Float64: "0.5", pl.String: "''"}
_AFFINITIES = {pl.Int64: ("INTEGER",), pl.String: ("TEXT",), pl.Float64: ("REAL", "NUMERIC")}


def _affinity(declared: str) -> str:
    """SQLite's column affinity for a declared type (https://sqlite.org/datatype3.html, 3.1)."""
    kind = declared.upper()
    if "INT" in kind:
        return "INTEGER"
    if any(word in kind for word in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in kind or not kind:
        return "BLOB"
    if any(word in kind for word in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def _adbc_frame(uri: str, sql: str) -> pl.DataFrame:
    """One query through ADBC's SQLite driver, straight into polars (no pyarrow, no pandas)."""
    import adbc_driver_manager._lib as adbc
    import adbc_driver_sqlite

    with (
        adbc_driver_sqlite.connect(uri) as database,
        adbc.AdbcConnection(database) as connection,
        adbc.AdbcStatement(connection) as statement,
    ):
        statement.set_sql_query("PRAGMA busy_timeout = 5000")
        statement.execute_update()
        statement.set_sql_query(sql)
        stream, _ = statement.execute_query()
        return pl.DataFrame(stream)


def _conform(frame: pl.DataFrame | pl.Series, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Give a frame read through Arrow exactly the contract's dtypes.

    An all-null column arrives typed ``null``; a column SQLite reported with
    another declared type arrives as that type.  Both are cast, never guessed.
    """
    assert isinstance(frame, pl.DataFrame)
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())
