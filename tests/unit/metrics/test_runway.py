"""metrics/runway.py against alerts.md's Runway: the spend rate, the gas burn, the days left."""

from __future__ import annotations

import polars as pl
import pytest

from ccanalytics.metrics.runway import Rate, Runway, days_left, gas_burn, spend_rate

DAY = 86_400_000
WEEK = 7 * DAY
NOW = 100 * DAY


def buyer_calls(*rows: tuple[int, int]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema={"ts_ms": pl.Int64, "price_micro": pl.Int64}, orient="row")


def test_the_spend_rate_runs_from_the_first_buyer_call_of_a_young_node() -> None:
    rate = spend_rate(buyer_calls((NOW - 2 * DAY, 1_000), (NOW - 1, 2_000), (NOW, 99)), earlier_calls=False, now=NOW)
    assert rate == Rate(3_000, 2 * DAY)  # the call at now is not yet
    assert rate.per_day == 1_500


def test_the_spend_rate_spans_the_week_when_calls_are_older() -> None:
    calls = buyer_calls((NOW - WEEK - 1, 50_000), (NOW - WEEK, 700), (NOW - DAY, 700))
    assert spend_rate(calls, earlier_calls=True, now=NOW) == Rate(1_400, WEEK)
    assert spend_rate(buyer_calls(), earlier_calls=True, now=NOW) == Rate(0, WEEK)  # nothing spent this week


def test_the_spend_rate_needs_24_hours_of_history() -> None:
    assert spend_rate(buyer_calls((NOW - DAY, 5)), earlier_calls=False, now=NOW) == Rate(5, DAY)
    assert spend_rate(buyer_calls((NOW - DAY + 1, 5)), earlier_calls=False, now=NOW) is None
    assert spend_rate(buyer_calls(), earlier_calls=False, now=NOW) is None


def test_the_spend_rate_of_the_largest_amounts_is_exact() -> None:
    big = 2**63 - 1
    rate = spend_rate(buyer_calls((NOW - 2 * DAY, big), (NOW - DAY, big)), earlier_calls=False, now=NOW)
    assert rate == Rate(2 * big, 2 * DAY)


def snapshots(*rows: tuple[int, int, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"ts_ms": pl.Int64, "_rid": pl.Int64, "eth_wei": pl.String}, orient="row")


def test_the_gas_burn_sums_decreases_and_leaves_top_ups_out() -> None:
    rows = snapshots(
        (NOW - 9 * DAY, 1, "100"),  # before the last one at or before now − 7 d: not in the span
        (NOW - WEEK, 2, "90"),  # the span's start
        (NOW - 3 * DAY, 3, "80"),
        (NOW - 2 * DAY, 4, "200"),  # a top-up
        (NOW - DAY, 5, "150"),
        (NOW, 6, "0"),  # now: not yet
    )
    assert gas_burn(rows, NOW) == Rate(10 + 50, 6 * DAY)


def test_the_gas_burn_orders_equal_times_by_rowid() -> None:
    rows = snapshots((NOW - 2 * DAY, 2, "50"), (NOW - 2 * DAY, 1, "80"), (NOW - DAY, 3, "40"))
    assert gas_burn(rows, NOW) == Rate(30 + 10, DAY)


def test_the_gas_burn_needs_two_snapshots_a_day_apart() -> None:
    assert gas_burn(snapshots(), NOW) is None
    assert gas_burn(snapshots((NOW - 3 * DAY, 1, "5")), NOW) is None
    assert gas_burn(snapshots((NOW - DAY + 1, 1, "5"), (NOW - 1, 2, "4")), NOW) is None


def test_the_gas_burn_of_balances_wider_than_128_bits_is_exact() -> None:
    huge = 10**60
    assert gas_burn(snapshots((NOW - 2 * DAY, 1, str(huge + 7)), (NOW - DAY, 2, "7")), NOW) == Rate(huge, DAY)


@pytest.mark.parametrize(
    ("balance", "threshold", "rate", "days"),
    [
        (5_000_000, 1_000_000, Rate(2_000_000, 2 * DAY), 4.0),
        (1_000_000, 1_000_000, Rate(2_000_000, DAY), 0.0),  # at the threshold: 0
        (500, 1_000, None, 0.0),  # below it: 0 comes before an unknown rate
        (5_000, 1_000, None, None),
        (5_000, 1_000, Rate(0, WEEK), None),  # nothing spent: no end in sight
        (None, 1_000, Rate(1, DAY), None),
        (3, 0, Rate(2, 3 * DAY), 4.5),  # the exact rate, not its rounded per-day figure
    ],
)
def test_days_left(balance: int | None, threshold: int, rate: Rate | None, days: float | None) -> None:
    assert days_left(balance, threshold, rate) == days


def test_the_runway_json_rounds_the_daily_rates_down() -> None:
    runway = Runway(usdc_days=2.5, spend=Rate(10, 3 * DAY), eth_days=None, gas=Rate(10**18 + 2, 3 * DAY))
    assert runway.to_dict() == {
        "usdc_days": 2.5,
        "spend_per_day_usdc": "0.000003",
        "eth_days": None,
        "gas_per_day_eth": "0.333333333333333334",
    }
    assert Runway().to_dict() == dict.fromkeys(("usdc_days", "spend_per_day_usdc", "eth_days", "gas_per_day_eth"))
