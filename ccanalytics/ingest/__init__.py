"""``ccanalytics ingest``: add calls from CSV, NDJSON and Parquet files to a store.

A file is added **all or nothing**.  Its rows are read in batches (memory stays
bounded however large the file), each batch is cleaned to the contract's types
and judged by the contract's rules (``contract.first_broken_rule``, the same
rules that judge rows already in a store), and the good rows are *staged* in a
temporary table of this connection.  Only when the whole file is good are the
staged rows copied into ``calls`` in one short ``BEGIN IMMEDIATE`` transaction,
so a control center writing to the same store waits for the copy, not for the
parsing, and a bad file leaves the store untouched.  Rows whose ``request_id``
is already in the store are skipped: running ingest twice adds nothing.

How values are read (the spec is silent; these are the rules):

- A value is read from its *text*: a CSV cell; a JSON string's content or
  a JSON number as written; a Parquet value as polars prints it.  Integer
  columns take whole decimal numbers only (``12`` or ``"12"``; not ``12.0``,
  ``1e3``, ``1.5`` or ``true``); ``latency_ms`` takes any decimal number;
  text columns take any value.  A value that does not read breaks its
  column's rule, exactly as a value of the wrong storage class does in a
  store (for ``latency_ms``, where null is legal, it reads as -1).
- Locations: CSV ``line N`` is the physical line (the header is line 1, a
  quoted field may span lines); NDJSON ``line N`` is the physical line;
  Parquet ``row N`` counts rows from 1.  Blank lines are skipped but counted.
- A missing optional column takes its default; in NDJSON an absent key is a
  missing column for that line, and since a JSON ``null`` cannot be told from
  an absent key, ``null`` in ``price_micro``, ``revenue_micro`` or ``demo``
  takes the default too.  In CSV and Parquet an empty value in a column that
  is present is null, and null breaks the rule (as in a store).
- Columns that are not the contract's are ignored; for CSV and Parquet the
  summary line names them (a typo like ``latency`` would otherwise drop data
  silently).
- A ``request_id`` that appears twice in one file refuses the file, naming
  both lines.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import CALLS, Column, create_store, first_broken_rule
from ccanalytics.errors import CCError, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["IngestError", "IngestResult", "ingest", "ingest_file"]

BATCH_ROWS = 20_000
"""Rows (lines) read per batch: bounds memory, and the granularity of the progress bar."""

SHOWN_PROBLEMS = 3
"""How many bad rows a refusal names."""

# Every column of the `calls` table, in the DDL's order: the contract's judged
# columns plus the descriptive ones that never make a row bad.
COLUMNS: tuple[Column, ...] = (
    *CALLS.columns,
    *(
        Column(name, pl.String, ("text",), required=False)
        for name in ("tx_hash", "delivery", "consumer")
        if name not in CALLS.schema
    ),
)
_BY_NAME = {c.name: c for c in COLUMNS}
_DEFAULTED = tuple(c.name for c in COLUMNS if c.default is not None)

MAX_TEXT_CHARS = 1000
"""The longest text value a row may hold (an api_name, a tx_hash…); a longer one refuses its row."""

# Parsing a CSV batch whose quotes never close would swallow the rest of the
# file; past this many bytes the batch is handed to the parser as it is.
_MAX_RECORD_BYTES = 64 * 1024 * 1024


class IngestError(CCError):
    """A file was refused: nothing of it was added.  The message names the file and why."""


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one file did: rows added, rows skipped (their ``request_id`` was already stored).

    ``ignored_columns`` names the file's columns that were not stored (not part of equality).
    """

    added: int
    skipped: int
    ignored_columns: tuple[str, ...] = field(default=(), compare=False, repr=False)


class _Unreadable(Exception):
    """The file stops being its format at ``at`` (a line or row number; None when unknown)."""

    def __init__(self, at: int | None, text: str) -> None:
        super().__init__(text)
        self.at = at
        self.text = text


