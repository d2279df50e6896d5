"""The snapshot's value types that every layer may name: a leaf.

The chain reader fills a ``Balances``, the store reports ``DataIssue`` rows and
the page shows ``READING_NOTE`` while the first chain read is under way; none
of them needs more than the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["READING_NOTE", "Balances", "DataIssue"]

# The note of balances whose first chain read has not answered yet.
READING_NOTE = "reading balances from the chain…"


@dataclass(frozen=True)
class Balances:
    """The wallet's balances and where they come from (``chain``, ``snapshot`` or ``none``)."""

    usdc_micro: int | None = None
    eth_wei: int | None = None
    source: str = "none"
    as_of_ms: int | None = None
    note: str | None = None  # why live balances are not shown; never holds a secret

    @property
    def known(self) -> bool:
        return self.usdc_micro is not None


@dataclass(frozen=True)
class DataIssue:
    """A data-quality rule broken by ``rows`` rows of ``table``."""

    table: str
    rule: str
    rows: int
