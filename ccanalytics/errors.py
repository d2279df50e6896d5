"""User-facing errors: each carries one line that names the file and the problem."""

from __future__ import annotations

__all__ = ["CCError", "StoreError", "UsageError"]


class CCError(Exception):
    """An error the CLI prints as one line (``ccanalytics: <message>``) before exiting non-zero."""


class StoreError(CCError):
    """The store cannot be read: missing, not SQLite, truncated, or without a ``calls`` table."""


class UsageError(CCError, ValueError):
    """An argument out of its range or form (``--now``, ``--events``): also a ``ValueError``."""
