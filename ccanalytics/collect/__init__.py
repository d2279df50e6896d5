"""Recording real traffic into a store: the writer, x402 sellers and buyers (collect.md).

None of it imports x402: the recorder reads x402's headers (base64 JSON), so it
works with any version that speaks the protocol, and ``import ccanalytics``
never needs the ``x402`` extra.
"""

from __future__ import annotations

from ccanalytics.collect.buyer import x402_buyer
from ccanalytics.collect.seller import x402_seller
from ccanalytics.collect.writer import StoreWriter

__all__ = ["StoreWriter", "x402_buyer", "x402_seller"]