# -- turning a file's values into the contract's types ------------------------


def _is_nested(dtype: pl.DataType) -> bool:
    return dtype.is_nested() or dtype == pl.Binary or dtype == pl.Object


def _as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.String:
        return col
    if _is_nested(dtype):
        return pl.lit(None, dtype=pl.String)
    return col.cast(pl.String, strict=False)


def _read_value(column: Column, dtype: pl.DataType | None) -> pl.Expr:
    """The expression that reads ``column`` of a raw batch as the contract's dtype.

    A value that is present but does not read becomes ``null`` — or, for
    ``latency_ms`` where null is legal, ``-1``, which breaks its rule.
    """
    name = column.name
    if dtype is None:
        return pl.lit(column.default, dtype=column.dtype).alias(name)
    col = pl.col(name)
    if column.dtype == pl.String:
        value = _as_text(name, dtype)
    elif column.dtype == pl.Int64:
        # Floats print with a fraction or exponent ("12.0", "1e+20"), booleans as
        # "true": through their text, none of them reads as an integer.
        value = (
            col.cast(pl.Int64, strict=False)
            if (dtype.is_integer() or dtype in (pl.String, pl.Null))
            else _as_text(name, dtype).cast(pl.Int64, strict=False)
        )
    else:
        number = (
            col.cast(pl.Float64, strict=False)
            if (dtype.is_numeric() or dtype in (pl.String, pl.Null))
            else _as_text(name, dtype).cast(pl.Float64, strict=False)
        )
        value = pl.when(col.is_not_null() & number.is_null()).then(pl.lit(-1.0)).otherwise(number)
    return value.cast(column.dtype).alias(name)


def _clean(raw: pl.DataFrame) -> pl.DataFrame:
    """The contract's columns of ``raw`` in the contract's dtypes, with ``_at`` and the rule broken.

    Two rules only ingest knows come after the contract's: a ``status_code``
    that is present but not a whole number (``200.0``, ``"abc"``) is "not an
    integer" rather than "outside 100..599", and a text value over
    ``MAX_TEXT_CHARS`` characters refuses its row.
    """
    schema = raw.schema
    status = _BY_NAME["status_code"]
    unread = (
        (pl.col("status_code").is_not_null() & _read_value(status, schema["status_code"]).is_null())
        if "status_code" in schema
        else pl.lit(False)
    )
    too_long = [
        pl.when(pl.col(c.name).str.len_chars() > MAX_TEXT_CHARS).then(
            pl.lit(f"{c.name} is longer than {MAX_TEXT_CHARS} characters")
        )
        for c in COLUMNS
        if c.dtype == pl.String
    ]
    rule = first_broken_rule(CALLS)
    return (
        raw.select(pl.col("_at"), unread.alias("_unread"), *(_read_value(c, schema.get(c.name)) for c in COLUMNS))
        .with_columns(
            pl.when(pl.col("_unread") & (rule == "status_code outside 100..599"))
            .then(pl.lit("status_code is not an integer"))
            .otherwise(pl.coalesce(rule, *too_long))
            .alias("_rule")
        )
        .drop("_unread")
    )


# -- readers: each yields raw batches with an `_at` column -------------------


@dataclass
class _Reader:
    """A file opened as one of the formats; ``batches()`` yields raw frames with ``_at``.

    ``present`` are the file's contract columns and ``ignored`` its other
    columns, both known once the first batch is asked for (empty for NDJSON,
    whose lines each have their own keys).
    """

    path: Path
    batch_rows: int
    unit: str = "line"
    present: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    progress_total: int = 0
    progress_done: int = 0

    def batches(self) -> Iterator[pl.DataFrame]:
        raise NotImplementedError

    def _take_columns(self, names: list[str]) -> None:
        """Refuse a file without a required column or with one twice; note the columns to ignore."""
        missing = [column for column in CALLS.required if column not in names]
        if missing:  # every one at once: the user fixes the file in one go
            raise _Unreadable(None, f"lacks {'column' if len(missing) == 1 else 'columns'} {', '.join(missing)}")
        for name in names:
            if name in _BY_NAME and names.count(name) > 1:
                raise _Unreadable(None, f"column {name} appears twice")
        self.present = tuple(n for n in names if n in _BY_NAME)
        self.ignored = tuple(n for n in names if n not in _BY_NAME)


