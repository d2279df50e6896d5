"""metrics/alerts.py against alerts.md: the five rules at now, the spike window, the chart's spike marks."""

from __future__ import annotations

import polars as pl
import pytest

from ccanalytics.metrics.alerts import error_spike, evaluate, spike_flags, spike_flags_by_group, window_text
from ccanalytics.settings import Settings

NOW = 1_000_000
MIN5 = 300_000
NO_ERRORS = pl.LazyFrame(schema={"ts_ms": pl.Int64, "api_id": pl.String})


def errors(*rows: tuple[int, str]) -> pl.LazyFrame:
    return pl.LazyFrame(rows, schema={"ts_ms": pl.Int64, "api_id": pl.String}, orient="row")


def rules(**given: object) -> dict:
    args = {"now": NOW, "settings": Settings(), "usdc_micro": None, "eth_wei": None, "auto_pause": False}
    args |= {"backup_overdue": False, "last_backup_ms": None, "errors": NO_ERRORS} | given
    return {a.rule: a for a in evaluate(**args)}  # type: ignore[arg-type]


def test_five_rules_in_the_specs_order_none_firing_on_nothing() -> None:
    alerts = evaluate(now=NOW, settings=Settings(), usdc_micro=None, eth_wei=None, auto_pause=False,
                      backup_overdue=False, last_backup_ms=None, errors=NO_ERRORS)  # fmt: skip
    assert [a.rule for a in alerts] == ["low_usdc", "low_gas", "auto_pause", "backup_overdue", "error_spike"]
    assert [a.firing for a in alerts] == [False] * 5
    assert [a.level for a in alerts] == ["panel"] * 5
    assert alerts[-1].to_dict() == {"rule": "error_spike", "firing": False, "level": "panel", "value": 0,
                                    "threshold": 5, "message": "0 errors in the last 5 min"}  # fmt: skip


@pytest.mark.parametrize(("usdc", "firing"), [(999_999, True), (1_000_000, False), (0, True), (None, False)])
def test_low_usdc_fires_below_the_threshold_of_a_known_balance(usdc: int | None, firing: bool) -> None:
    alert = rules(usdc_micro=usdc)["low_usdc"]
    assert alert.firing is firing
    assert (alert.value, alert.threshold) == (None if usdc is None else f"{usdc / 1e6:.6f}", "1.000000")


@pytest.mark.parametrize(("wei", "firing"), [(499_999_999_999_999, True), (500_000_000_000_000, False), (None, False)])
def test_low_gas_fires_below_the_threshold_of_a_known_balance(wei: int | None, firing: bool) -> None:
    alert = rules(eth_wei=wei)["low_gas"]
    assert alert.firing is firing and alert.threshold == "0.000500000000000000"


def test_auto_pause_and_backup_follow_their_banners() -> None:
    alerts = rules(auto_pause=True, backup_overdue=True, last_backup_ms=NOW - 40 * 86_400_000, usdc_micro=5)
    assert alerts["auto_pause"].firing and alerts["auto_pause"].value == "0.000005"
    assert alerts["backup_overdue"].firing and alerts["backup_overdue"].value == 40 * 86_400_000
    assert alerts["backup_overdue"].threshold == 2_592_000_000
    assert rules(backup_overdue=True)["backup_overdue"].value is None  # no backup yet


def test_the_spike_is_more_than_the_limit_within_the_half_open_window() -> None:
    inside = [(NOW - MIN5, "b"), (NOW - 1, "a"), (NOW - 2, "b"), (NOW - 3, "b"), (NOW - 4, "a"), (NOW - 5, "c")]
    outside = [(NOW - MIN5 - 1, "a"), (NOW, "a"), (NOW + 9, "a")]
    spike = rules(errors=errors(*inside, *outside))["error_spike"]
    assert (spike.firing, spike.value, spike.threshold) == (True, 6, 5)
    assert spike.message == "6 errors in the last 5 min (b 3, a 2, c 1)"  # errors descending, then api_id
    assert not rules(errors=errors(*inside[:5]))["error_spike"].firing  # 5 is not more than 5
    assert rules(settings=Settings(error_spike_errors=0), errors=errors((NOW - 1, "a")))["error_spike"].firing


def test_error_spike_of_no_errors() -> None:
    count, per_api = error_spike(NO_ERRORS, NOW, Settings())
    assert count == 0 and per_api.height == 0


