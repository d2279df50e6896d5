"""ccanalytics: the Dashboard of an API-marketplace control center.

>>> import ccanalytics as cc
>>> store = cc.open_store("store.db")      # doctest: +SKIP
>>> store.snapshot().to_dict()["mode"]      # doctest: +SKIP
'buyer'

The names below are imported when first used: a dashboard kernel that only
renders (``ccanalytics.ui``, ``ccanalytics.serve.sharing``) never loads polars.
"""

from __future__ import annotations

import typing as _typing

from ccanalytics.errors import CCError, StoreError

if _typing.TYPE_CHECKING:
    from ccanalytics.contract import create_store
    from ccanalytics.metrics.snapshot import Snapshot
    from ccanalytics.store import Store, open_store

__all__ = ["CCError", "Snapshot", "Store", "StoreError", "create_store", "open_store"]


def __getattr__(name: str) -> _typing.Any:
    found: _typing.Any  # a function, a class or a module's attribute, by name
    if name == "create_store":
        from ccanalytics.contract import create_store as found
    elif name == "Snapshot":
        from ccanalytics.metrics.snapshot import Snapshot as found
    elif name in ("Store", "open_store"):
        from ccanalytics import store

        found = getattr(store, name)
    else:
        raise AttributeError(f"module 'ccanalytics' has no attribute {name!r}")
    globals()[name] = found  # once imported, a plain attribute
    return found
