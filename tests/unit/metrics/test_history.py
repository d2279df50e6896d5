"""A day range's ``History``: its view at every ``now`` it answers for is the from-scratch ``ranged_view``.

Counts, sums, series and consumers exactly; percentiles from merged sketches within 0.5 %
(views.md allows 1 %).
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from ccanalytics.metrics import formulas
from ccanalytics.metrics.consumers import FirstSeen
from ccanalytics.metrics.history import SPAN_MS, VIEWS_REACH_MS, WINDOW_REACH_MS, History
from ccanalytics.metrics.ledger import RECENT_SCHEMA
from ccanalytics.metrics.past import READ, Past
from ccanalytics.metrics.quarters import RID, Quarters
from ccanalytics.metrics.views import ranged_view
from ccanalytics.settings import Settings

DAY, HOUR = 86_400_000, 3_600_000
B = 1_795_608_000_000  # 2026-11-25T12:00:00Z: the history's build
HORIZON = B - 60 * DAY
SPIKE = Settings().error_spike_window_ms
NAMES = formulas.empty_names()
APIS = pl.LazyFrame(schema={"api_id": pl.String, "name": pl.String})
# ts, role, api, status, latency, price, consumer
CALLS = [
    (B - 50 * DAY, "seller", "a", 200, 10.0, 1000, "c1"),  # before both periods: c1 is not new later
    (B - 40 * DAY, "seller", "a", 500, 20.0, 1000, "c2"),  # previous period
    (B - 30 * DAY + HOUR, "seller", "a", 200, 15.0, 1000, "c4"),  # the band at R: previous once now moves on
    (B - 29 * DAY - HOUR, "buyer", "x", 200, 5.0, 300, None),
    (B - 20 * DAY, "seller", "b", 200, 30.0, 2000, "c1"),  # the fixed middle
    (B - HOUR, "seller", "a", 200, 40.0, 1000, "c3"),
]
LATE = (B + HOUR, "seller", "b", 502, 50.0, 2000, "c5")  # a call after the build


def recent(calls: list[tuple]) -> pl.DataFrame:
    rows = [
        {
            "ts_ms": ts,
            "role": role,
            "api_id": api,
            "api_name": None,
            "request_id": f"r{n}",
            "status_code": status,
            "latency_ms": latency,
            "price_micro": price,
            "revenue_micro": price * 95 // 100 if role == "seller" else 0,
            "consumer": consumer,
            "rule": None,
        }
        for n, (ts, role, api, status, latency, price, consumer) in enumerate(calls)
    ]
    return pl.DataFrame({name: [r[name] for r in rows] for name in RECENT_SCHEMA}, schema=RECENT_SCHEMA)


def build() -> History:
    return History.of(
        recent(CALLS),
        FirstSeen.empty(),
        horizon=HORIZON,
        settled_calls=0,
        now=B,
        timezone="UTC",
        range_name="30d",
        spike_window=SPIKE,
    )


def from_scratch(rows: pl.DataFrame, now: int, api: str | None = None) -> dict[str, Any]:
    calls = rows.lazy().select(pl.exclude("rule", "api_name", "request_id"))
    return ranged_view(
        calls, seen=FirstSeen.empty(), horizon=HORIZON, names=NAMES, apis=APIS, now=now, timezone="UTC",
        range_name="30d", api=api,
    )  # fmt: skip


def assert_same(got: Any, want: Any, where: str = "view") -> None:
    """Equal, but percentiles within 0.5 % and without the spike flags (the history adds them)."""
    if isinstance(want, dict):
        assert set(got) - {"spike"} == set(want), where
        for key in want:
            if key.startswith("p") and key.endswith("_latency_ms") and want[key] is not None:
                assert got[key] == pytest.approx(want[key], rel=0.005), f"{where}.{key}"
            else:
                assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert len(got) == len(want), where
        for n, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{n}]")
    elif isinstance(want, float) and isinstance(got, float):  # averages: summed in another order
        assert got == pytest.approx(want, rel=1e-9), where
    else:
        assert got == want, where


@pytest.mark.parametrize("api", [None, "a", "b"])
def test_the_view_two_hours_later_with_a_late_call_is_the_from_scratch_one(api: str | None) -> None:
    rows = recent([*CALLS, LATE])
    now = B + 2 * HOUR
    view = build().view(rows, now, api, NAMES, APIS, Settings(), FirstSeen.empty())
    assert_same(view, from_scratch(rows, now, api))


def test_the_literal_figures_two_hours_later() -> None:
    view = build().view(recent([*CALLS, LATE]), B + 2 * HOUR, None, NAMES, APIS, Settings(), FirstSeen.empty())
    seller = view["seller"]
    assert (seller["calls"], seller["usdc"], seller["previous"]["calls"]) == (3, "0.004750", 3)
    assert seller["new_consumers"] == 2  # c3 and c5; c1 called 50 days ago
    assert [c["consumer"] for c in seller["top_consumers"]] == ["c1", "c5", "c3"]
    assert view["buyer"]["calls"] == 1
    assert all(set(bucket) == {"start", "success", "error", "spike"} for bucket in seller["series"])


def test_it_answers_only_within_its_span_for_the_same_state() -> None:
    history, rows = build(), len(CALLS)
    assert history.answers(B, "UTC", "30d", SPIKE, HORIZON, 0, rows)
    assert history.answers(B + SPAN_MS - 1, "UTC", "30d", SPIKE, HORIZON, 0, rows + 1)
    assert not history.answers(B + SPAN_MS, "UTC", "30d", SPIKE, HORIZON, 0, rows)
    assert not history.answers(B - 1, "UTC", "30d", SPIKE, HORIZON, 0, rows)
    assert not history.answers(B, "UTC", "90d", SPIKE, HORIZON, 0, rows)
    assert not history.answers(B, "Europe/Berlin", "30d", SPIKE, HORIZON, 0, rows)
    assert not history.answers(B, "UTC", "30d", SPIKE, HORIZON, 1, rows)  # more calls settled since
    assert not history.answers(B, "UTC", "30d", SPIKE, HORIZON, 0, rows - 1)  # fewer rows: another ledger


def test_no_calls_at_all() -> None:
    empty = recent([])
    history = History.of(
        empty, FirstSeen.empty(), horizon=HORIZON, settled_calls=0, now=B, timezone="UTC", range_name="30d",
        spike_window=SPIKE,
    )  # fmt: skip
    view = history.view(empty, B + HOUR, None, NAMES, APIS, Settings(), FirstSeen.empty())
    assert_same(view, from_scratch(empty, B + HOUR))
    assert view["seller"]["calls"] == 0
    assert view["seller"]["top_consumers"] == []


# A history whose settled part (before the ledger's horizon) is kept as quarters and read back as rows.
SETTLED_HORIZON = B - 15 * DAY


def many_calls(seed: int, name: str = "c") -> list[tuple]:
    """Calls over 200 days: few consumers, so that they come back; ties in revenue; zero and null latencies."""
    import random

    rng = random.Random(seed)
    calls = []
    for _ in range(600):
        ts = B - rng.randrange(200 * DAY)
        role = rng.choice(["seller", "seller", "buyer"])
        consumer = rng.choice([f"{name}{i:02d}" for i in range(40)]) if role == "seller" else None
        latency = rng.choice([None, 0.0, rng.uniform(1, 3000)])
        calls.append((ts, role, rng.choice("ab"), rng.choice([200, 200, 502]), latency, 1000, consumer))
    return sorted(calls)


def settled_parts(rows: pl.DataFrame) -> tuple[pl.DataFrame, FirstSeen, Past]:
    """The ledger's view of ``rows`` with horizon ``SETTLED_HORIZON``: recent rows, first calls, the past."""
    with_rid = rows.with_row_index(RID, offset=1).with_columns(pl.col(RID).cast(pl.Int64))
    old = with_rid.filter(pl.col("ts_ms") < SETTLED_HORIZON)
    quarters = Quarters.empty(SETTLED_HORIZON - VIEWS_REACH_MS, SETTLED_HORIZON - WINDOW_REACH_MS)
    quarters = quarters.plus(old.head(100), with_rid.head(300)).plus(old.slice(100), with_rid.slice(300)).merged()
    reads = []

    def reader(first: int, last: int, start: int, end: int) -> pl.DataFrame:
        reads.append((first, last))
        inside = pl.col(RID).is_between(first, last) & pl.col("ts_ms").is_between(start, end, closed="left")
        return with_rid.filter(inside & pl.col("rule").is_null()).select(READ)

    seen = FirstSeen.empty(cut=SETTLED_HORIZON - WINDOW_REACH_MS).plus(old.drop(RID)).merged()
    assert seen.old_consumers.len() > 0  # first calls more than 90 days before the horizon: kept as keys
    recent_rows = rows.filter(pl.col("ts_ms") >= SETTLED_HORIZON)
    return recent_rows, seen, Past(quarters, reader, SETTLED_HORIZON)


