"""Shared test set-up: caches go to a temporary folder, never to the user's.

The helpers live in the :mod:`tests.support` package (import them from there,
``from tests.support.stores import StoreBuilder``); the fixtures of two of them
are registered here as plugins.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile

# Set before any test imports ccanalytics: every store opened by the tests (and
# by the CLI processes they start, which inherit it) caches here; removed when the run ends.
os.environ["CCANALYTICS_CACHE_DIR"] = tempfile.mkdtemp(prefix="ccanalytics-test-cache-")
atexit.register(functools.partial(shutil.rmtree, os.environ["CCANALYTICS_CACHE_DIR"], ignore_errors=True))

# The anvil fixture (a real JSON-RPC node), the browser fixtures (serve + Chromium), and the
# check that every test using them carries the `chain` / `browser` marker.
pytest_plugins = ["tests.support.chain_fixtures", "tests.support.browser_fixtures", "tests.support.markers"]