class _CsvReader(_Reader):
    """CSV with a header line; every cell is text.

    The file is cut into batches of whole records by physical lines: a batch
    is extended while it holds an odd number of quote characters (a quoted
    field is still open).  A record's line is its batch's first line plus the
    records and the newlines inside quoted fields before it.
    """

    def __init__(self, path: Path, batch_rows: int) -> None:
        super().__init__(path, batch_rows, progress_total=path.stat().st_size)

    def batches(self) -> Iterator[pl.DataFrame]:
        with self.path.open("rb") as file:
            first = file.readline()
            if not first:
                raise _Unreadable(None, "empty file (no header line)")
            header, _ = _whole_records(file, [first.removeprefix(b"\xef\xbb\xbf")])
            names = _header_names(header)
            self._take_columns(names)
            self.progress_done += sum(map(len, header))
            # Positional keys: the parser never renames or merges columns.
            keys = [f"_{i}" for i in range(len(names))]
            wanted = [pl.col(k).alias(n) for k, n in zip(keys, names, strict=True) if n in self.present]
            inner = pl.sum_horizontal(
                pl.col(k).str.count_matches("\n", literal=True).fill_null(0).cast(pl.Int64) for k in keys
            )
            blank = pl.all_horizontal(pl.col(k).is_null() for k in keys)
            line = 1 + len(header)
            while lines := list(itertools.islice(file, self.batch_rows)):
                lines, data = _whole_records(file, lines)
                try:
                    frame = pl.read_csv(
                        data,
                        has_header=False,
                        schema=dict.fromkeys(keys, pl.String),
                        missing_columns="insert",  # a batch may start with a short or blank line
                        raise_if_empty=False,
                    )
                except pl.exceptions.PolarsError as exc:
                    raise _locate_csv_problem(lines, line, len(names), exc) from None
                frame = frame.with_columns(inner.alias("_inner"))
                if frame.height + frame["_inner"].sum() != len(lines):
                    raise _Unreadable(line, "not valid CSV (its records do not match its lines)")
                frame = frame.with_columns(
                    (line + pl.int_range(pl.len()) + pl.col("_inner").cum_sum() - pl.col("_inner")).alias("_at")
                )
                line += len(lines)
                self.progress_done += len(data)
                yield frame.filter(~blank).select("_at", *wanted)


def _whole_records(file: io.BufferedIOBase, lines: list[bytes]) -> tuple[list[bytes], bytes]:
    """``lines`` extended with the file's next lines until no quoted field is left open; and their bytes."""
    data = b"".join(lines)
    quotes = data.count(b'"')
    more = []
    size = len(data)
    while quotes % 2 and size < _MAX_RECORD_BYTES:
        line = file.readline()
        if not line:
            break
        more.append(line)
        quotes += line.count(b'"')
        size += len(line)
    return [*lines, *more], data + b"".join(more)


def _header_names(header: list[bytes]) -> list[str]:
    try:
        text = b"".join(header).decode("utf-8")
    except UnicodeDecodeError:
        raise _Unreadable(1, "not UTF-8 text") from None
    if "\0" in text:
        raise _Unreadable(1, "not text (it holds NUL bytes)")
    try:
        return next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise _Unreadable(1, f"not valid CSV ({exc})") from None


