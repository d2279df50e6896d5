"""Values as they leave SQLite: texts decoded from bytes, times bounded, declared types' affinities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.contract import INVALID_TEXT, TABLES
from ccanalytics.units import MAX_TS_MS, MIN_TS_MS

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

__all__ = ["AFFINITIES", "STRICT", "affinity", "bounded_times", "columns", "finish", "owned", "wire"]

_TIME_SENTINEL = -(2**63)  # a ts_ms outside years 1-9999, read as "no time"
# The texts whose invalid UTF-8 makes a row bad (key columns), by table.
STRICT = {name: {c.name for c in t.columns if c.strict} for name, t in TABLES.items()}
# The affinities a declared number column may have for its values to be read raw (``Source.conforms``).
AFFINITIES: dict[PolarsDataType, tuple[str, ...]] = {pl.Int64: ("INTEGER",), pl.Float64: ("REAL", "NUMERIC")}


def wire(schema: dict[str, PolarsDataType]) -> dict[str, PolarsDataType]:
    """A schema as rows arrive with their texts read as blobs.

    Examples
    --------
    >>> wire({"ts_ms": pl.Int64, "role": pl.String})
    {'ts_ms': Int64, 'role': Binary}
    """
    return {name: pl.Binary if dtype == pl.String else dtype for name, dtype in schema.items()}


def columns(rows: list[tuple], schema: dict[str, PolarsDataType]) -> pl.DataFrame:
    """Rows as Python's SQLite gives them, as a frame of ``schema``; ``TypeError`` when a value is of another type.

    Built column by column: three times faster than handing polars the rows.

    Examples
    --------
    >>> columns([(1, b"a"), (2, None)], {"n": pl.Int64, "t": pl.Binary})["n"].to_list()
    [1, 2]
    >>> try:
    ...     columns([(1.5,)], {"n": pl.Int64})
    ... except TypeError:
    ...     print("a REAL where an INTEGER belongs")
    a REAL where an INTEGER belongs
    """
    values = zip(*rows, strict=True) if rows else [() for _ in schema]
    return pl.DataFrame([_series(n, v, d) for (n, d), v in zip(schema.items(), values, strict=True)])


def _series(name: str, values: tuple, dtype: PolarsDataType) -> pl.Series:
    """``pl.Series(name, values, dtype=dtype)``, through polars' own constructor when there is one.

    ``pl.Series`` first looks at the values in Python (a first value, dataclasses,
    fallbacks): for a refresh's dozen columns of a thousand values, a third of the
    time it takes (0.4 ms).  The constructors refuse a value of another type alike.
    """
    build = _BUILD.get(dtype)
    if build is None:
        return pl.Series(name, values, dtype=dtype)
    return pl.Series._from_pyseries(build(name, values, True))


def _constructors() -> dict[PolarsDataType, Any]:
    try:  # polars' compiled module (an internal name): without it, pl.Series builds every column
        from polars._plr import PySeries
    except ImportError:
        return {}
    names = {pl.Int64: "new_opt_i64", pl.Float64: "new_opt_f64", pl.String: "new_str", pl.Binary: "new_binary"}
    samples: dict[PolarsDataType, tuple] = {pl.Int64: (1, None), pl.Float64: (1.5, None), pl.String: ("a", None)}
    samples[pl.Binary] = (b"a", None)
    found: dict[PolarsDataType, Any] = {}
    for dtype, name in names.items():
        build = getattr(PySeries, name, None)
        try:  # another polars may name or call it otherwise: then pl.Series builds that column
            same = pl.Series._from_pyseries(build("x", samples[dtype], True)).equals(  # type: ignore[misc]
                pl.Series("x", samples[dtype], dtype=dtype), check_dtypes=True, check_names=True
            )
        except Exception:  # any failure of an internal name means: do not use it
            same = False
        if same:
            found[dtype] = build
    return found


_BUILD = _constructors()


def finish(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    r"""A chunk read as bytes, in the contract's dtypes: texts decoded, times bounded.

    Examples
    --------
    >>> chunk = pl.DataFrame({"ts_ms": [1, 2], "type": [b"startup", b"\xff"], "severity": [b"info", b"info"]})
    >>> finish(chunk, "events")["type"].to_list()
    ['startup', '\ufffd']
    """
    strict = STRICT[table]
    columns = [
        _decode_texts(values, strict=values.name in strict) if values.dtype == pl.Binary else values
        for values in frame.iter_columns()
    ]
    return bounded_times(pl.DataFrame(columns))  # from the columns themselves: cheaper than a query


def owned(frame: pl.DataFrame, since: int | None = None) -> pl.DataFrame:
    """A frame whose texts are written afresh, compactly, for rows to be kept long (with ``since``: if any row is).

    Texts read through ADBC are views into the Arrow buffers of their whole
    chunk (allocated by the driver, every value's bytes, short ones too), and
    a filter or slice keeps those buffers alive: kept as recent rows, 410,000
    calls held 33 MB more than their texts (docs/performance.md, "Memory").
    With ``since``, only a frame with a ``ts_ms`` from then on is rewritten
    (old calls are tallied, and their buffers freed with the chunk).

    Examples
    --------
    >>> owned(pl.DataFrame({"n": [1, 2], "t": ["a" * 20, None]}))["t"].to_list()
    ['aaaaaaaaaaaaaaaaaaaa', None]
    """
    latest = None if since is None else frame["ts_ms"].max()
    if since is not None and (latest is None or latest < since):  # type: ignore[operator]
        return frame
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    return frame.with_columns(pl.concat_str(pl.col(name), pl.lit("")) for name in texts)


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


def bounded_times(frame: pl.DataFrame) -> pl.DataFrame:
    """A ``ts_ms`` outside years 1-9999 has no usable time: it reads as the least integer, which no check accepts.

    Examples
    --------
    >>> bounded_times(pl.DataFrame({"ts_ms": [0, None, 10**18]}))["ts_ms"].to_list()
    [0, None, -9223372036854775808]
    """
    if "ts_ms" not in frame.columns:
        return frame
    low, high = frame["ts_ms"].min(), frame["ts_ms"].max()
    if low is None or (low >= MIN_TS_MS and high <= MAX_TS_MS):  # type: ignore[operator]
        return frame  # every time usable (the usual case): nothing to rewrite
    ts = pl.col("ts_ms")
    return frame.with_columns(
        pl.when(ts.is_between(MIN_TS_MS, MAX_TS_MS) | ts.is_null()).then(ts).otherwise(pl.lit(_TIME_SENTINEL))
    )


def affinity(declared: str) -> str:
    """SQLite's column affinity for a declared type (https://sqlite.org/datatype3.html, 3.1).

    Examples
    --------
    >>> [affinity(t) for t in ("BIGINT", "VARCHAR(8)", "", "DOUBLE", "DECIMAL(10,5)", "POINT")]  # POINT has INT in it
    ['INTEGER', 'TEXT', 'BLOB', 'REAL', 'NUMERIC', 'INTEGER']
    """
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
