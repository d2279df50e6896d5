"""units.py against metrics.md's JSON: times as ISO-8601 UTC with Z, USDC with 6 decimals, ETH with 18."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ccanalytics.errors import UsageError
from ccanalytics.units import (
    BACKUP_OVERDUE_MS,
    DAY_MS,
    MAX_TS_MS,
    MIN_TS_MS,
    WEEK_MS,
    count_text,
    eth_text,
    iso_utc,
    parse_events,
    parse_now,
    usdc_text,
)

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z


def test_the_spans_of_the_spec() -> None:
    assert (DAY_MS, WEEK_MS, BACKUP_OVERDUE_MS) == (86_400_000, 604_800_000, 2_592_000_000)


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (NOW, "2026-11-25T12:00:00Z"),
        (NOW + 7, "2026-11-25T12:00:00.007Z"),  # milliseconds only when not zero
        (0, "1970-01-01T00:00:00Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (MIN_TS_MS, "0001-01-01T00:00:00Z"),
        (MAX_TS_MS, "9999-12-31T23:59:59.999Z"),
        (None, None),
    ],
)
def test_iso_utc(ms: int | None, text: str | None) -> None:
    assert iso_utc(ms) == text


@pytest.mark.parametrize(
    ("micro", "text"),
    [(1_000, "0.001000"), (0, "0.000000"), (12_500_000, "12.500000"), (2**63 - 1, "9223372036854.775807"),
     (2 * (2**63 - 1), "18446744073709.551614"), (-5, "-0.000005"), (None, None)],
)  # fmt: skip
def test_usdc_text_has_exactly_six_decimals(micro: int | None, text: str | None) -> None:
    assert usdc_text(micro) == text


@pytest.mark.parametrize(
    ("wei", "text"),
    [(0, "0.000000000000000000"), (1, "0.000000000000000001"), (4_200_000_000_000_000, "0.004200000000000000"),
     (10**18, "1.000000000000000000"), (10**77, "1" + "0" * 59 + ".000000000000000000"), (None, None)],
)  # fmt: skip
def test_eth_text_has_exactly_eighteen_decimals(wei: int | None, text: str | None) -> None:
    assert eth_text(wei) == text


def test_count_text_groups_by_three() -> None:
    assert [count_text(n) for n in (0, 999, 1_000, 1_234_567)] == ["0", "999", "1 000", "1 234 567"]


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-25T12:00:00Z",
        "2026-11-25T13:00:00+01:00",
        "2026-11-25T07:00:00-05:00",
        " 1795608000000 ",
        1_795_608_000_000,
        datetime(2026, 11, 25, 12, tzinfo=UTC),
        datetime(2026, 11, 25, 17, 45, tzinfo=timezone(timedelta(hours=5, minutes=45))),
    ],
)
def test_parse_now_reads_every_form_of_one_moment(value: object) -> None:
    assert parse_now(value) == NOW  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["yesterday", "2026-11-25T12:00:00", "2026-11-25", "", "12:00Z", "1e12"])
def test_parse_now_refuses_text_without_a_moment_in_one_line(value: str) -> None:
    with pytest.raises(UsageError, match="now must be ISO-8601 with a time zone") as refused:
        parse_now(value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("value", [str(MAX_TS_MS + 1), str(MIN_TS_MS), "10000-01-01T00:00:00Z"])
def test_parse_now_refuses_moments_outside_the_years_1_to_9999(value: str) -> None:
    with pytest.raises(UsageError):
        parse_now(value)


def test_parse_now_refuses_a_naive_datetime_and_a_bool() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_now(datetime(2026, 11, 25, 12))
    with pytest.raises(TypeError):
        parse_now(True)  # type: ignore[arg-type]


def test_parse_now_of_nothing_is_the_current_time() -> None:
    before = (datetime.now(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert before <= parse_now(None) <= before + 60_000


@pytest.mark.parametrize(("value", "n"), [("0", 0), ("50", 50), (" 7 ", 7), (1_000_000_000, 1_000_000_000)])
def test_parse_events(value: str | int, n: int) -> None:
    assert parse_events(value) == n


@pytest.mark.parametrize("value", ["-1", "1.5", "ten", "", "1000000001", True])
def test_parse_events_refuses_what_is_not_a_count(value: object) -> None:
    with pytest.raises(UsageError, match="events must be 0 or more"):
        parse_events(value)  # type: ignore[arg-type]