def _locate_csv_problem(lines: list[bytes], first: int, width: int, exc: Exception) -> _Unreadable:
    """Find the line of a batch the CSV parser choked on (rare: only for refused files).

    Walks the batch with RFC 4180's rules: a quote may only open a field or
    close it (doubled inside it), and a record may not have more fields than
    the header.
    """
    texts = []
    for number, raw in enumerate(lines, first):
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return _Unreadable(number, "not UTF-8 text")
    quoted, record, fields = False, first, 1
    for number, text in enumerate(texts, first):
        if not quoted:
            record, fields = number, 1
        if quoted or '"' in text:
            at_start, closed, i = not quoted, False, 0
            while i < len(text):
                char = text[i]
                if quoted:
                    if char == '"' and text[i + 1 : i + 2] == '"':
                        i += 1
                    elif char == '"':
                        quoted, closed = False, True
                elif char == ",":
                    fields, at_start, closed = fields + 1, True, False
                elif char in "\r\n":
                    pass
                elif closed:
                    return _Unreadable(number, "not valid CSV (text after a closing quote)")
                elif char == '"' and not at_start:
                    return _Unreadable(number, "not valid CSV (a quote inside an unquoted field)")
                elif char == '"':
                    quoted = True
                else:
                    at_start = False
                i += 1
        else:
            fields = text.count(",") + 1
        if not quoted and fields > width:
            return _Unreadable(record, f"{fields} fields, the header has {width}")
    if quoted:
        return _Unreadable(record, "not valid CSV (a quoted field is never closed)")
    return _Unreadable(first, f"not valid CSV ({_first_line(exc)})")


_NDJSON_SCHEMA = {c.name: c.dtype for c in COLUMNS}


class _NdjsonReader(_Reader):
    """One JSON object per line.

    Fast path: polars reads a batch with the contract's schema, which succeeds
    only when every value already has its column's JSON type.  Otherwise the
    batch is read again value by value as text (``json_path_match`` keeps
    ``12.0`` apart from ``12``), so a wrong value breaks its rule on its line.
    """

    def __init__(self, path: Path, batch_rows: int) -> None:
        super().__init__(path, batch_rows, progress_total=path.stat().st_size)

    def batches(self) -> Iterator[pl.DataFrame]:
        first = 1
        with self.path.open("rb") as file:
            while lines := list(itertools.islice(file, self.batch_rows)):
                at = [first + i for i, line in enumerate(lines) if not line.isspace()]
                kept = [lines[n - first] for n in at]
                first += len(lines)
                self.progress_done += sum(map(len, lines))
                if not kept:
                    continue
                raw = self._typed(kept)
                if raw is None or raw.height != len(kept):
                    raw = self._as_text(kept, at)
                raw = self._without_containers(raw, kept)
                defaults = [pl.col(n).fill_null(pl.lit(_BY_NAME[n].default).cast(raw.schema[n])) for n in _DEFAULTED]
                yield raw.with_columns(*defaults, pl.Series("_at", at, dtype=pl.Int64))

    @staticmethod
    def _without_containers(raw: pl.DataFrame, kept: list[bytes]) -> pl.DataFrame:
        """An object or a list in a text column reads as no value, as a Parquet list does.

        Both readers give such a value as its JSON text; only lines whose text
        value starts with ``{`` or ``[`` are parsed again to tell an object from
        a string that merely starts so.
        """
        text = [c.name for c in COLUMNS if c.dtype == pl.String and c.name in raw.columns]
        looks = pl.any_horizontal(pl.col(n).str.starts_with("{") | pl.col(n).str.starts_with("[") for n in text)
        suspects = raw.with_row_index("_i").filter(looks)["_i"].to_list()
        if not suspects:
            return raw
        containers: dict[str, list[int]] = {n: [] for n in text}
        for i in suspects:
            try:
                value = json.loads(kept[i])
            except ValueError:
                continue
            for name in text:
                if isinstance(value, dict) and isinstance(value.get(name), (dict, list)):
                    containers[name].append(i)
        index = pl.int_range(pl.len())
        return raw.with_columns(
            pl.when(index.is_in(containers[n])).then(pl.lit(None, dtype=pl.String)).otherwise(pl.col(n)).alias(n)
            for n in text
        )

    @staticmethod
    def _typed(kept: list[bytes]) -> pl.DataFrame | None:
        try:
            return pl.read_ndjson(io.BytesIO(b"".join(kept)), schema=_NDJSON_SCHEMA)
        except pl.exceptions.PolarsError:
            return None

    @staticmethod
    def _as_text(kept: list[bytes], at: list[int]) -> pl.DataFrame:
        texts = []
        for number, raw in zip(at, kept, strict=True):
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise _Unreadable(number, "not UTF-8 text") from None
        lines = pl.DataFrame({"line": texts, "_at": at}, schema={"line": pl.String, "_at": pl.Int64})
        root = pl.col("line").str.json_path_match("$")
        checked = lines.select(
            "_at",
            pl.when(root.is_null() & (pl.col("line").str.strip_chars() != "null"))
            .then(pl.lit("not valid JSON"))
            .when(root.is_null() | ~root.str.starts_with("{"))
            .then(pl.lit("not a JSON object"))
            .alias("problem"),
        ).filter(pl.col("problem").is_not_null())
        if checked.height:
            number, problem = checked.row(0)
            raise _Unreadable(number, problem)
        return lines.select(pl.col("line").str.json_path_match(f"$.{c.name}").alias(c.name) for c in COLUMNS)


