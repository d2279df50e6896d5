"""The tests' helpers, one module each, imported as ``tests.support.<module>``.

- :mod:`~tests.support.stores`: stores written by hand or by hypothesis (the contract's DDL);
- :mod:`~tests.support.reference`: the independent reference implementation of the snapshot;
- :mod:`~tests.support.ui_snapshots`: snapshot dicts for the widget tests (``Snapshot.to_dict()``'s keys);
- :mod:`~tests.support.chain_fixtures`: a real anvil (fixtures registered by ``tests/conftest.py``);
- :mod:`~tests.support.browser_fixtures`: a real ``ccanalytics serve`` and Debian's Chromium (same);
- :mod:`~tests.support.x402_world`: a real x402 market on anvil for the recorder's tests.

The benchmarks import them from here too (``python -m benchmarks.page_load`` from the repository root).
"""
