"""The snapshot equals an independent, naive computation of metrics.md on adversarial stores."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, example, given, settings

import ccanalytics as cc
from tests.support.reference import assert_snapshots_equal, reference_snapshot
from tests.support.stores import Case, StoreSpec, cases

NOW = 1_795_608_000_000


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
@example(case=Case(StoreSpec(), NOW, 50))  # the empty store
def test_snapshot_equals_the_reference(case):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "store.db")
        case.spec.write(path)
        expected = reference_snapshot(path, case.now_ms, case.events)
        with cc.open_store(path) as store:
            actual = store.snapshot(now=case.now_ms, events=case.events).to_dict()
        assert_snapshots_equal(actual, expected)