class _ParquetReader(_Reader):
    """Parquet, read in record batches with pyarrow; each column keeps the file's type."""

    def __init__(self, path: Path, batch_rows: int) -> None:
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, …: all mean "not Parquet"
            raise _Unreadable(None, f"not a Parquet file ({_first_line(exc)})") from None
        super().__init__(path, batch_rows, unit="row", progress_total=self._file.metadata.num_rows)

    def batches(self) -> Iterator[pl.DataFrame]:
        try:
            self._take_columns(list(self._file.schema_arrow.names))
            batches = self._file.iter_batches(batch_size=self.batch_rows, columns=list(self.present))
            row = 1
            while True:
                try:
                    batch = next(batches, None)
                except Exception as exc:  # a damaged page, found while reading
                    raise _Unreadable(row, f"unreadable Parquet data ({_first_line(exc)})") from None
                if batch is None:
                    return
                frame = pl.DataFrame(pl.from_arrow(batch))
                frame = frame.with_columns((row + pl.int_range(pl.len(), dtype=pl.Int64)).alias("_at"))
                row += frame.height
                self.progress_done += frame.height
                yield frame
        finally:
            self._file.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


_READERS = {".csv": _CsvReader, ".ndjson": _NdjsonReader, ".jsonl": _NdjsonReader, ".parquet": _ParquetReader}


# -- the store ----------------------------------------------------------------


def _open_store(db: str | Path) -> tuple[sqlite3.Connection, tuple[str, ...]]:
    """Open (or create) the store for writing; return it and the calls columns it has."""
    path = Path(db)
    try:
        if not path.exists():
            create_store(path)
        con = sqlite3.connect(path, isolation_level=None, timeout=30)
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: cannot open the store ({exc})") from None
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:  # an empty SQLite file (e.g. made by mktemp): give it the schema
            con.close()
            create_store(path)
            con = sqlite3.connect(path, isolation_level=None, timeout=30)
            tables = {"calls"}
        if "calls" not in tables:
            raise StoreError(f"{db}: not a ccanalytics store (it has no calls table)")
        have = {r[1] for r in con.execute("PRAGMA main.table_info(calls)")}
        for column in CALLS.required:
            if column not in have:
                raise StoreError(f"{db}: calls lacks column {column}")
        # Staging lives in this connection's temporary database: it never locks
        # the store, and on disk (not in memory) however large the file.  It is
        # never rolled back (a refused file's table is dropped), so it needs no journal.
        con.execute("PRAGMA temp_store = FILE")
        con.execute("PRAGMA temp.cache_size = -64000")
        con.execute("PRAGMA temp.journal_mode = OFF")
    except sqlite3.DatabaseError as exc:
        con.close()
        raise StoreError(f"{db}: not a SQLite store ({exc})") from None
    except BaseException:
        con.close()
        raise
    return con, tuple(c.name for c in COLUMNS if c.name in have)


