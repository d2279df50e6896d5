"""``python -m ccanalytics``: the same as the ``ccanalytics`` command."""

from __future__ import annotations

import sys

from ccanalytics.cli import main

sys.exit(main())
