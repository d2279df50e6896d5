"""The dashboard's widgets: a snapshot dict in, an ipywidgets page out.

>>> from ccanalytics.ui import live_dashboard
>>> live_dashboard(lambda: store.snapshot().to_dict())   # doctest: +SKIP

:class:`Dashboard` is the page (``update(snapshot_dict)`` sets its values in
place); :class:`Refresher` keeps it fresh while its browser tab is open;
:func:`live_dashboard` wires both, as ``notebooks/dashboard.ipynb`` does.
"""

from __future__ import annotations

from ccanalytics.ui.page import Dashboard
from ccanalytics.ui.refresh import Refresher, live_dashboard, refresh_interval

__all__ = ["Dashboard", "Refresher", "live_dashboard", "refresh_interval"]
