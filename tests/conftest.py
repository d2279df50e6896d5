"""Shared test set-up: caches go to a temporary folder, never to the user's."""

from __future__ import annotations

import os
import tempfile

# Set before any test imports ccanalytics: every store opened by the tests (and
# by the CLI processes they start, which inherit it) caches here.
os.environ["CCANALYTICS_CACHE_DIR"] = tempfile.mkdtemp(prefix="ccanalytics-test-cache-")

# The anvil fixture (a real JSON-RPC node) for the chain tests.
pytest_plugins = ["chain_fixtures", "browser_fixtures"]
