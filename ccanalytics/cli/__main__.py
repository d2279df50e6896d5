"""``python -m ccanalytics.cli``: the same command as ``python -m ccanalytics``."""

from __future__ import annotations

import sys

from ccanalytics.cli import main

sys.exit(main())
