"""ccanalytics: the Dashboard of an API-marketplace control center.

>>> import ccanalytics as cc
>>> store = cc.open_store("store.db")      # doctest: +SKIP
>>> store.snapshot().to_dict()["mode"]      # doctest: +SKIP
'buyer'
"""

from __future__ import annotations

__all__ = []
