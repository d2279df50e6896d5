"""The control center's alert rules and the error spikes of the chart (alerts.md), pure polars.

``spike_flags`` marks the chart buckets in which the error-spike rule would
have fired at some instant; ``evaluate`` turns a snapshot's figures into the
five rules of alerts.md, each firing or not, in their order.  No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from ccanalytics.units import BACKUP_OVERDUE_MS, eth_text, usdc_text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ccanalytics.settings import Settings

__all__ = [
    "RULES",
    "Alert",
    "error_spike",
    "evaluate",
    "lookback_ms",
    "spike_flags",
    "spike_flags_again",
    "spike_flags_by_group",
    "window_text",
]

RULES = ("low_usdc", "low_gas", "auto_pause", "backup_overdue", "error_spike")
# Every timestamp lies within ±2.6e14 ms (years 1..9999): a longer window holds all
# of them, and a shorter stand-in keeps `ts - window` inside 64 bits.
_WINDOW_CAP_MS = 10**15


@dataclass(frozen=True)
class Alert:
    """One rule at ``now``: whether it fires, where it is delivered, the figures compared."""

    rule: str
    firing: bool
    level: str
    value: str | int | None
    threshold: str | int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "firing": self.firing,
            "level": self.level,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
        }


def _window(settings: Settings) -> int:
    return min(settings.error_spike_window_ms, _WINDOW_CAP_MS)


def lookback_ms(settings: Settings, span_ms: int) -> int:
    """How far before ``now`` raw errors are needed: the window, before a chart spanning ``span_ms``.

    Examples
    --------
    >>> from ccanalytics.settings import Settings
    >>> lookback_ms(Settings(error_spike_window_ms=1000), span_ms=5000)
    6000
    """
    return _window(settings) + span_ms


def spike_flags(
    starts: Sequence[int] | pl.Series,
    now: int,
    error_ts: Sequence[int] | pl.Series,
    settings: Settings,
    end: int | None = None,
) -> pl.Series:
    """Per bucket, whether the error-spike rule fires at some instant of it.

    A bucket starting at ``s`` covers the real instants ``τ`` with
    ``s <= τ < min(next start, now)`` (the last bucket ends at ``min(end, now)``,
    ``now`` without ``end``).  It is marked when, at some such ``τ``, more than
    ``error_spike_errors`` of the ``error_ts`` (one role's errors) satisfy
    ``τ − error_spike_window_ms <= ts < τ``.  That count only rises just after
    an error's time, so it is enough to look at the bucket's start and just
    after each error inside it (see docs/decisions.md).

    Examples
    --------
    >>> from ccanalytics.settings import Settings
    >>> rule = Settings(error_spike_errors=2, error_spike_window_ms=10)
    >>> spike_flags([0, 100, 200], 300, [95, 100, 104], rule).to_list()     # 3 errors within 10 ms
    [False, True, False]
    >>> spike_flags([0, 100, 200], 300, [90, 100, 104], rule).to_list()     # 90 has left by 100+
    [False, False, False]
    >>> spike_flags([0, 100, 200], 300, [94, 97, 99], rule).to_list()       # at 100 all 3 still count
    [True, True, False]
    """
    times = pl.Series("ts", error_ts, dtype=pl.Int64)
    return spike_flags_by_group({"": starts}, now, times, settings, end=end)[""]


# Groups' times are kept apart by this offset: every timestamp lies within ±2.6e14 ms and
# a window is capped at 1e15, so one group's times, windows and edges never reach another's.
_GROUP_SPAN = 2**56


def spike_flags_by_group(
    starts: Mapping[str, Sequence[int] | pl.Series],
    now: int,
    error_ts: pl.Series,
    settings: Settings,
    groups: pl.Series | None = None,
    end: int | None = None,
) -> dict[str, pl.Series]:
    """``spike_flags`` of several groups' buckets at once (the chart's two roles): one pass, two searches.

    ``groups`` names each error's group (a key of ``starts``; errors of other
    groups are left out); without it there must be one group, holding every error.

    Each group's times are shifted by its own offset, so that all buckets and
    errors lie in one sorted line; after each group's buckets a sentinel
    bucket, starting at its last bucket's end, takes the errors that lie in no
    bucket of that group.  The counts at the buckets' starts and just after
    each error are then one binary search, the bucket of each error another.

    Examples
    --------
    >>> from ccanalytics.settings import Settings
    >>> rule = Settings(error_spike_errors=1, error_spike_window_ms=10)
    >>> errors = pl.Series([95, 98, 150, 155]), pl.Series(["a", "a", "b", "b"])
    >>> flags = spike_flags_by_group({"a": [0, 100], "b": [0, 100]}, 200, errors[0], rule, groups=errors[1])
    >>> flags["a"].to_list(), flags["b"].to_list()
    ([True, True], [False, True])
    """
    limit, window = settings.error_spike_errors, _window(settings)
    last_end = now if end is None else min(end, now)
    opened, line = {}, []
    for i, name in enumerate(starts):
        begin = pl.Series("start", starts[name], dtype=pl.Int64)
        # A bucket holds instants when it starts before the next start (the last: its end) and before now.
        following = pl.concat([begin.slice(1), pl.Series([last_end], dtype=pl.Int64)])
        opened[name] = ((begin < following) & (begin < now)).alias("spike")
        sentinel = max(last_end, begin[-1]) if begin.len() else last_end
        line.append(pl.concat([begin, pl.Series([sentinel], dtype=pl.Int64)]) + i * _GROUP_SPAN)
    if limit < 0:  # more than a negative number of errors: at every instant
        return opened
    times = pl.Series("ts", error_ts, dtype=pl.Int64)
    keep = times < now
    if groups is not None:
        for i, name in enumerate(starts):
            mine = groups == name
            if i == 0:
                member, code = mine, times
            else:
                member, code = member | mine, code + mine.cast(pl.Int64) * (i * _GROUP_SPAN)
        times, keep = code, keep & member
    times = times.filter(keep).sort()
    edges = pl.concat(line)
    n, m = edges.len(), times.len()
    # Every count in one binary search (times are integers: "<= x" is "< x + 1"):
    # at τ = a bucket's start s, the errors with s − W <= ts < s;
    # just after an error's time t (τ = t + ε), those with t − W < ts <= t.
    found = times.search_sorted(pl.concat([edges, edges - window, times + 1, times - window + 1]), "left")
    closed = pl.Series([False])
    flags = pl.concat([pl.concat([opened[name], closed]) for name in starts]) & (
        found.slice(0, n) - found.slice(n, n) > limit
    )
    if m:
        after = found.slice(2 * n, m) - found.slice(2 * n + m, m)
        # The bucket of each error (1-based; 0: before every one): an error lies before its bucket's
        # end, as a sentinel takes those after a group's last bucket.  Series operations only: a
        # chart's few thousand errors cost microseconds, where a join and a group cost a millisecond.
        bucket = edges.search_sorted(times, "right")
        peaks = bucket.filter((bucket > 0) & (after > limit)).cast(pl.Int64) - 1
        if peaks.len():
            flags = flags.scatter(peaks, True)  # a sentinel's mark is cut off below
    out, at = {}, 0
    for name in starts:
        out[name] = flags.slice(at, opened[name].len()).alias("spike")
        at += opened[name].len() + 1
    return out


# The last answer of ``spike_flags_again``: (what it read, the flags).
_LAST: tuple[tuple, dict[str, pl.Series]] | None = None


def spike_flags_again(
    starts: Mapping[str, pl.Series], now: int, error_ts: pl.Series, settings: Settings, groups: pl.Series
) -> dict[str, pl.Series]:
    """``spike_flags_by_group``, given again without a pass when nothing it reads changed since the last call.

    Once every error and every bucket start lies before ``now``, the flags no
    longer depend on ``now``: a refresh that brought no new error into the
    chart's hours asks the same question again (two lists compared).

    Examples
    --------
    >>> from ccanalytics.settings import Settings
    >>> rule, starts = Settings(error_spike_errors=1, error_spike_window_ms=10), {"a": pl.Series([0, 100])}
    >>> errors, groups = pl.Series([95, 98]), pl.Series(["a", "a"])
    >>> first = spike_flags_again(starts, 200, errors, rule, groups)
    >>> spike_flags_again(starts, 300, errors, rule, groups) is first, first["a"].to_list()
    (True, [True, True])
    """
    global _LAST
    times = error_ts.to_list()
    hours = tuple((name, tuple(begin.to_list())) for name, begin in starts.items())
    if (times and max(times) >= now) or any(begin and begin[-1] >= now for _, begin in hours):
        return spike_flags_by_group(starts, now, error_ts, settings, groups=groups)
    key = (hours, times, groups.to_list(), settings.error_spike_errors, _window(settings))
    last = _LAST
    if last is not None and last[0] == key:
        return last[1]
    flags = spike_flags_by_group(starts, now, error_ts, settings, groups=groups)
    _LAST = (key, flags)
    return flags


def window_text(window_ms: int) -> str:
    """A window as the message says it: ``5 min``, ``2 h``, ``30 s`` or ``1500 ms``.

    Examples
    --------
    >>> window_text(300_000), window_text(7_200_000), window_text(30_000), window_text(1_500)
    ('5 min', '2 h', '30 s', '1500 ms')
    """
    for unit, size in (("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if window_ms % size == 0:
            return f"{window_ms // size} {unit}"
    return f"{window_ms} ms"


def error_spike(errors: pl.LazyFrame | pl.DataFrame, now: int, settings: Settings) -> tuple[int, pl.DataFrame]:
    """Errors of either role with ``now − error_spike_window_ms <= ts_ms < now``: the count and per API.

    ``errors`` has ``ts_ms`` and ``api_id`` of failed calls; the per-API frame
    (``api_id``, ``errors``) is in the message's order: errors descending, then ``api_id``.

    Examples
    --------
    >>> from ccanalytics.settings import Settings
    >>> errors = pl.LazyFrame({"ts_ms": [0, 1, 2, 3], "api_id": ["b", "a", "b", "a"]})
    >>> count, per_api = error_spike(errors, now=3, settings=Settings(error_spike_window_ms=2))
    >>> count, per_api.rows()
    (2, [('a', 1), ('b', 1)])
    """
    frame = errors.collect() if isinstance(errors, pl.LazyFrame) else errors
    ts = frame["ts_ms"]
    recent = frame["api_id"].filter(ts.is_between(now - _window(settings), now, closed="left"))
    if recent.is_empty():  # the usual case: no frame to build
        return 0, pl.DataFrame(schema={"api_id": recent.dtype, "errors": pl.Int64})
    per_api = (
        recent.value_counts(name="errors")
        .with_columns(pl.col("errors").cast(pl.Int64))
        .sort(["errors", "api_id"], descending=[True, False])
    )
    return int(per_api["errors"].sum()), per_api


def _spike_message(count: int, per_api: pl.DataFrame, settings: Settings) -> str:
    noun = "error" if count == 1 else "errors"
    text = f"{count} {noun} in the last {window_text(settings.error_spike_window_ms)}"
    if count:
        parts = [f"{api} {n}" for api, n in zip(per_api["api_id"].to_list(), per_api["errors"].to_list(), strict=True)]
        text += f" ({', '.join(parts)})"
    return text


def evaluate(
    *,
    now: int,
    settings: Settings,
    usdc_micro: int | None,
    eth_wei: int | None,
    auto_pause: bool,
    backup_overdue: bool,
    last_backup_ms: int | None,
    errors: pl.LazyFrame | pl.DataFrame,
) -> tuple[Alert, ...]:
    """The five rules of alerts.md at ``now``, in their order, firing or not.

    ``auto_pause`` and ``backup_overdue`` are the banners of metrics.md;
    ``errors`` the failed calls (``ts_ms``, ``api_id``) of both roles.

    Examples
    --------
    >>> from ccanalytics.settings import Settings
    >>> errors = pl.LazyFrame({"ts_ms": [1, 2], "api_id": ["a", "a"]})
    >>> alerts = evaluate(now=10, settings=Settings(error_spike_errors=1), usdc_micro=500_000, eth_wei=None,
    ...     auto_pause=True, backup_overdue=True, last_backup_ms=None, errors=errors)
    >>> [(a.rule, a.firing) for a in alerts]
    [('low_usdc', True), ('low_gas', False), ('auto_pause', True), ('backup_overdue', True), ('error_spike', True)]
    >>> alerts[-1].message
    '2 errors in the last 5 min (a 2)'
    """
    usdc, usdc_limit = usdc_text(usdc_micro), usdc_text(settings.low_usdc_threshold_micro)
    eth, eth_limit = eth_text(eth_wei), eth_text(settings.low_gas_threshold_wei)
    low_usdc = usdc_micro is not None and usdc_micro < settings.low_usdc_threshold_micro
    low_gas = eth_wei is not None and eth_wei < settings.low_gas_threshold_wei
    backup_age = None if last_backup_ms is None else now - last_backup_ms
    count, per_api = error_spike(errors, now, settings)

    def alert(rule: str, firing: bool, value: str | int | None, threshold: str | int | None, message: str) -> Alert:
        return Alert(rule, firing, settings.alert_level(rule), value, threshold, message)

    return (
        alert("low_usdc", low_usdc, usdc, usdc_limit, _balance_message("USDC", usdc, usdc_limit, low_usdc)),
        alert("low_gas", low_gas, eth, eth_limit, _balance_message("ETH", eth, eth_limit, low_gas)),
        alert("auto_pause", auto_pause, usdc, usdc_limit, _pause_message(auto_pause, usdc, usdc_limit)),
        alert("backup_overdue", backup_overdue, backup_age, BACKUP_OVERDUE_MS, _backup_message(backup_age)),
        alert("error_spike", count > settings.error_spike_errors, count, settings.error_spike_errors,
              _spike_message(count, per_api, settings)),
    )  # fmt: skip


def _balance_message(unit: str, value: str | None, threshold: str | None, low: bool) -> str:
    if value is None:
        return f"{unit} balance unknown"
    if low:
        return f"Low {unit}: {value} {unit}, below {threshold}"
    return f"{unit} balance {value}, threshold {threshold}"


def _pause_message(on: bool, usdc: str | None, threshold: str | None) -> str:
    if on:
        return f"API serving paused: USDC {usdc} below {threshold}"
    return "API serving not paused"


def _backup_message(age_ms: int | None) -> str:
    if age_ms is None:
        return "No backup yet"
    return f"Last backup {age_ms // 86_400_000} days ago"
