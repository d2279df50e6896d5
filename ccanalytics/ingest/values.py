"""Ingest: turning a file's values into the contract's types, and judging each row.

A value is read from its text (see ``ccanalytics.ingest``); a value that does
not read breaks its column's rule, as a value of the wrong storage class does
in a store.
"""

from __future__ import annotations

import polars as pl

from ccanalytics.contract import CALLS, Column, first_broken_rule

__all__ = ["BY_NAME", "COLUMNS", "DEFAULTED", "MAX_TEXT_CHARS", "clean"]

COLUMNS: tuple[Column, ...] = CALLS.stored
"""Every column of the ``calls`` table, in the store's order: judged and descriptive."""
BY_NAME = {c.name: c for c in COLUMNS}
DEFAULTED = tuple(c.name for c in COLUMNS if c.default is not None)

MAX_TEXT_CHARS = 1000
"""The longest text value a row may hold (an api_name, a tx_hash…); a longer one refuses its row."""


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


def clean(raw: pl.DataFrame) -> pl.DataFrame:
    """The contract's columns of ``raw`` in the contract's dtypes, with ``_at`` and the rule broken.

    Two rules only ingest knows come after the contract's: a ``status_code``
    that is present but not a whole number (``200.0``, ``"abc"``) is "not an
    integer" rather than "outside 100..599", and a text value over
    ``MAX_TEXT_CHARS`` characters refuses its row.
    """
    schema = raw.schema
    status = BY_NAME["status_code"]
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
