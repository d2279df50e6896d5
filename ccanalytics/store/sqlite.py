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

The file and its connection are ``connection`` (``Source`` extends it), the
bulk reads ``bulk``; here are the queries that make rows clean.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import TABLES, quote_name
from ccanalytics.errors import StoreError
from ccanalytics.store.bulk import Bulk
from ccanalytics.store.connection import Connection, TableShape, ascii_lower
from ccanalytics.store.file import one_line
from ccanalytics.store.ranges import rowid_ranges
from ccanalytics.store.values import AFFINITIES, affinity, columns, finish, owned, wire

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

    from polars._typing import PolarsDataType

__all__ = ["RID", "Bulk", "Source", "TableShape"]  # Bulk and TableShape: from ``bulk`` and ``connection``

RID = "_rid"
# Rows read per bulk query (three are in memory at once: 50 000 rather than 100 000 cut a 10 M-call
# first read's peak by 40 MB for 4 % more CPU, 25 000 by 17 MB more for no CPU measured; 12 500 cut
# nothing more and took 40 % longer); on a rollback-journal store every query holds a lock that
# makes a writer wait, so they are kept short there.
CHUNK_ROWS = 25_000
ROLLBACK_CHUNK_ROWS = 5_000


class Source(Connection):
    """A read-only connection to one store file and its clean rows.

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

    def __init__(self, path: str | os.PathLike[str], *, chunk_rows: int | None = None) -> None:
        super().__init__(path)
        # Rows per bulk query (None: CHUNK_ROWS, or ROLLBACK_CHUNK_ROWS on a rollback-journal store).
        self.chunk_rows = chunk_rows

    def _rows_per_chunk(self, given: int | None) -> int:
        return given or self.chunk_rows or (CHUNK_ROWS if self.wal else ROLLBACK_CHUNK_ROWS)

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
        unread: tuple[str, ...] = (),
        plain: bool = False,
    ) -> str:
        """The query that yields a table's clean rows (see ``contract``), or its raw numbers.

        With ``texts_from``, the calls' long texts (``request_id``, ``api_name``)
        are read only for calls from that time on; earlier ones get ``'?'``
        where a valid ASCII text is, so the rules still judge them, at a
        fraction of the memory (see ``Store._read_history``).  With
        ``binary``, texts are read as blobs (for ADBC: see ``Bulk``).
        ``unread`` names columns no rule judges that the reader does not
        need: they read as NULL (the calls' ``consumer`` when no view counts consumers).
        With ``plain``, every value is read as stored, texts too (the reader judges their
        storage class by their Python type: see ``read``).
        """
        shape = self.shapes[table]
        items = [f"{shape.rowid or 'NULL'} AS {RID}"]
        contract = TABLES[table]
        for column in (*contract.columns, *(contract.descriptive if descriptive else ())):
            actual = shape.columns.get(column.name)
            if column.name in unread:
                value = "NULL"
            elif plain and actual is not None:
                value = quote_name(actual)
            else:
                value = column.expression(actual, clean=clean, binary=binary)
            if texts_from is not None and actual is not None and column.name in _SPARED_TEXTS:
                q, ts = quote_name(actual), quote_name(shape.columns["ts_ms"])
                # Only text that is printable ASCII is spared: the rest is read, and judged.  length() stops
                # at a NUL; GLOB reads a byte that is not UTF-8 as U+FFFD (length() counts it as a character).
                valid = f"typeof({q}) = 'text' AND length({q}) = length(CAST({q} AS BLOB)) AND {q} NOT GLOB '*[^ -~]*'"
                if _SPARED_TEXTS[column.name]:
                    valid += f" AND {q} <> ''"
                spare = "X'3F'" if binary else "'?'"
                value = f"CASE WHEN {ts} >= {int(texts_from)} THEN {value} WHEN {valid} THEN {spare} ELSE {value} END"
            items.append(f"{value} AS {quote_name(column.name)}")
        return f"SELECT {', '.join(items)} FROM {shape.quoted}"

    def schema(self, table: str, descriptive: bool = False) -> dict[str, PolarsDataType]:
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
        unread: tuple[str, ...] = (),
    ) -> pl.DataFrame:
        """Clean rows of a table: all, those with ``rowid > after_rowid``, or those ``where`` says.

        First every value is read as stored, texts as Python's SQLite decodes them: a value of
        another storage class fails its column (``values.columns``), a text that is not UTF-8
        fails the query.  Then the clean query judges every value, its texts coming as blobs,
        decoded by polars (``values.finish``).  Most reads never get there: reading the texts
        as they are stored spares SQLite a ``typeof()`` and a cast per text, and polars a decoding.
        """
        if after_rowid is not None:
            where, params = f"{self.shapes[table].rowid} > ?", (after_rowid,)
        tail = "" if where is None else f" WHERE {where}"
        schema = self.schema(table, descriptive)
        sql = self.select_sql(
            table, clean=False, descriptive=descriptive, texts_from=texts_from, unread=unread, plain=True
        )
        stored = self._query_texts(sql + tail, params)
        if stored is not None:
            try:
                return finish(columns(stored, schema), table)
            except TypeError:
                pass
        sql = self.select_sql(table, descriptive=descriptive, texts_from=texts_from, binary=True, unread=unread)
        return finish(columns(self._query(sql + tail, params), wire(schema)), table)

    def _query_texts(self, sql: str, params: tuple) -> list[tuple] | None:
        """Rows with their texts decoded by Python's SQLite itself; None when one is not UTF-8.

        Any other failure is left to the clean query, which says what it was (``StoreError``).
        """
        self.con.text_factory = str
        try:
            return self.con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError:
            return None
        finally:
            self.con.text_factory = self._decode

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
            affinity(declared[c.name]) in AFFINITIES[c.dtype]
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
        unread: tuple[str, ...] = (),
    ) -> Iterator[pl.DataFrame]:
        """All clean rows of a big table, in rowid ranges read by ``workers`` threads (ADBC, into Arrow).

        ``bulk`` gives the connections (one state of the file, see
        ``transaction``); without it the read opens its own.  On a
        rollback-journal store without ``bulk`` the rows are read through this
        source's own connection instead (see ``Bulk`` for why), in ranges up to
        the rowid ``upto`` when given: one short query each, so a writer never
        waits long.  ``texts_from``, ``descriptive`` and ``unread``: see ``select_sql``.
        """
        if bulk is None and (not self.wal or self.con.in_transaction):
            # Also inside a caller's transaction: its state is the one to read.
            shape = self.shapes[table]
            if shape.rowid is None:
                yield self.read(table, descriptive=descriptive, texts_from=texts_from, unread=unread)
                return
            rows = self._rows_per_chunk(chunk_rows)
            for low, high in rowid_ranges(lambda sql: self._query(sql)[0], shape, rows, upto):
                where = f"{shape.rowid} BETWEEN {int(low)} AND {int(high)}"
                yield self.read(table, where=where, descriptive=descriptive, texts_from=texts_from, unread=unread)
            return
        if bulk is None:  # a WAL store: a transaction of this source's own holds the state (see ``Bulk``)
            with self.transaction(bulk=True) as own:
                if own is None:  # the file kept changing: read inside this transaction, on this connection
                    yield from self.read_chunks(
                        table,
                        chunk_rows=chunk_rows,
                        texts_from=texts_from,
                        descriptive=descriptive,
                        upto=upto,
                        unread=unread,
                    )
                    return
                try:
                    yield from self._chunks(
                        table, own, chunk_rows=chunk_rows, texts_from=texts_from, descriptive=descriptive, unread=unread
                    )
                finally:
                    own.close()
            return
        yield from self._chunks(
            table,
            bulk,
            chunk_rows=chunk_rows,
            workers=workers,
            texts_from=texts_from,
            descriptive=descriptive,
            unread=unread,
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
        unread: tuple[str, ...] = (),
    ) -> Iterator[pl.DataFrame]:
        shape = self.shapes[table]
        binary = wire(self.schema(table, descriptive))
        # ADBC fixes each column's type from the first rows it sees, and a run of
        # NULLs would fix it wrongly: lead with one row of the right types.
        types = ", ".join(f"{_TYPE_LITERAL[dtype]} AS {quote_name(name)}" for name, dtype in binary.items())

        def select(clean: bool) -> str:
            query = self.select_sql(
                table, clean=clean, texts_from=texts_from, descriptive=descriptive, binary=True, unread=unread
            )
            return f"SELECT {types} UNION ALL SELECT * FROM ({query}"

        clean = select(clean=True)
        raw = select(clean=False) if self.conforms(table) else None

        def chunk(where: str) -> pl.DataFrame:
            frame = None
            if raw is not None:
                try:
                    frame = bulk.frame(f"{raw} {where})")
                except (pl.exceptions.ComputeError, pl.exceptions.PanicException):
                    frame = None  # a value of another storage class: judged below
                if frame is not None and any(frame.schema[n] != d for n, d in binary.items()):
                    frame = None
            if frame is None:
                try:
                    frame = bulk.frame(f"{clean} {where})")
                    frame = frame.select(pl.col(n).cast(d) for n, d in binary.items())
                except (pl.exceptions.PolarsError, pl.exceptions.PanicException) as exc:  # never a traceback
                    raise StoreError(f"{self.path}: cannot read the store ({one_line(exc)})") from None
            frame = finish(frame.slice(1), table)
            # Rows from `texts_from` on are kept: their texts get buffers of their own, here in the reading thread.
            return frame if texts_from is None else owned(frame, texts_from)

        if shape.rowid is None or where is not None:
            yield chunk(where or "")
            return
        rows = self._rows_per_chunk(chunk_rows)
        r = shape.rowid
        ranges = rowid_ranges(lambda sql: bulk.frame(sql).row(0), shape, rows)
        wheres = (f"WHERE {r} BETWEEN {int(low)} AND {int(high)}" for low, high in ranges)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccanalytics-read") as pool:
            # At most `workers` chunks in flight: memory stays bounded however big the table.
            pending = deque(pool.submit(chunk, w) for w in islice(wheres, workers))
            while pending:
                frame = pending.popleft().result()
                for w in islice(wheres, 1):
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
        return {ascii_lower(k): v for k, v in rows}


# Long texts of calls a bulk read may spare, and what else a spared value must be.
_SPARED_TEXTS = {"request_id": True, "api_name": False}  # whether an empty text is judged bad
_TYPE_LITERAL: dict[PolarsDataType, str] = {pl.Int64: "0", pl.Float64: "0.5", pl.Binary: "X''"}
