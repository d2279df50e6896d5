"""The store: the control center's SQLite file read incrementally, and the cache between processes.

``open_store`` is the way in; ``sqlite`` holds the read-only connection and its
clean-value SQL, ``cache`` the ledger kept between processes.
"""

from __future__ import annotations

from ccanalytics.store.store import Store, open_store

__all__ = ["Store", "open_store"]