@pytest.mark.parametrize(
    ("range_name", "timezone"), [("90d", "UTC"), ("30d", "Asia/Kathmandu"), ("90d", "America/St_Johns")]
)
def test_a_history_from_quarters_and_rows_read_back_is_the_from_scratch_view(range_name: str, timezone: str) -> None:
    # In Newfoundland the consumers share their first 8 bytes: the top ten's ties are ordered by their texts read back.
    calls = many_calls(seed=len(range_name + timezone), name="consumer-" if timezone == "America/St_Johns" else "c")
    rows = recent(calls)
    recent_rows, seen, past = settled_parts(rows)
    history = History.of(
        recent_rows, seen, horizon=SETTLED_HORIZON, settled_calls=0, now=B, timezone=timezone,
        range_name=range_name, spike_window=SPIKE, past=past,
    )  # fmt: skip
    late = (B - 20 * HOUR, "seller", "a", 200, 7.0, 1000, "c77")  # a late call after the build, and a new one
    later = recent([*calls, late, (B + HOUR, "seller", "b", 502, 9.0, 1000, "c01")])
    now_rows = pl.concat([recent_rows, later.tail(2)])
    for now in (B, B + 2 * HOUR, B + SPAN_MS - 1):
        for api in (None, "a"):
            got = history.view(now_rows if now > B else recent_rows, now, api, NAMES, APIS, Settings(), seen)
            everything = later if now > B else rows
            want = ranged_view(
                everything.lazy().select(pl.exclude("rule", "api_name", "request_id")), seen=FirstSeen.empty(),
                horizon=HORIZON, names=NAMES, apis=APIS, now=now, timezone=timezone, range_name=range_name, api=api,
            )  # fmt: skip
            assert_same(got, want, f"view at {now} for {api}")


