"""errors.py: the user-facing errors a caller can catch as one family."""

from __future__ import annotations

from ccanalytics.errors import CCError, StoreError, UsageError


def test_every_user_facing_error_is_a_cc_error_and_a_usage_error_a_value_error() -> None:
    assert issubclass(StoreError, CCError) and issubclass(UsageError, CCError)
    assert issubclass(UsageError, ValueError) and not issubclass(StoreError, ValueError)
    assert str(StoreError("x.db: is not a SQLite database")) == "x.db: is not a SQLite database"
