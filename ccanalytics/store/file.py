"""A store file before SQLite opens it: the header checked, its read-only URI, a driver's error in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from ccanalytics.errors import StoreError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["BUSY_MS", "check_file", "one_line", "uri"]

_MAGIC = b"SQLite format 3\x00"
BUSY_MS = 5_000  # how long a query waits on a writer's lock


def uri(path: Path) -> str:
    """The file's read-only SQLite URI: the dashboard can never change or lock it.

    Examples
    --------
    >>> from pathlib import Path
    >>> uri(Path("/data/my store.db"))
    'file:/data/my%20store.db?mode=ro'
    """
    return "file:" + quote(str(path.resolve())) + "?mode=ro"


def check_file(path: Path) -> None:
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


def one_line(exc: BaseException) -> str:
    r"""The first line of an error's text (its type's name when it has none).

    Examples
    --------
    >>> one_line(ValueError("disk I/O error\nat page 7")), one_line(KeyError())
    ('disk I/O error', 'KeyError')
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
