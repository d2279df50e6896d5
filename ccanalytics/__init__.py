"""ccanalytics: the Dashboard of an API-marketplace control center.

>>> import ccanalytics as cc
>>> store = cc.open_store("store.db")      # doctest: +SKIP
>>> store.snapshot().to_dict()["mode"]      # doctest: +SKIP
'buyer'
"""

from __future__ import annotations

from ccanalytics.contract import create_store
from ccanalytics.errors import CCError, StoreError
from ccanalytics.metrics.snapshot import Snapshot
from ccanalytics.store import Store, open_store

__all__ = ["CCError", "Snapshot", "Store", "StoreError", "create_store", "open_store"]
