"""A store file's read-only connection: the file's identity, one state per transaction, the tables' shapes.

Every query goes through a connection opened with ``mode=ro``.  Names are
matched without regard to case (as SQLite folds them) and always quoted;
text that is not UTF-8 is decoded with replacement characters and counted.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ccanalytics.contract import STORE_TABLES, quote_name
from ccanalytics.errors import StoreError
from ccanalytics.store.bulk import Bulk
from ccanalytics.store.file import BUSY_MS, check_file, one_line, uri

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator

__all__ = ["Connection", "Invalid", "TableShape", "ascii_lower"]

# The names a rowid answers to, unless a column took them.
_ROWID_NAMES = ("rowid", "_rowid_", "oid")


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


class Invalid(str):
    """Text that was not valid UTF-8, decoded with replacement characters."""


def ascii_lower(text: str) -> str:
    """Lower case as SQLite folds names: ASCII letters only.

    Examples
    --------
    >>> ascii_lower("CALLS_Ä")
    'calls_Ä'
    """
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class Connection:
    """A read-only connection to one store file, refused in one line when the file is no store.

    Examples
    --------
    >>> import tempfile, os
    >>> from ccanalytics.contract import create_store
    >>> path = os.path.join(tempfile.mkdtemp(), "store.db")
    >>> create_store(path)
    >>> connection = Connection(path)
    >>> connection.shapes["calls"].usable, connection.shapes["events"].rowid
    (True, 'rowid')
    >>> connection.close()
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        check_file(self.path)
        self.invalid_texts = 0
        try:
            self.identity = self._stat_identity()
            self._files = self._fingerprint()
            self._seen_version: int | None = None  # data_version in this connection's last transaction
            self.con = self._connect()
            self.shapes = self._read_shapes()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: is not a readable SQLite database ({one_line(exc)})") from None
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
            return Invalid(data.decode("utf-8", "replace"))

    def _connect(self) -> sqlite3.Connection:
        con = sqlite3.connect(uri(self.path), uri=True, check_same_thread=False, isolation_level=None)
        con.text_factory = self._decode
        con.execute(f"PRAGMA busy_timeout = {BUSY_MS}")
        self.wal = con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
        return con

    def _fingerprint(self) -> tuple:
        found: list[tuple[int, int, int] | None] = []
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
            before = self._query("PRAGMA data_version")[0][0]
            if files != self._files:
                if self._must_reconnect(files, before):
                    self.con.close()
                    self.con = self._connect()
                    before = self._query("PRAGMA data_version")[0][0]
                self._files = files
            reader = Bulk(self.path, transaction=self.wal) if bulk else None
            try:
                self._query("BEGIN")
                self._query("SELECT count(*) FROM sqlite_master")  # the state is taken here
                version = self._seen_version = self._query("PRAGMA data_version")[0][0]
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

    def _must_reconnect(self, files: tuple, version: int) -> bool:
        """Whether the file's change (``files``, its fingerprint now) needs a new connection.

        A commit this connection saw (``data_version`` moved) explains a grown
        file or WAL; if it saw none, it may watch no shared WAL index (see
        docs/design.md).  A WAL that appeared or went (the journal mode may
        have changed) or another file at the path always needs one.
        Reconnecting on every append would cost each refresh a connection and
        its prepared statements.
        """
        old = self._files
        exists = [f is not None for f in files] != [f is not None for f in old]
        return exists or files[0] is None or files[0][0] != old[0][0] or version == self._seen_version

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
        found = {ascii_lower(name): (name, kind, sql or "") for name, kind, sql in rows}
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
                shapes[name] = TableShape(name, True, actual, broken=one_line(exc))
                continue
            columns = {ascii_lower(r[1]): r[1] for r in info}
            self.declared[name] = {ascii_lower(r[1]): r[2] or "" for r in info}
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

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self.con.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot read the store ({one_line(exc)})") from None
