"""Reading a store's SQLite file: read-only, clean rows, nothing else.

Every query goes through a connection opened with ``mode=ro``: the dashboard
can never change or lock a control center's data.  Rows come back *clean*
(see ``contract``): the contract's dtypes, wrong storage classes as null, plus
``_rid`` (the SQLite rowid, used to read only what is new).

A store may come from any software (data-contract.md, "Stores written by
someone else"), so nothing here trusts it: names are matched without regard
to case and always quoted, every value is judged by its storage class
wherever it sits, text that is not UTF-8 never reaches polars as text, rowids
may be negative, huge or absent, and a bulk read either sees one state of the
file or says that it did not (``Bulk``).
"""

from __future__ import annotations

import queue
import sqlite3
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import polars as pl

from ccanalytics.contract import INVALID_TEXT, STORE_TABLES, TABLES, quote_name
from ccanalytics.errors import StoreError
from ccanalytics.units import MAX_TS_MS, MIN_TS_MS

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator

__all__ = ["Bulk", "Source", "TableShape"]

_MAGIC = b"SQLite format 3\x00"
RID = "_rid"
# The names a rowid answers to, unless a column took them.
_ROWID_NAMES = ("rowid", "_rowid_", "oid")
# Rows read per bulk query; on a rollback-journal store every query holds a
# lock that makes a writer wait, so they are kept short there.
CHUNK_ROWS = 100_000
ROLLBACK_CHUNK_ROWS = 5_000
# Beyond this many rowid ranges (sparse rowids), chunks are cut by rows instead.
_MAX_RANGES = 1_000
_BUSY_MS = 5_000
_TIME_SENTINEL = -(2**63)  # a ts_ms outside years 1-9999, read as "no time"


@dataclass(frozen=True)
class TableShape:
    """What one contract table looks like in this store.

    ``columns`` maps each lower-case column name to its name in the store;
    ``rowid`` is how its rowid can be named (None: a view, a ``WITHOUT
    ROWID`` table, or every name taken by a column), ``broken`` why it cannot
    be read at all.
    """

    name: str
    exists: bool
    actual: str = ""
    columns: dict[str, str] = field(default_factory=dict)
    rowid: str | None = None
    missing: tuple[str, ...] = ()  # required contract columns the table lacks
    broken: str | None = None

    @property
    def has_rowid(self) -> bool:
        return self.rowid is not None

    @property
    def usable(self) -> bool:
        return self.exists and not self.missing and self.broken is None

    @property
    def quoted(self) -> str:
        return quote_name(self.actual)


def _uri(path: Path) -> str:
    return "file:" + quote(str(path.resolve())) + "?mode=ro"