def test_levels_come_from_the_settings() -> None:
    settings = Settings(alert_low_usdc="off", alert_error_spike="email+webhook")
    alerts = rules(settings=settings, usdc_micro=0)
    assert (alerts["low_usdc"].firing, alerts["low_usdc"].level) == (True, "off")  # firing is the rule alone
    assert alerts["error_spike"].level == "email+webhook"


@pytest.mark.parametrize(("ms", "text"), [(300_000, "5 min"), (3_600_000, "1 h"), (90_000, "90 s"), (1_001, "1001 ms")])
def test_window_text(ms: int, text: str) -> None:
    assert window_text(ms) == text


def test_a_bucket_is_marked_when_the_rule_fires_at_some_instant_of_it() -> None:
    rule = Settings(error_spike_errors=1, error_spike_window_ms=10)
    starts = [0, 100, 200, 300]
    # Two errors 5 ms apart at 150: fires just after 155, in the second bucket only.
    assert spike_flags(starts, 400, [150, 155], rule).to_list() == [False, True, False, False]
    # Errors at 195 and 199: the window still holds both at 200, the third bucket's start.
    assert spike_flags(starts, 400, [195, 199], rule).to_list() == [False, True, True, False]
    # The last bucket ends at now: an error at now is not yet.
    assert spike_flags(starts, 305, [301, 305], rule).to_list() == [False, False, False, False]
    assert spike_flags(starts, 400, [], rule).to_list() == [False] * 4


def test_error_spike_reads_a_frame_as_a_lazy_frame() -> None:
    frame = pl.DataFrame({"ts_ms": [NOW - 3, NOW - 2, NOW - 1, NOW], "api_id": ["b", "a", "b", "a"]})
    for errors in (frame, frame.lazy()):
        count, per_api = error_spike(errors, NOW, Settings(error_spike_window_ms=3))
        assert (count, per_api.rows()) == (3, [("b", 2), ("a", 1)])
        assert per_api.schema == pl.Schema({"api_id": pl.String, "errors": pl.Int64})
    count, per_api = error_spike(frame, NOW - 100, Settings())
    assert (count, per_api.schema) == (0, pl.Schema({"api_id": pl.String, "errors": pl.Int64}))


def test_spike_flags_by_group_are_each_groups_own_flags() -> None:
    rule = Settings(error_spike_errors=1, error_spike_window_ms=10)
    starts = {"buyer": [100, 200, 300], "seller": [100, 200, 300], "none": []}
    errors = [(195, "buyer"), (199, "buyer"), (150, "seller"), (155, "seller"), (305, "seller"), (306, "other")]
    times = pl.Series([t for t, _ in errors], dtype=pl.Int64)
    groups = pl.Series([g for _, g in errors])
    for now, end in ((400, None), (305, None), (400, 302), (150, None)):
        flags = spike_flags_by_group(starts, now, times, rule, groups=groups, end=end)
        for group, mine in starts.items():
            own = [t for t, g in errors if g == group]
            assert flags[group].to_list() == spike_flags(mine, now, own, rule, end=end).to_list(), (group, now, end)
    marked = spike_flags_by_group(starts, 400, times, rule, groups=groups)
    assert marked["buyer"].to_list() == [True, True, False]  # 195, 199: two within 10 ms, from 199 into 200
    assert marked["seller"].to_list() == [True, False, False]  # 306 of another group does not count


def test_spike_flags_given_again_are_those_computed_whatever_changed():
    from ccanalytics.metrics.alerts import spike_flags_again, spike_flags_by_group

    rule = Settings(error_spike_errors=1, error_spike_window_ms=10)
    starts = {"a": pl.Series([0, 100, 200]), "b": pl.Series([0, 100, 200])}
    cases = [
        (300, [95, 98], ["a", "a"]),
        (310, [95, 98], ["a", "a"]),  # the same question at a later now: the same flags, not computed again
        (320, [95, 98, 205], ["a", "a", "b"]),  # a new error
        (330, [95, 98, 205], ["a", "b", "b"]),  # one error of the other role
        (205, [95, 98, 205], ["a", "b", "b"]),  # an error at now: computed, not given again
    ]
    for now, times, groups in cases:
        errors, roles = pl.Series(times), pl.Series(groups)
        again = spike_flags_again(starts, now, errors, rule, roles)
        fresh = spike_flags_by_group(starts, now, errors, rule, groups=roles)
        assert {k: v.to_list() for k, v in again.items()} == {k: v.to_list() for k, v in fresh.items()}
    rule = Settings(error_spike_errors=0, error_spike_window_ms=10)  # another rule: computed again
    assert spike_flags_again(starts, 330, errors, rule, roles)["a"].to_list() == [True, True, False]
