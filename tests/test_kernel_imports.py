"""A dashboard kernel fed by ``serve`` loads no polars: importing what the page imports stays light."""

from __future__ import annotations

import subprocess
import sys

from tests.support.browser_fixtures import REPO

# What notebooks/dashboard.ipynb imports, and the foundation modules the ui reads settings from.
PAGE_IMPORTS = (
    "ccanalytics.serve.sharing",
    "ccanalytics.serve.channel",
    "ccanalytics.ui",
    "ccanalytics.ui.views",
    "ccanalytics.ui.refresh",
    "ccanalytics.settings",
    "ccanalytics.net",
)


def test_the_pages_imports_load_no_polars() -> None:
    code = f"import sys\nfor name in {PAGE_IMPORTS!r}: __import__(name)\nprint(sorted({{'polars'}} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
