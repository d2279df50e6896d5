"""The page's downloads (views.md, ``cc-export``): the rows on screen as CSV and as Parquet, in plain Python.

A dashboard kernel renders a few hundred rows at most; importing polars for
them would cost each tab's kernel about 40 MB (docs/performance.md). So the
CSV is Python's ``csv`` and the Parquet file is written here: one row group,
one uncompressed ``PLAIN`` data page per column, every column ``OPTIONAL``
(nulls as definition levels), texts as ``STRING``, whole numbers as ``INT64``,
the rest as ``DOUBLE`` — the types polars writes for the same frame, which any
Parquet reader (polars, pyarrow, DuckDB, Spark) reads back.
"""

from __future__ import annotations

import math
import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["Column", "csv_bytes", "parquet_bytes", "table"]

# A column: (name, kind) with kind "text", "int" or "float".
Column = tuple[str, str]

_PARQUET_TYPE = {"int": 2, "float": 5, "text": 6}  # INT64, DOUBLE, BYTE_ARRAY
_MAGIC = b"PAR1"


def _value(kind: str, value: Any) -> Any:
    """``value`` as the column's kind, or ``None`` when it is not one (as polars' non-strict cast)."""
    if value is None:
        return None
    if kind == "text":
        return value if isinstance(value, str) else str(value)
    if kind == "int":
        if isinstance(value, int):
            return int(value) if -(2**63) <= value < 2**63 else None
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def table(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The rows' values column by column, each of its column's kind (missing keys are nulls).

    Examples
    --------
    >>> table([("api_id", "text"), ("calls", "int"), ("ms", "float")], [{"api_id": "a", "calls": 2, "ms": 3}])
    [['a'], [2], [3.0]]
    """
    return [[_value(kind, row.get(name)) for row in rows] for name, kind in columns]


def csv_bytes(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> bytes:
    r"""A CSV file of ``rows`` as polars writes it: a header, one line per row, a null an empty field.

    A text is quoted when it holds a comma, a quote or a line break, or is empty
    (so an empty text and a null stay apart).

    Examples
    --------
    >>> csv_bytes([("api_id", "text"), ("calls", "int")], [{"api_id": "a,b", "calls": 2}, {"api_id": ""}]).decode()
    'api_id,calls\n"a,b",2\n"",\n'
    """
    lines = [",".join(_csv_field(name) for name, _ in columns)]
    values = table(columns, rows)
    for i in range(len(rows)):
        lines.append(",".join("" if column[i] is None else _csv_field(_csv_text(column[i])) for column in values))
    return "".join(line + "\n" for line in lines).encode()


def _csv_field(text: str) -> str:
    if text == "" or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _csv_text(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return repr(value) if isinstance(value, float) else str(value)


# -- Parquet: Thrift's compact protocol, just what the file's metadata needs ---------------------------------


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _zigzag(n: int) -> bytes:
    return _varint((n << 1) ^ (n >> 63))


class _Struct:
    """A Thrift struct in the compact protocol, fields added in increasing id order."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._last = 0

    def _field(self, fid: int, kind: int) -> None:
        delta = fid - self._last
        self.out += bytes([(delta << 4) | kind]) if 0 < delta <= 15 else bytes([kind]) + _zigzag(fid)
        self._last = fid

    def i32(self, fid: int, value: int) -> _Struct:
        self._field(fid, 5)
        self.out += _zigzag(value)
        return self

    def i64(self, fid: int, value: int) -> _Struct:
        self._field(fid, 6)
        self.out += _zigzag(value)
        return self

    def text(self, fid: int, value: str) -> _Struct:
        raw = value.encode()
        self._field(fid, 8)
        self.out += _varint(len(raw)) + raw
        return self

    def struct(self, fid: int, inner: _Struct) -> _Struct:
        self._field(fid, 12)
        self.out += inner.end()
        return self

    def items(self, fid: int, kind: int, encoded: Sequence[bytes]) -> _Struct:
        """A list of ``kind`` (5: i32, 8: binary, 12: struct) whose elements are already encoded."""
        self._field(fid, 9)
        n = len(encoded)
        self.out += bytes([(n << 4) | kind]) if n < 15 else bytes([0xF0 | kind]) + _varint(n)
        for element in encoded:
            self.out += element
        return self

    def end(self) -> bytes:
        return bytes(self.out) + b"\x00"


def _binary(value: str) -> bytes:
    raw = value.encode()
    return _varint(len(raw)) + raw


def _levels(values: Sequence[Any]) -> bytes:
    """Definition levels (1 present, 0 null) in the RLE/bit-packed hybrid, as runs, with their length first."""
    runs = bytearray()
    i = 0
    while i < len(values):
        present = values[i] is not None
        j = i
        while j < len(values) and (values[j] is not None) == present:
            j += 1
        runs += _varint((j - i) << 1) + bytes([1 if present else 0])
        i = j
    return struct.pack("<I", len(runs)) + bytes(runs)


def _plain(kind: str, values: Sequence[Any]) -> bytes:
    present = [v for v in values if v is not None]
    if kind == "int":
        return struct.pack(f"<{len(present)}q", *present)
    if kind == "float":
        return struct.pack(f"<{len(present)}d", *present)
    return b"".join(struct.pack("<I", len(raw)) + raw for raw in (v.encode("utf-8", "replace") for v in present))


def parquet_bytes(columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> bytes:
    """A Parquet file of ``rows`` (one row group), readable by polars or pyarrow.

    Examples
    --------
    >>> import io, polars as pl
    >>> data = parquet_bytes([("api_id", "text"), ("calls", "int")], [{"api_id": "a", "calls": 2}, {"calls": 3}])
    >>> pl.read_parquet(io.BytesIO(data)).rows()
    [('a', 2), (None, 3)]
    """
    out = bytearray(_MAGIC)
    chunks = []
    for (name, kind), values in zip(columns, table(columns, rows), strict=True):
        data = _levels(values) + _plain(kind, values)
        page = _Struct().i32(1, 0).i32(2, len(data)).i32(3, len(data))
        page.struct(5, _Struct().i32(1, len(values)).i32(2, 0).i32(3, 3).i32(4, 3))
        header = page.end()
        offset = len(out)
        out += header + data
        size = len(header) + len(data)
        meta = _Struct().i32(1, _PARQUET_TYPE[kind]).items(2, 5, [_zigzag(0), _zigzag(3)])
        meta.items(3, 8, [_binary(name)]).i32(4, 0).i64(5, len(values)).i64(6, size).i64(7, size).i64(9, offset)
        chunks.append((_Struct().i64(2, offset).struct(3, meta), size))
    schema = [_Struct().text(4, "schema").i32(5, len(columns)).end()]
    for name, kind in columns:
        element = _Struct().i32(1, _PARQUET_TYPE[kind]).i32(3, 1).text(4, name)
        if kind == "text":
            element.i32(6, 0).struct(10, _Struct().struct(1, _Struct()))  # UTF8 / LogicalType STRING
        schema.append(element.end())
    group = _Struct().items(1, 12, [chunk.end() for chunk, _ in chunks])
    group.i64(2, sum(size for _, size in chunks)).i64(3, len(rows))
    footer = _Struct().i32(1, 1).items(2, 12, schema).i64(3, len(rows)).items(4, 12, [group.end()])
    footer.text(6, "ccanalytics")
    encoded = footer.end()
    out += encoded + struct.pack("<I", len(encoded)) + _MAGIC
    return bytes(out)