def test_spike_flags_kept_for_the_buckets_over_are_those_from_scratch_also_after_a_late_error() -> None:
    from ccanalytics.metrics.alerts import spike_flags
    from ccanalytics.metrics.views import RANGES, bucket_starts

    rule = Settings(error_spike_errors=0, error_spike_window_ms=2 * DAY)
    calls = many_calls(seed=3)
    history = History.of(
        recent(calls), FirstSeen.empty(), horizon=B - 200 * DAY, settled_calls=0, now=B, timezone="UTC",
        range_name="30d", spike_window=rule.error_spike_window_ms,
    )  # fmt: skip
    late_error = (B - 10 * DAY - 5, "seller", "a", 502, 1.0, 0, "c01")  # a failed call arriving after the build
    for extra in ([], [late_error]):
        rows = recent([*calls, *extra])
        now = B + HOUR
        view = history.view(rows, now, None, NAMES, APIS, rule, FirstSeen.empty())
        starts = bucket_starts(now, "UTC", RANGES["30d"])
        failed = rows.filter((pl.col("role") == "seller") & ~formulas.succeeded())["ts_ms"].sort()
        want = spike_flags(starts, now, failed, rule).to_list()
        assert [b["spike"] for b in view["seller"]["series"]] == want
        assert any(want) and not all(want)