_STAGE_DDL = (
    "CREATE TEMP TABLE ingest_staged (_at INTEGER NOT NULL, "
    + ", ".join(
        f"{c.name} {'TEXT' if c.dtype == pl.String else 'REAL' if c.dtype == pl.Float64 else 'INTEGER'}"
        + (" NOT NULL UNIQUE" if c.name == "request_id" else "")
        for c in COLUMNS
    )
    + ")"
)
_STAGE = (
    f"INSERT INTO temp.ingest_staged (_at, {', '.join(c.name for c in COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))}) ON CONFLICT (request_id) DO NOTHING"
)


def _stage(con: sqlite3.Connection, good: pl.DataFrame) -> list[tuple[int, int]]:
    """Stage a batch's good rows; return ``(at, first_at)`` for rows whose request_id came earlier."""
    rows = good.select("_at", *(c.name for c in COLUMNS))
    staged = con.executemany(_STAGE, rows.iter_rows()).rowcount
    if staged == rows.height:
        return []
    # Rare: only files that repeat a request_id get here.
    ids = rows["request_id"].unique().to_list()
    found = []
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        found += con.execute(
            f"SELECT request_id, _at FROM temp.ingest_staged WHERE request_id IN ({', '.join('?' * len(part))})",
            part,
        ).fetchall()
    first = pl.DataFrame(found, schema={"request_id": pl.String, "_first": pl.Int64}, orient="row")
    repeats = rows.join(first, on="request_id").filter(pl.col("_at") != pl.col("_first"))
    return list(repeats.select("_at", "_first").iter_rows())


def _copy_staged(con: sqlite3.Connection, db: str | Path, columns: tuple[str, ...]) -> int:
    """Copy the staged rows into ``calls`` in one transaction; return how many were new."""
    names = ", ".join(columns)
    con.execute("BEGIN IMMEDIATE")
    try:
        added = con.execute(
            f"INSERT INTO main.calls ({names}) SELECT {names} FROM temp.ingest_staged "
            "WHERE true ORDER BY rowid ON CONFLICT (request_id) DO NOTHING"
        ).rowcount
        con.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        _rollback(con)
        if "ON CONFLICT clause does not match" in str(exc):
            raise StoreError(f"{db}: calls.request_id is not unique in this store: cannot skip known calls") from None
        raise
    except BaseException:
        _rollback(con)
        raise
    return added


def _rollback(con: sqlite3.Connection) -> None:
    # SQLite may have rolled back already (a full disk does): a second ROLLBACK would
    # fail with "no transaction is active" and hide the real error.
    if con.in_transaction:
        con.execute("ROLLBACK")


