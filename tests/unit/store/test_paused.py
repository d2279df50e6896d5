"""``store.paused``: the cycle collector off for a warm refresh, then as it was."""

from __future__ import annotations

import gc

import pytest

from ccanalytics.store.paused import collector_paused


def test_the_collector_is_off_inside_and_on_again_after_even_on_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_without_pause_nothing_changes():
    with collector_paused(pause=False):
        assert gc.isenabled()
