"""Ingest's readers: CSV, NDJSON and Parquet files as raw batches with an ``_at`` column.

``_at`` is each row's location: its physical line (CSV, NDJSON) or its row
number from 1 (Parquet).  A file that stops being its format raises
``Unreadable`` with the location.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.contract import CALLS
from ccanalytics.ingest.values import BY_NAME, COLUMNS, DEFAULTED

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["READERS", "Reader", "Unreadable", "first_line"]

# Parsing a CSV batch whose quotes never close would swallow the rest of the
# file; past this many bytes the batch is handed to the parser as it is.
_MAX_RECORD_BYTES = 64 * 1024 * 1024


class Unreadable(Exception):
    """The file stops being its format at ``at`` (a line or row number; None when unknown)."""

    def __init__(self, at: int | None, text: str) -> None:
        super().__init__(text)
        self.at = at
        self.text = text


@dataclass
class Reader:
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
            raise Unreadable(None, f"lacks {'column' if len(missing) == 1 else 'columns'} {', '.join(missing)}")
        for name in names:
            if name in BY_NAME and names.count(name) > 1:
                raise Unreadable(None, f"column {name} appears twice")
        self.present = tuple(n for n in names if n in BY_NAME)
        self.ignored = tuple(n for n in names if n not in BY_NAME)


class _CsvReader(Reader):
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
                raise Unreadable(None, "empty file (no header line)")
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
                    raise Unreadable(line, "not valid CSV (its records do not match its lines)")
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
        raise Unreadable(1, "not UTF-8 text") from None
    if "\0" in text:
        raise Unreadable(1, "not text (it holds NUL bytes)")
    try:
        return next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise Unreadable(1, f"not valid CSV ({exc})") from None


def _locate_csv_problem(lines: list[bytes], first: int, width: int, exc: Exception) -> Unreadable:
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
            return Unreadable(number, "not UTF-8 text")
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
                    return Unreadable(number, "not valid CSV (text after a closing quote)")
                elif char == '"' and not at_start:
                    return Unreadable(number, "not valid CSV (a quote inside an unquoted field)")
                elif char == '"':
                    quoted = True
                else:
                    at_start = False
                i += 1
        else:
            fields = text.count(",") + 1
        if not quoted and fields > width:
            return Unreadable(record, f"{fields} fields, the header has {width}")
    if quoted:
        return Unreadable(record, "not valid CSV (a quoted field is never closed)")
    return Unreadable(first, f"not valid CSV ({first_line(exc)})")


_NDJSON_SCHEMA = {c.name: c.dtype for c in COLUMNS}


class _NdjsonReader(Reader):
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
                defaults = [pl.col(n).fill_null(pl.lit(BY_NAME[n].default).cast(raw.schema[n])) for n in DEFAULTED]
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
                raise Unreadable(number, "not UTF-8 text") from None
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
            raise Unreadable(number, problem)
        return lines.select(pl.col("line").str.json_path_match(f"$.{c.name}").alias(c.name) for c in COLUMNS)


class _ParquetReader(Reader):
    """Parquet, read in record batches with pyarrow; each column keeps the file's type."""

    def __init__(self, path: Path, batch_rows: int) -> None:
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, …: all mean "not Parquet"
            raise Unreadable(None, f"not a Parquet file ({first_line(exc)})") from None
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
                    raise Unreadable(row, f"unreadable Parquet data ({first_line(exc)})") from None
                if batch is None:
                    return
                frame = pl.DataFrame(pl.from_arrow(batch))
                frame = frame.with_columns((row + pl.int_range(pl.len(), dtype=pl.Int64)).alias("_at"))
                row += frame.height
                self.progress_done += frame.height
                yield frame
        finally:
            self._file.close()


def first_line(exc: BaseException) -> str:
    """The first line of an error's message, at most 120 characters: what a refusal quotes."""
    text = str(exc).strip().splitlines()
    return text[0][:120] if text else type(exc).__name__


READERS = {".csv": _CsvReader, ".ndjson": _NdjsonReader, ".jsonl": _NdjsonReader, ".parquet": _ParquetReader}
