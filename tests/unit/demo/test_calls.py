"""``demo.calls``: drawn calls keep to their interval, their APIs' windows and the node's downtime."""

from __future__ import annotations

import random
from zoneinfo import ZoneInfo

from ccanalytics.demo.calls import INSERT_CALL, call_rows, draw_calls
from ccanalytics.demo.profiles import APIS, BY_ID, TIMEOUT_MS, Burst
from ccanalytics.units import HOUR_MS

START = 1_795_608_000_000  # 2026-11-25T12:00:00Z, a Wednesday
UTC = ZoneInfo("UTC")


def test_calls_are_sorted_inside_the_interval_and_the_same_for_the_same_seed() -> None:
    calls = draw_calls(random.Random(1), START + 5, START + 3 * HOUR_MS, UTC, apis=APIS)
    times = [c[0] for c in calls]
    assert times == sorted(times) and times[0] >= START + 5 and times[-1] < START + 3 * HOUR_MS
    assert len(calls) > 100  # ~3 300 calls a day at midday rates
    assert draw_calls(random.Random(1), START + 5, START + 3 * HOUR_MS, UTC, apis=APIS) == calls


def test_windows_gaps_and_bursts_shape_the_calls() -> None:
    window = (START + HOUR_MS, START + 2 * HOUR_MS)
    gap = (START, START + HOUR_MS // 2)
    burst = Burst("bb-graphql", START, START + 3 * HOUR_MS, 502)
    calls = draw_calls(
        random.Random(2), START, START + 3 * HOUR_MS, UTC, apis=APIS, bursts=[burst], gaps=[gap],
        windows={"bb-orderbook": window},
    )  # fmt: skip
    assert not [c for c in calls if gap[0] <= c[0] < gap[1]]
    orderbook = [c[0] for c in calls if c[2].api_id == "bb-orderbook"]
    assert orderbook and all(window[0] <= ts < window[1] for ts in orderbook)
    graphql = [c[3] for c in calls if c[2].api_id == "bb-graphql"]
    assert graphql.count(502) > 0.7 * len(graphql)


def test_a_call_is_paid_only_when_it_succeeded_outside_demo_mode_and_504s_wait_for_the_timeout() -> None:
    calls = draw_calls(random.Random(3), START, START + 6 * HOUR_MS, UTC, apis=APIS)
    for _, _, api, status, latency, demo, _, _, price in calls:
        assert price == (api.price_micro if status == 200 and not demo else 0)
        if status == 504:
            assert latency is None or latency > TIMEOUT_MS


def test_rows_are_the_calls_tables_with_uuid7_ids_and_the_sellers_share() -> None:
    api = BY_ID["bb-graphql"]
    calls = [[START, "seller", api, 200, 10.0, 0, "p2p", "c0", api.price_micro]]
    [row] = call_rows(random.Random(4), calls, rename_ms=None)
    assert INSERT_CALL.count("?") == len(row) == 13
    request_id = row[0]
    assert request_id[14] == "7" and int(request_id[:8] + request_id[9:13], 16) == START
    assert row[7:10] == (2_000, 1_900, 0)  # price, revenue (95 %), demo
    assert row[10] is not None and row[10].startswith("0x")  # a paid call has its transaction
    assert call_rows(random.Random(4), [], rename_ms=None) == []
