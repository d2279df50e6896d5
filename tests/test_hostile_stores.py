"""Stores written by someone else (data-contract.md): the package equals the reference, or refuses in one line."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings

import ccanalytics as cc
from tests.support.reference import assert_snapshots_equal, reference_snapshot
from tests.support.stores import hostile_cases


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=hostile_cases())
def test_a_hostile_store_gives_the_reference_figures(case):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        case.spec.write(path)
        expected = reference_snapshot(path, case.now_ms)
        with cc.open_store(path, cache=False, chunk_rows=case.chunk_rows) as store:
            actual = store.snapshot(now=case.now_ms).to_dict()
        assert_snapshots_equal(actual, expected)