def _check_file(path: Path) -> None:
    """Refuse, in one line, what cannot be a store: before SQLite sees it."""
    try:
        _check_header(path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _check_header(path: Path) -> None:
    if not path.exists():
        raise StoreError(f"{path}: no such file")
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a SQLite store")
    size = path.stat().st_size
    if size == 0:
        raise StoreError(f"{path}: is empty (0 bytes), not a SQLite store")
    with path.open("rb") as f:
        header = f.read(100)
    if not header.startswith(_MAGIC):
        raise StoreError(f"{path}: is not a SQLite database")
    if len(header) < 100:
        raise StoreError(f"{path}: is truncated ({size} bytes, less than a SQLite header)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is trustworthy only when its "valid-for" number
    # equals the change counter (https://sqlite.org/fileformat2.html#in_header_database_size),
    # and when no WAL holds newer pages; otherwise SQLite itself goes by the file's size.
    valid = header[92:96] == header[24:28]
    wal = path.with_name(path.name + "-wal")
    if pages and valid and size < pages * page_size and not wal.exists():
        raise StoreError(f"{path}: is truncated ({size} of {pages * page_size} bytes)")


class _Invalid(str):
    """Text that was not valid UTF-8, decoded with replacement characters."""


def _ascii_lower(text: str) -> str:
    """Lower case as SQLite folds names: ASCII letters only."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


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
        self.invalid_texts = 0
        try:
            self.identity = self._stat_identity()
            self._files = self._fingerprint()
            self.con = self._connect()
            self.shapes = self._read_shapes()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: is not a readable SQLite database ({_line(exc)})") from None
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        calls = self.shapes["calls"]
        if not calls.exists:
            raise StoreError(f"{self.path}: has no calls table")
        if calls.broken:
            raise StoreError(f"{self.path}: the calls table cannot be read ({calls.broken})")
        if calls.missing:
            raise StoreError(f"{self.path}: calls table lacks column {', '.join(calls.missing)}")

    def close(self) -> None:
        self.con.close()

    def _decode(self, data: bytes) -> str:
        try:
            return data.decode()
        except UnicodeDecodeError:
            self.invalid_texts += 1
            return _Invalid(data.decode("utf-8", "replace"))

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(_uri(self.path), uri=True, check_same_thread=False, isolation_level=None)
        con.text_factory = self._decode
        con.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
        self.wal = con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
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
    def transaction(self, bulk: bool = False) -> Iterator[Bulk | None]:
        """One read transaction: every query inside sees the same state of the file.

        With ``bulk`` (a WAL store), it also yields a ``Bulk`` for the big
        reads, whose connections hold read transactions begun on the very same
        state (the caller closes it before this transaction ends). When a
        writer commits between the two every time (one that never pauses), the
        last attempt yields no ``Bulk``: the big reads then run on this
        connection, in this transaction — slower, but the same one state.
        """
        attempts = 20
        for attempt in range(attempts):
            files = self._fingerprint()
            if files != self._files:
                self.con.close()
                self.con = self._connect()
                self._files = files
            before = self._query("PRAGMA data_version")[0][0]
            reader = Bulk(self, transaction=self.wal) if bulk else None
            try:
                self._query("BEGIN")
                self._query("SELECT count(*) FROM sqlite_master")  # the state is taken here
                version = self._query("PRAGMA data_version")[0][0]
            except BaseException:
                if reader is not None:
                    reader.close()
                self._end()
                raise
            # A commit between the Bulk's start and this transaction's: begin both again.
            if reader is not None and (version != before or self._fingerprint() != files):
                reader.close()
                self._end()
                if attempt < attempts - 1:
                    continue
                # Begin again with no Bulk: closing its connections dropped this process's locks on
                # the file (two SQLite libraries in one process), so the old transaction is not safe.
                reader = None
                try:
                    self._query("BEGIN")
                    self._query("SELECT count(*) FROM sqlite_master")
                except BaseException:
                    self._end()
                    raise
            try:
                yield reader
            except BaseException:
                if reader is not None:
                    reader.close()
                raise
            finally:
                self._end()
            return
        raise StoreError(f"{self.path}: changed during every attempt to read it; try again")

    def _end(self) -> None:
        with suppress(sqlite3.DatabaseError):
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
        # Names are case-insensitive in SQLite, so two entries never fold to one.
        found = {_ascii_lower(name): (name, kind, sql or "") for name, kind, sql in rows}
        # What a cache was built from: another schema, another cache.
        self.schema_sql = "\n".join(sql for _, _, sql in rows if sql)
        shapes = {}
        self.declared: dict[str, dict[str, str]] = {}
        for name in STORE_TABLES:
            if name not in found:
                shapes[name] = TableShape(name, False)
                continue
            actual, kind, _ = found[name]
            try:
                info = self.con.execute(f"PRAGMA table_info({quote_name(actual)})").fetchall()
            except sqlite3.DatabaseError as exc:  # a view over a table that is gone
                shapes[name] = TableShape(name, True, actual, broken=_line(exc))
                continue
            columns = {_ascii_lower(r[1]): r[1] for r in info}
            self.declared[name] = {_ascii_lower(r[1]): r[2] or "" for r in info}
            missing = tuple(c for c in STORE_TABLES[name].required if c not in columns)
            rowid = self._rowid_name(actual, columns) if kind == "table" else None
            shapes[name] = TableShape(name, True, actual, columns, rowid, missing)
        return shapes

    def _rowid_name(self, table: str, columns: dict[str, str]) -> str | None:
        """How this table's rowid can be named: None when it has none (WITHOUT ROWID) or every name is taken."""
        for name in _ROWID_NAMES:
            if name not in columns:
                try:
                    self.con.execute(f"SELECT {name} FROM {quote_name(table)} LIMIT 0").fetchall()
                except sqlite3.DatabaseError:
                    return None
                return name
        return None

    # -- reading ------------------------------------------------------------

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self.con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the store ({_line(exc)})") from None

    def count(self, table: str) -> int:
        return self._query(f"SELECT count(*) FROM {self.shapes[table].quoted}")[0][0]

    def states(self, tables: tuple[str, ...]) -> dict[str, tuple | None]:
        """For each table, in one query: its row count, greatest rowid and last row as text.

        Equal states mean nothing was added, deleted or rewritten at the end;
        None for a table without rowids (or one not usable), which is read whole.
        """
        parts, named = [], []
        for table in tables:
            shape = self.shapes[table]
            if not (shape.usable and shape.rowid):
                continue
            last = " || ',' || ".join(f"quote({quote_name(c)})" for c in sorted(shape.columns.values()))
            t, r = shape.quoted, shape.rowid
            parts.append(
                f"(SELECT count(*) FROM {t}), (SELECT max({r}) FROM {t}), "
                f"(SELECT {last} FROM {t} WHERE {r} = (SELECT max({r}) FROM {t}))"
            )
            named.append(table)
        values = self._query("SELECT " + ", ".join(parts))[0] if parts else ()
        found = {table: tuple(values[3 * i : 3 * i + 3]) for i, table in enumerate(named)}
        return {table: found.get(table) for table in tables}

    def max_rowid(self, table: str) -> int | None:
        shape = self.shapes[table]
        return self._query(f"SELECT max({shape.rowid}) FROM {shape.quoted}")[0][0] if shape.rowid else None

    def span(self, table: str) -> int:
        """How many rowids lie between a table's least and greatest (0 when empty): at least its rows."""
        shape = self.shapes[table]
        if shape.rowid is None:
            return self.count(table)
        low, high = self._query(f"SELECT min({shape.rowid}), max({shape.rowid}) FROM {shape.quoted}")[0]
        return 0 if low is None else high - low + 1

    def count_after(self, table: str, rowid: int) -> int:
        """Rows with a rowid above ``rowid`` (cheap: a range of the table's b-tree)."""
        shape = self.shapes[table]
        return self._query(f"SELECT count(*) FROM {shape.quoted} WHERE {shape.rowid} > ?", (rowid,))[0][0]

    def count_upto(self, table: str, rowid: int, step: int = 200_000) -> int:
        """Rows with a rowid up to ``rowid``, one short query per ``step`` rows.

        For a rollback-journal store, where one long count would make a writer wait.
        """
        shape = self.shapes[table]
        r = shape.rowid
        total, low = 0, None
        while True:
            after = "" if low is None else f" AND {r} > {int(low)}"
            n, top = self._query(
                f"SELECT count(*), max(x) FROM (SELECT {r} AS x FROM {shape.quoted} WHERE {r} <= {int(rowid)}{after} "
                f"ORDER BY {r} LIMIT {int(step)})"
            )[0]
            total += n
            if n < step:
                return total
            low = top

    def select_sql(
        self,
        table: str,
        *,
        clean: bool = True,
        texts_from: int | None = None,
        descriptive: bool = False,
        binary: bool = False,
    ) -> str:
        """The query that yields a table's clean rows (see ``contract``), or its raw numbers.

        With ``texts_from``, the calls' long texts (``request_id``, ``api_name``)
        are read only for calls from that time on; earlier ones get ``'?'``
        where a valid ASCII text is, so the rules still judge them, at a
        fraction of the memory (see ``Store._read_history``).  With
        ``binary``, texts are read as blobs (for ADBC: see ``Bulk``).
        """
        shape = self.shapes[table]
        items = [f"{shape.rowid or 'NULL'} AS {RID}"]
        contract = TABLES[table]
        for column in (*contract.columns, *(contract.descriptive if descriptive else ())):
            actual = shape.columns.get(column.name)
            value = column.expression(actual, clean=clean, binary=binary)
            if texts_from is not None and actual is not None and column.name in _SPARED_TEXTS:
                q, ts = quote_name(actual), quote_name(shape.columns["ts_ms"])
                # Only text that is plain ASCII without NULs is spared: the rest is read, and judged.
                valid = f"typeof({q}) = 'text' AND length({q}) = length(CAST({q} AS BLOB))"
                if _SPARED_TEXTS[column.name]:
                    valid += f" AND {q} <> ''"
                spare = "X'3F'" if binary else "'?'"
                value = f"CASE WHEN {ts} >= {int(texts_from)} THEN {value} WHEN {valid} THEN {spare} ELSE {value} END"
            items.append(f"{value} AS {quote_name(column.name)}")
        return f"SELECT {', '.join(items)} FROM {shape.quoted}"

    def schema(self, table: str, descriptive: bool = False) -> dict[str, pl.DataType]:
        contract = TABLES[table]
        return {RID: pl.Int64, **(contract.full_schema if descriptive else contract.schema)}

    def read(
        self,
        table: str,
        after_rowid: int | None = None,
        *,
        where: str | None = None,
        params: tuple = (),
        descriptive: bool = False,
        texts_from: int | None = None,
    ) -> pl.DataFrame:
        """Clean rows of a table: all, those with ``rowid > after_rowid``, or those ``where`` says."""
        shape = self.shapes[table]
        sql = self.select_sql(table, descriptive=descriptive, texts_from=texts_from)
        if after_rowid is not None:
            where, params = f"{shape.rowid} > ?", (after_rowid,)
        if where is not None:
            sql += f" WHERE {where}"
        schema = self.schema(table, descriptive)
        before = self.invalid_texts
        rows = self._query(sql, params)
        # Column by column: three times faster than handing polars the rows.
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in schema]
        if self.invalid_texts != before:
            for i, name in enumerate(schema):
                if name in _STRICT[table]:
                    columns[i] = [INVALID_TEXT if isinstance(v, _Invalid) else v for v in columns[i]]
        frame = pl.DataFrame(dict(zip(schema, columns, strict=True)), schema=schema)
        return _bounded_times(frame)

    def read_rowids(self, table: str, rowids: list[int], bulk: Bulk | None = None) -> pl.DataFrame:
        """Clean rows of a table with these rowids (through ``bulk``'s state when given)."""
        frames = []
        rowid = self.shapes[table].rowid
        for start in range(0, len(rowids), 500):  # SQLite limits the parameters of one statement
            batch = ", ".join(str(int(r)) for r in rowids[start : start + 500])
            frames.append(self._read_where(table, f"{rowid} IN ({batch})", bulk))
        return pl.concat(frames) if frames else self._read_where(table, "0", bulk)

    def row_at(self, table: str, rowid: int, bulk: Bulk | None = None) -> tuple | None:
        """The clean values of the row with this rowid (None when there is none)."""
        rows = self._read_where(table, f"{self.shapes[table].rowid} = {int(rowid)}", bulk)
        return rows.row(0) if rows.height else None

    def _read_where(self, table: str, where: str, bulk: Bulk | None) -> pl.DataFrame:
        if bulk is None:
            return self.read(table, where=where)
        return next(self._chunks(table, bulk, where=f"WHERE {where}"))

    def conforms(self, table: str) -> bool:
        """Whether every contract number column present is declared with the contract's affinity.

        Then SQLite itself keeps most values' storage class in line, and a
        wrong one shows as a column that does not read as the contract's
        type (ADBC refuses it): numbers can be read raw, and judged again only
        where that happens.  Texts are judged by ``typeof()`` in any case.
        """
        declared = self.declared[table]
        return all(
            _affinity(declared[c.name]) in _AFFINITIES[c.dtype]
            for c in TABLES[table].columns
            if c.name in declared and c.dtype != pl.String
        )

    def read_chunks(
        self,
        table: str,
        bulk: Bulk | None = None,
        *,
        chunk_rows: int | None = None,
        workers: int = 2,
        texts_from: int | None = None,
        descriptive: bool = False,
        upto: int | None = None,
    ) -> Iterator[pl.DataFrame]:
        """All clean rows of a big table, in rowid ranges read by ``workers`` threads (ADBC, into Arrow).

        ``bulk`` gives the connections (one state of the file, see
        ``transaction``); without it the read opens its own.  On a
        rollback-journal store without ``bulk`` the rows are read through this
        source's own connection instead (see ``Bulk`` for why), in ranges up to
        the rowid ``upto`` when given: one short query each, so a writer never
        waits long.  ``texts_from`` and ``descriptive``: see ``select_sql``.
        """
        if bulk is None and (not self.wal or self.con.in_transaction):
            # Also inside a caller's transaction: its state is the one to read.
            shape = self.shapes[table]
            if shape.rowid is None:
                yield self.read(table, descriptive=descriptive, texts_from=texts_from)
                return
            rows = chunk_rows or (CHUNK_ROWS if self.wal else ROLLBACK_CHUNK_ROWS)
            for low, high in _ranges(lambda sql: self._query(sql)[0], shape, rows, upto):
                where = f"{shape.rowid} BETWEEN {int(low)} AND {int(high)}"
                yield self.read(table, where=where, descriptive=descriptive, texts_from=texts_from)
            return
        if bulk is None:  # a WAL store: a transaction of this source's own holds the state (see ``Bulk``)
            with self.transaction(bulk=True) as own:
                if own is None:  # the file kept changing: read inside this transaction, on this connection
                    yield from self.read_chunks(
                        table, chunk_rows=chunk_rows, texts_from=texts_from, descriptive=descriptive, upto=upto
                    )
                    return
                try:
                    yield from self._chunks(
                        table, own, chunk_rows=chunk_rows, texts_from=texts_from, descriptive=descriptive
                    )
                finally:
                    own.close()
            return
        yield from self._chunks(
            table, bulk, chunk_rows=chunk_rows, workers=workers, texts_from=texts_from, descriptive=descriptive
        )

    def _chunks(
        self,
        table: str,
        bulk: Bulk,
        *,
        chunk_rows: int | None = None,
        workers: int = 2,
        texts_from: int | None = None,
        descriptive: bool = False,
        where: str | None = None,
    ) -> Iterator[pl.DataFrame]:
        shape = self.shapes[table]
        schema = self.schema(table, descriptive)
        wire = {name: pl.Binary if dtype == pl.String else dtype for name, dtype in schema.items()}
        options = {"texts_from": texts_from, "descriptive": descriptive, "binary": True}
        # ADBC fixes each column's type from the first rows it sees, and a run of
        # NULLs would fix it wrongly: lead with one row of the right types.
        types = ", ".join(f"{_TYPE_LITERAL[dtype]} AS {quote_name(name)}" for name, dtype in wire.items())
        clean = f"SELECT {types} UNION ALL SELECT * FROM ({self.select_sql(table, **options)}"
        raw = None
        if self.conforms(table):
            raw = f"SELECT {types} UNION ALL SELECT * FROM ({self.select_sql(table, clean=False, **options)}"

        def chunk(where: str) -> pl.DataFrame:
            frame = None
            if raw is not None:
                try:
                    frame = bulk.frame(f"{raw} {where})")
                except (pl.exceptions.ComputeError, pl.exceptions.PanicException):
                    frame = None  # a value of another storage class: judged below
                if frame is not None and any(frame.schema[n] != d for n, d in wire.items()):
                    frame = None
            if frame is None:
                try:
                    frame = bulk.frame(f"{clean} {where})")
                    frame = frame.select(pl.col(n).cast(d) for n, d in wire.items())
                except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:  # never a traceback
                    raise StoreError(f"{self.path}: cannot read the store ({_line(exc)})") from None
            return _finish(frame.slice(1), table)

        if shape.rowid is None or where is not None:
            yield chunk(where or "")
            return
        rows = chunk_rows or (CHUNK_ROWS if self.wal else ROLLBACK_CHUNK_ROWS)
        r = shape.rowid
        ranges = _ranges(lambda sql: bulk.frame(sql).row(0), shape, rows)
        where = (f"WHERE {r} BETWEEN {int(low)} AND {int(high)}" for low, high in ranges)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccanalytics-read") as pool:
            # At most `workers` chunks in flight: memory stays bounded however big the table.
            pending = deque(pool.submit(chunk, w) for w in islice(where, workers))
            while pending:
                frame = pending.popleft().result()
                for w in islice(where, 1):
                    pending.append(pool.submit(chunk, w))
                yield frame

    def settings(self) -> dict[str, str | None]:
        """The raw key/value pairs of the settings table (values as text, keys in lower case).

        Keys are matched without regard to ASCII case; of repeated keys the row
        with the greatest rowid wins.  A key that is not text is no key.
        """
        shape = self.shapes["settings"]
        if not shape.usable:
            return {}
        key, value = quote_name(shape.columns["key"]), quote_name(shape.columns["value"])
        order = f" ORDER BY {shape.rowid}" if shape.rowid else ""
        # A blob is a value, but never a valid one: it reads as text no check accepts.
        rows = self._query(
            f"""SELECT {key}, CASE typeof({value}) WHEN 'blob' THEN char(0) || 'blob'
            ELSE CAST({value} AS TEXT) END FROM {shape.quoted} WHERE typeof({key}) = 'text'{order}"""
        )
        return {_ascii_lower(k): v for k, v in rows}


class Bulk:
    """Connections for big reads through ADBC's SQLite driver, straight into polars.

    With ``transaction`` (a WAL store) each connection holds one read
    transaction for its whole life, begun before the caller's transaction
    (``Source.transaction`` checks that nothing was committed in between), so
    every chunk sees the same state.

    ADBC's driver carries its own copy of SQLite, and two copies in one
    process share POSIX locks without knowing it: when one copy releases a
    lock the other still counts on, it is gone for both (sqlite.org,
    "How To Corrupt", 2.2.1).  So a Bulk is only read from while the
    caller's transaction, on Python's copy, holds the same state's read lock
    (WAL), and never on a rollback-journal store, whose locks are on the
    file itself: there the source's own connection reads (``read_chunks``).
    """

    def __init__(self, source: Source, *, transaction: bool, connections: int = 2) -> None:
        import adbc_driver_manager._lib as adbc
        import adbc_driver_sqlite

        self.source = source
        self.transaction = transaction
        self._open: list = []
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        try:
            for _ in range(connections):
                database = adbc_driver_sqlite.connect(_uri(source.path))
                connection = adbc.AdbcConnection(database)
                self._open.append((database, connection))
                self._update(connection, f"PRAGMA busy_timeout = {_BUSY_MS}")
                if transaction:
                    self._update(connection, "BEGIN")
                    self._run(connection, "SELECT count(*) FROM sqlite_master")
                self._free.put(connection)
        except BaseException:
            self.close()
            raise

    def _update(self, connection: object, sql: str) -> None:
        import adbc_driver_manager._lib as adbc

        with adbc.AdbcStatement(connection) as statement:
            statement.set_sql_query(sql)
            statement.execute_update()

    def _run(self, connection: object, sql: str) -> pl.DataFrame:
        import adbc_driver_manager._lib as adbc

        with adbc.AdbcStatement(connection) as statement:
            statement.set_sql_query(sql)
            stream, _ = statement.execute_query()
            return pl.DataFrame(stream)

    def frame(self, sql: str) -> pl.DataFrame:
        """One query's rows; a store error (malformed pages, a lock held too long) raises ``StoreError``.

        A polars ``ComputeError`` over a value of an unexpected type is left
        to the caller, which reads the range again with the cleaning SQL.
        """
        from adbc_driver_manager import Error as AdbcError

        connection = self._free.get()
        try:
            return self._run(connection, sql)
        except AdbcError as exc:
            raise StoreError(f"{self.source.path}: cannot read the store ({_line(exc)})") from None
        except pl.exceptions.ComputeError as exc:
            if "Type mismatch" in str(exc):
                raise
            raise StoreError(f"{self.source.path}: cannot read the store ({_line(exc)})") from None
        finally:
            self._free.put(connection)

    def close(self) -> None:
        for database, connection in reversed(self._open):
            with suppress(Exception):  # closing a read-only connection cannot lose anything
                connection.close()
                database.close()
        self._open = []


def _ranges(
    value: Callable[[str], tuple], shape: TableShape, rows: int, upto: int | None = None
) -> Iterator[tuple[int, int]]:
    """Inclusive rowid ranges of at most ``rows`` rows each, covering the table (up to the rowid ``upto``).

    Ranges run from the actual least to the greatest rowid (negative and huge
    rowids alike); when rowids are sparse, each range is cut at the
    ``rows``-th rowid instead, so no range is empty.  ``value`` runs a query
    and gives its first row.
    """
    t, r = shape.quoted, shape.rowid
    # Two subqueries: each is one seek in the b-tree (a WHERE would make SQLite scan).
    low, high = value(f"SELECT (SELECT min({r}) FROM {t}) AS low, (SELECT max({r}) FROM {t}) AS high")
    if low is None:
        return
    if upto is not None:
        high = min(high, upto)
        if high < low:
            return
    if (high - low) // rows < _MAX_RANGES:
        for start in range(low, high + 1, rows):
            yield start, min(start + rows - 1, high)
        return
    while True:
        (end,) = value(
            f"SELECT max(x) AS x FROM (SELECT {r} AS x FROM {t} WHERE {r} BETWEEN {int(low)} AND {int(high)} "
            f"ORDER BY {r} LIMIT {rows})"
        )
        if end is None:
            return
        yield low, end
        if end >= high:
            return
        low = end + 1


def _finish(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """A chunk read as bytes, in the contract's dtypes: texts decoded, times bounded."""
    decoded = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Binary:
            decoded.append(_decode_texts(frame[name], strict=name in _STRICT[table]))
    return _bounded_times(frame.with_columns(decoded) if decoded else frame)


def _decode_texts(values: pl.Series, strict: bool) -> pl.Series:
    """Bytes as text; invalid UTF-8 with replacement characters, or as ``INVALID_TEXT`` when ``strict``."""
    try:
        return values.cast(pl.String)
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError):
        pass
    texts = []
    for value in values.to_list():
        try:
            texts.append(None if value is None else value.decode())
        except UnicodeDecodeError:
            texts.append(INVALID_TEXT if strict else value.decode("utf-8", "replace"))
    return pl.Series(values.name, texts, dtype=pl.String)


def _bounded_times(frame: pl.DataFrame) -> pl.DataFrame:
    """A ``ts_ms`` outside years 1-9999 has no usable time: it reads as the least integer, which no check accepts."""
    if "ts_ms" not in frame.columns:
        return frame
    ts = pl.col("ts_ms")
    return frame.with_columns(
        pl.when(ts.is_between(MIN_TS_MS, MAX_TS_MS) | ts.is_null()).then(ts).otherwise(pl.lit(_TIME_SENTINEL))
    )


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# Long texts of calls a bulk read may spare, and what else a spared value must be.
_SPARED_TEXTS = {"request_id": True, "api_name": False}  # whether an empty text is judged bad
_STRICT = {name: {c.name for c in t.columns if c.strict} for name, t in TABLES.items()}
_TYPE_LITERAL = {pl.Int64: "0", pl.Float64: "0.5", pl.Binary: "X''"}
_AFFINITIES = {pl.Int64: ("INTEGER",), pl.Float64: ("REAL", "NUMERIC")}


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