def _disk_full(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed for want of space (SQLITE_FULL, or a write refused as too big)."""
    name = getattr(exc, "sqlite_errorname", "")
    return name == "SQLITE_FULL" or "database or disk is full" in str(exc)


# -- one file -----------------------------------------------------------------


class _Progress:
    """A one-line progress bar on stderr (only made when stderr is a terminal)."""

    def __init__(self) -> None:
        self._shown = 0.0

    def show(self, name: str, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if now - self._shown < 0.2 and not note:
            return
        self._shown = now
        share = min(done / total, 1.0) if total else 1.0
        bar = "#" * round(share * 30)
        sys.stderr.write(f"\r{name} [{bar:<30}] {share:4.0%}{note}")
        sys.stderr.flush()

    def clear(self) -> None:
        if self._shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self._shown = 0.0


def _ingest_one(
    con: sqlite3.Connection,
    db: str | Path,
    columns: tuple[str, ...],
    file: str | Path,
    batch_rows: int,
    progress: _Progress | None,
) -> IngestResult:
    name = str(file)
    path = Path(file)
    reader_type = _READERS.get(path.suffix.lower())
    if reader_type is None:
        raise IngestError(
            f"{name}: refused, nothing added: unknown file type {path.suffix or '(no extension)'} "
            "(expected .csv, .ndjson, .jsonl or .parquet)"
        )
    if not path.is_file():
        why = "not a file" if path.exists() else "no such file"
        raise IngestError(f"{name}: refused, nothing added: {why}")

    try:
        return _ingest_staged(con, db, columns, reader_type, path, batch_rows, name, progress)
    except sqlite3.Error as exc:
        if _disk_full(exc):
            raise IngestError(
                f"{name}: refused, nothing added: the disk is full (SQLITE_FULL); the store is unchanged"
            ) from None
        raise


def _ingest_staged(
    con: sqlite3.Connection,
    db: str | Path,
    columns: tuple[str, ...],
    reader_type: type[_Reader],
    path: Path,
    batch_rows: int,
    name: str,
    progress: _Progress | None,
) -> IngestResult:
    con.execute("DROP TABLE IF EXISTS temp.ingest_staged")
    con.execute(_STAGE_DDL)
    try:
        reader, problems = _stage_file(con, reader_type, path, batch_rows, name, progress)
        if problems:
            unit = reader.unit if reader else "line"
            said = "; ".join(text if at is None else f"{unit} {at}: {text}" for at, text in problems)
            raise IngestError(f"{name}: refused, nothing added: {said}")
        assert reader is not None
        staged = con.execute("SELECT count(*) FROM temp.ingest_staged").fetchone()[0]
        if progress is not None:
            progress.show(name, 1, 1, " storing…")
        added = _copy_staged(con, db, columns)
    finally:
        if progress is not None:
            progress.clear()
        con.execute("DROP TABLE IF EXISTS temp.ingest_staged")
    not_stored = tuple(c for c in reader.present if c not in columns)
    return IngestResult(added, staged - added, (*reader.ignored, *not_stored))


def _stage_file(
    con: sqlite3.Connection,
    reader_type: type[_Reader],
    path: Path,
    batch_rows: int,
    name: str,
    progress: _Progress | None,
) -> tuple[_Reader | None, list[tuple[int | None, str]]]:
    """Read, judge and stage a file's rows; return the reader and the first problems (none: all good).

    After the first problem the file is still read, without effect, until
    ``SHOWN_PROBLEMS`` problems are known or the file ends.
    """
    problems: list[tuple[int | None, str]] = []
    reader = None
    # One transaction on the temporary database only: the store stays unlocked.
    con.execute("BEGIN")
    try:
        reader = reader_type(path, batch_rows)
        for raw in reader.batches():
            judged = _clean(raw)
            bad = judged.filter(pl.col("_rule").is_not_null()).head(SHOWN_PROBLEMS)
            repeats = [
                (at, f"request_id repeats {reader.unit} {first}")
                for at, first in _stage(con, judged.filter(pl.col("_rule").is_null()))
            ]
            problems += sorted([*bad.select("_at", "_rule").iter_rows(), *repeats])[:SHOWN_PROBLEMS]
            if progress is not None:
                progress.show(name, reader.progress_done, reader.progress_total)
            if len(problems) >= SHOWN_PROBLEMS:
                break
    except _Unreadable as exc:
        problems.append((exc.at, exc.text))
    except OSError as exc:
        problems.append((None, f"cannot read it ({exc.strerror or exc})"))
    except pl.exceptions.PolarsError as exc:  # a type polars cannot hold, say
        problems.append((None, f"unreadable ({_first_line(exc)})"))
    finally:
        if con.in_transaction:  # a full disk may have ended it already
            con.execute("COMMIT")
    return reader, problems[:SHOWN_PROBLEMS]


# -- public -------------------------------------------------------------------


def ingest(
    db: str | Path, files: Iterable[str | Path], *, batch_rows: int = BATCH_ROWS, progress: bool = False
) -> Iterator[tuple[str, IngestResult | IngestError]]:
    """Add each file's calls to the store ``db``, one file after the other.

    Each file is its own all-or-nothing unit: a refused file does not stop the
    next one.  The store is created with the contract's schema when missing.

    Parameters
    ----------
    db
        The store (a SQLite file).
    files
        CSV (``.csv``), NDJSON (``.ndjson``, ``.jsonl``) or Parquet (``.parquet``) files.
    batch_rows
        Rows read at a time (memory is bounded by it).
    progress
        Draw a progress bar on stderr.

    Yields
    ------
    tuple[str, IngestResult | IngestError]
        Per file, as given: what was added and skipped, or why it was refused.

    Raises
    ------
    StoreError
        The store cannot be opened or written (not SQLite, no ``calls`` table, locked…).

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> good, bad = os.path.join(folder, "good.csv"), os.path.join(folder, "bad.csv")
    >>> pl.DataFrame({"request_id": ["a", "b", "c"], "ts_ms": [1, 2, 3], "role": "buyer",
    ...               "api_id": "x", "status_code": [200, 502, 200]}).write_csv(good)
    >>> pl.DataFrame({"request_id": ["d", "e", "f"], "ts_ms": [4, 5, 6], "role": "buyer",
    ...               "api_id": "x", "status_code": [200, 700, 200]}).write_csv(bad)
    >>> for file, outcome in ingest(os.path.join(folder, "store.db"), [good, bad, good]):  # doctest: +ELLIPSIS
    ...     print(os.path.basename(file), outcome)
    good.csv IngestResult(added=3, skipped=0)
    bad.csv ...bad.csv: refused, nothing added: line 3: status_code outside 100..599
    good.csv IngestResult(added=0, skipped=3)
    """
    created = not Path(db).exists()
    accepted = False
    con, columns = _open_store(db)
    try:
        bar = _Progress() if progress else None
        for file in files:
            try:
                result = _ingest_one(con, db, columns, file, batch_rows, bar)
            except IngestError as exc:
                yield str(file), exc
            except sqlite3.Error as exc:
                raise StoreError(f"{db}: {exc}") from None
            else:
                accepted = True
                yield str(file), result
    finally:
        con.close()
        if created and not accepted:
            # Every file was refused: leave no empty store behind, as if nothing had run.
            for leftover in (Path(db), *(Path(f"{db}{suffix}") for suffix in ("-wal", "-shm", "-journal"))):
                leftover.unlink(missing_ok=True)


def ingest_file(db: str | Path, file: str | Path, *, batch_rows: int = BATCH_ROWS) -> IngestResult:
    """Add one file's calls to the store ``db``, all or nothing.

    Parameters
    ----------
    db
        The store (created with the contract's schema when missing).
    file
        A ``.csv``, ``.ndjson``/``.jsonl`` or ``.parquet`` file of calls.
    batch_rows
        Rows read at a time.

    Returns
    -------
    IngestResult
        Rows added, and rows skipped because their ``request_id`` was stored already.

    Raises
    ------
    IngestError
        The file was refused (nothing added); the message names its first bad rows.
    StoreError
        The store cannot be opened or written.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> calls = os.path.join(folder, "calls.ndjson")
    >>> pl.DataFrame({"request_id": ["a", "b", "c"], "ts_ms": [1, 2, 3], "role": "seller",
    ...               "api_id": "x", "status_code": 200, "price_micro": 1000,
    ...               "revenue_micro": 950}).write_ndjson(calls)
    >>> ingest_file(os.path.join(folder, "store.db"), calls)
    IngestResult(added=3, skipped=0)
    >>> ingest_file(os.path.join(folder, "store.db"), calls)
    IngestResult(added=0, skipped=3)
    """
    [(_, outcome)] = ingest(db, [file], batch_rows=batch_rows)
    if isinstance(outcome, IngestError):
        raise outcome
    return outcome
