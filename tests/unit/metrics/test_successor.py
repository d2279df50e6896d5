"""A history's successor: handed over an hour before the span ends, taken when the span is over, exact."""

from __future__ import annotations

from concurrent.futures import Future

from ccanalytics.metrics.consumers import FirstSeen
from ccanalytics.metrics.history import SPAN_MS, History
from ccanalytics.metrics.ledger import Ledger
from ccanalytics.metrics.successor import LEAD_MS, Successor, due, taken
from ccanalytics.settings import Settings
from tests.unit.metrics.test_history import APIS, CALLS, HORIZON, NAMES, B, assert_same, from_scratch, recent


def ledger() -> Ledger:
    rows = recent(CALLS)
    return Ledger(horizon=HORIZON, settled=Ledger.empty(HORIZON).settled, recent=rows, seen=FirstSeen.empty())


def test_a_successor_is_due_in_the_last_hour_of_the_span() -> None:
    history = ledger()._build(B, Settings(), "30d", 0)(None)
    assert not due(history, B + SPAN_MS - LEAD_MS - 1)
    assert due(history, B + SPAN_MS - LEAD_MS)


def test_a_failed_build_or_one_that_does_not_answer_is_not_taken() -> None:
    failed: Future[History] = Future()
    failed.set_exception(RuntimeError("the store changed"))
    assert taken((Successor("30d", B, failed),), "30d", lambda h: True) is None
    built: Future[History] = Future()
    built.set_result(ledger()._build(B, Settings(), "30d", 0)(None))
    assert taken((Successor("30d", B, built),), "30d", lambda h: False) is None
    assert taken((Successor("30d", B, built),), "90d", lambda h: True) is None
    assert taken((Successor("30d", B, built),), "30d", lambda h: True) is built.result()


def test_the_ledger_hands_the_build_over_then_takes_it_past_the_span() -> None:
    handed: list = []

    def later(build) -> Future[History]:  # runs nothing now: the refresh must not wait for it
        future: Future[History] = Future()
        handed.append((build, future))
        return future

    state, settings = ledger(), Settings()
    state, _ = state.view_at(B, settings, "30d", None, NAMES, APIS, later=later)
    state, _ = state.view_at(B + SPAN_MS - LEAD_MS - 1, settings, "30d", None, NAMES, APIS, later=later)
    assert handed == []
    handover = B + SPAN_MS - LEAD_MS
    state, view = state.view_at(handover, settings, "30d", None, NAMES, APIS, later=later)
    assert len(handed) == 1 and state.histories[0].built == B  # the old history answered
    assert_same(view, from_scratch(state.recent, handover))
    build, future = handed[0]
    future.set_result(build(None))  # built "elsewhere", from the ledger as it was at the handover
    for now in (B + SPAN_MS, B + SPAN_MS + LEAD_MS):
        state, view = state.view_at(now, settings, "30d", None, NAMES, APIS, later=later)
        assert state.histories[0] is future.result()
        assert_same(view, from_scratch(state.recent, now))
    assert state.successors == () and len(handed) == 1
