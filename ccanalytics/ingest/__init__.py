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

Modules: ``values`` (a file's values as the contract's types), ``readers``
(CSV, NDJSON, Parquet), ``staging`` (the store's side); this one runs a file
through them.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.errors import CCError, StoreError
from ccanalytics.ingest import staging
from ccanalytics.ingest.readers import READERS, Reader, Unreadable, first_line
from ccanalytics.ingest.values import MAX_TEXT_CHARS, clean

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["BATCH_ROWS", "MAX_TEXT_CHARS", "SHOWN_PROBLEMS", "IngestError", "IngestResult", "ingest", "ingest_file"]

BATCH_ROWS = 20_000
"""Rows (lines) read per batch: bounds memory, and the granularity of the progress bar."""

SHOWN_PROBLEMS = 3
"""How many bad rows a refusal names."""


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
    reader_type = READERS.get(path.suffix.lower())
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
        if staging.disk_full(exc):
            raise IngestError(
                f"{name}: refused, nothing added: the disk is full (SQLITE_FULL); the store is unchanged"
            ) from None
        raise


def _ingest_staged(
    con: sqlite3.Connection,
    db: str | Path,
    columns: tuple[str, ...],
    reader_type: type[Reader],
    path: Path,
    batch_rows: int,
    name: str,
    progress: _Progress | None,
) -> IngestResult:
    con.execute("DROP TABLE IF EXISTS temp.ingest_staged")
    con.execute(staging.STAGE_DDL)
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
        added = staging.copy_staged(con, db, columns)
    finally:
        if progress is not None:
            progress.clear()
        con.execute("DROP TABLE IF EXISTS temp.ingest_staged")
    not_stored = tuple(c for c in reader.present if c not in columns)
    return IngestResult(added, staged - added, (*reader.ignored, *not_stored))


def _stage_file(
    con: sqlite3.Connection,
    reader_type: type[Reader],
    path: Path,
    batch_rows: int,
    name: str,
    progress: _Progress | None,
) -> tuple[Reader | None, list[tuple[int | None, str]]]:
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
            judged = clean(raw)
            bad = judged.filter(pl.col("_rule").is_not_null()).head(SHOWN_PROBLEMS)
            repeats = [
                (at, f"request_id repeats {reader.unit} {first}")
                for at, first in staging.stage(con, judged.filter(pl.col("_rule").is_null()))
            ]
            problems += sorted([*bad.select("_at", "_rule").iter_rows(), *repeats])[:SHOWN_PROBLEMS]
            if progress is not None:
                progress.show(name, reader.progress_done, reader.progress_total)
            if len(problems) >= SHOWN_PROBLEMS:
                break
    except Unreadable as exc:
        problems.append((exc.at, exc.text))
    except OSError as exc:
        problems.append((None, f"cannot read it ({exc.strerror or exc})"))
    except pl.exceptions.PolarsError as exc:  # a type polars cannot hold, say
        problems.append((None, f"unreadable ({first_line(exc)})"))
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
    con, columns = staging.open_store(db)
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
