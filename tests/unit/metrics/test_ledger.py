"""metrics/ledger.py: old calls folded into totals, recent ones kept as rows, the same figures either way."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal

from ccanalytics.metrics import formulas
from ccanalytics.metrics.ledger import REACH_MS, RECENT_SCHEMA, Ledger, Totals

DAY = 86_400_000
NOW = 100 * DAY
HORIZON = NOW - REACH_MS


def rows(*given: dict) -> pl.DataFrame:
    base = {"ts_ms": NOW - 1, "role": "buyer", "api_id": "a", "api_name": None, "request_id": "r"}
    base |= {"status_code": 200, "latency_ms": 10.0, "price_micro": 1_000, "revenue_micro": 0, "consumer": None}
    base |= {"rule": None}
    return pl.DataFrame([base | {"request_id": f"r{i}"} | g for i, g in enumerate(given)], schema=RECENT_SCHEMA)


CALLS = rows(
    {"ts_ms": HORIZON - 50 * DAY, "api_name": "Old A", "price_micro": 7},  # settled from the start
    {"ts_ms": HORIZON - 1, "role": "seller", "revenue_micro": 950},
    {"ts_ms": HORIZON, "api_name": "New A"},  # the horizon's first instant: recent
    {"ts_ms": NOW - DAY, "status_code": 502, "latency_ms": None},
    {"ts_ms": NOW - 5, "api_id": "b", "rule": "status_code outside 100..599", "status_code": 700},
    {"ts_ms": None, "rule": "ts_ms is missing"},  # no time: reported, never recent
    {"ts_ms": NOW + DAY, "price_micro": 99_999},  # the future at NOW
)


def _sorted(frame: pl.DataFrame, *by: str) -> pl.DataFrame:
    return frame.sort(*by).select(sorted(frame.columns))


def expected_totals(now: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """The totals of every call before ``now``, computed from scratch."""
    before = CALLS.filter(pl.col("ts_ms").is_null() | (pl.col("ts_ms") < now))
    tallies = formulas.tally(before.lazy().filter(pl.col("rule").is_null())).collect()
    return tallies, dict(formulas.issue_counts(before.lazy()).collect().rows())


def check(ledger: Ledger, now: int) -> None:
    _, calls, totals = ledger.at(now)
    tallies, issues = expected_totals(now)
    assert_frame_equal(_sorted(totals.tallies, "role", "api_id"), _sorted(tallies, "role", "api_id"))
    assert dict(totals.issues.rows()) == issues
    assert calls.collect()["request_id"].to_list() == ["r2", "r3"]  # recent, valid, before now


def test_the_totals_at_now_are_those_of_every_call_before_it() -> None:
    check(Ledger.empty(HORIZON).add(CALLS), NOW)


def test_adding_in_pieces_and_moving_now_forward_gives_the_same_totals() -> None:
    ledger = Ledger.empty(HORIZON).add(CALLS.head(3))
    ledger, _, _ = ledger.at(NOW - 2 * DAY)  # the totals kept at an earlier now, then moved
    check(ledger.add(CALLS.slice(3)), NOW)


def test_settling_a_later_horizon_folds_rows_in_and_keeps_the_totals() -> None:
    ledger = Ledger.empty(HORIZON - 60 * DAY).add(CALLS).settle(HORIZON)
    assert ledger.horizon == HORIZON and ledger.recent["request_id"].to_list() == ["r2", "r3", "r4", "r6"]
    check(ledger, NOW)
    assert ledger.settle(HORIZON - DAY) is ledger  # an earlier horizon changes nothing


def test_the_latest_name_survives_settling() -> None:
    _, _, totals = Ledger.empty(HORIZON).add(CALLS).at(NOW)
    assert totals.names.select("api_id", "api_name").rows() == [("a", "New A")]


def test_a_ledger_covers_the_windows_that_lie_after_its_horizon() -> None:
    ledger = Ledger.empty(HORIZON)
    assert ledger.covers(NOW) and ledger.covers(HORIZON + REACH_MS)
    assert not ledger.covers(NOW - 1)
    assert ledger.covers(NOW - 1, reach=REACH_MS - 1)


def test_an_empty_ledger_has_empty_totals_and_no_calls() -> None:
    _, calls, totals = Ledger.empty(HORIZON).at(NOW)
    assert calls.collect().height == 0
    for frame in (totals.tallies, totals.names, totals.issues, totals.sketch):
        assert frame.height == 0
    totals = Totals.empty()
    assert totals.plus(rows().clear()) is totals


def test_rows_after_now_are_counted_once_now_passes_them_kept_aside_or_not(monkeypatch) -> None:
    from ccanalytics.metrics import ledger as module

    later = rows({"ts_ms": NOW - DAY + 1, "request_id": "late"}, {"ts_ms": NOW + 2 * DAY, "request_id": "far"})
    every = pl.concat([CALLS.head(4), later])
    for limit in (50_000, 0):  # kept beside the totals, or too many: filtered from the recent rows again
        monkeypatch.setattr(module, "_MAX_AHEAD", limit)
        ledger, _, _ = Ledger.empty(HORIZON).add(CALLS.head(4)).at(NOW - 2 * DAY)
        assert (ledger.ahead is None) == (limit == 0)
        ledger = ledger.add(later)
        for now, calls in ((NOW, 5), (NOW + 3 * DAY, 6)):  # the far call enters only at the second now
            ledger, _, totals = ledger.at(now)
            _, _, scratch = Ledger.empty(HORIZON).add(every).at(now)
            assert totals.tallies["calls"].sum() == scratch.tallies["calls"].sum() == calls
            assert_frame_equal(_sorted(totals.tallies, "role", "api_id"), _sorted(scratch.tallies, "role", "api_id"))


def test_a_refresh_s_small_pieces_are_joined_without_copying_the_rows_read_at_first() -> None:
    first = pl.concat([rows(*({"ts_ms": NOW - DAY + i} for i in range(500))) for _ in range(4)], rechunk=False)
    ledger = Ledger.empty(horizon=HORIZON).add(first)
    for n in range(40):  # forty refreshes of a few calls each
        ledger = ledger.add(rows({"ts_ms": NOW + n}, {"ts_ms": NOW + n, "role": "seller"}))
    lengths = ledger.recent.get_column("ts_ms").chunk_lengths()
    assert len(lengths) <= 33
    assert lengths[:4] == [500] * 4  # the full read's pieces are left as they are
    assert ledger.recent.height == 2_000 + 80
    assert ledger.recent["ts_ms"].to_list()[-2:] == [NOW + 39] * 2
    assert "consumer" not in ledger.recent.columns  # no view asked: consumers are not kept


def test_the_all_time_p95_kept_as_apis_move_is_the_sketch_s_query(monkeypatch) -> None:
    from ccanalytics.metrics import alltime
    from ccanalytics.metrics import ledger as module

    def query(totals: Totals) -> dict:
        p95 = alltime.p95_query(totals.sketch)
        return dict(zip(zip(p95["role"], p95["api_id"], strict=True), p95["p95_latency_ms"], strict=True))

    ledger, _, totals = Ledger.empty(HORIZON).add(CALLS).at(NOW)
    assert totals.p95 == query(totals)
    asked = []
    monkeypatch.setattr(module, "by_group", lambda sketches: asked.append(1))
    moves = [("a", 500.0), ("a", 0.0), ("b", 3.0), ("c", None), ("c", 9.0), ("ab", 1.0)]
    for i, (api, latency) in enumerate(moves):
        given = [
            {"ts_ms": NOW + i, "api_id": a, "latency_ms": latency, "request_id": f"m{k}", "role": role}
            for k in range(50)
            for a in api
            for role in (("buyer", "seller") if len(api) > 1 else ("buyer",))
        ]
        ledger, _, totals = ledger.add(rows(*given)).at(NOW + i + 1)  # entered beyond `upto`: moved, not queried
        assert totals.p95 is not None and totals.p95 == query(totals)
    assert not asked
    assert ("buyer", "c") in totals.p95 and ("seller", "b") in totals.p95
