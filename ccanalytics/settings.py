"""The store's settings: key/value text turned into typed values with defaults.

An invalid value never breaks the dashboard: the default applies and the
value is reported as a data issue of the ``settings`` table.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ccanalytics.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "REFRESH_DEFAULT_S",
    "REFRESH_MIN_S",
    "USDC_BY_CHAIN",
    "Settings",
    "parse_settings",
    "positive_env",
    "refresh_interval_s",
]

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_UINT = re.compile(r"^[0-9]+$")
ALERT_LEVELS = ("off", "panel", "email", "webhook", "email+webhook")
_LEVEL_RULE = "is not off, panel, email, webhook or email+webhook"


def _positive(value: str) -> bool:
    return bool(_UINT.match(value)) and int(value) > 0


# The USDC contract of each chain whose address a store may leave out (data-contract.md, settings).
USDC_BY_CHAIN = {
    8453: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    84532: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
}


@dataclass(frozen=True)
class Settings:
    """Typed settings of one store (data-contract.md, settings)."""

    wallet_address: str | None = None
    chain_id: int = 8453
    rpc_url: str | None = None
    usdc_address: str | None = USDC_BY_CHAIN[8453]
    low_usdc_threshold_micro: int = 1_000_000
    low_gas_threshold_wei: int = 500_000_000_000_000
    auto_pause_enabled: bool = True
    timezone: str = "UTC"
    panel_url: str = "https://localhost:3002/panel"
    error_spike_errors: int = 5
    error_spike_window_ms: int = 300_000
    alert_low_usdc: str = "panel"
    alert_low_gas: str = "panel"
    alert_auto_pause: str = "panel"
    alert_error_spike: str = "panel"
    alert_backup_overdue: str = "panel"
    alert_webhook_url: str | None = None
    alert_email_to: str | None = None
    alert_smtp_url: str | None = None
    alert_repeat_ms: int = 3_600_000

    def alert_level(self, rule: str) -> str:
        """Where the alert ``rule`` is delivered (``off``, ``panel``, ``email``, ``webhook``, ``email+webhook``)."""
        return str(getattr(self, f"alert_{rule}"))


def _is_zone(name: str) -> bool:
    if not name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# key -> (rule text when invalid, validity check, conversion), in the order their issues are reported
_PARSERS: dict[str, tuple[str, Callable[[str], object], Callable[[str], object]]] = {
    "chain_id": ("chain_id is not an integer", lambda v: _UINT.match(v) and int(v) > 0, int),
    "low_usdc_threshold_micro": ("low_usdc_threshold_micro is not a non-negative integer", _UINT.match, int),
    "low_gas_threshold_wei": ("low_gas_threshold_wei is not a non-negative integer", _UINT.match, int),
    "auto_pause_enabled": ("auto_pause_enabled is not 0 or 1", lambda v: v in ("0", "1"), lambda v: v == "1"),
    "timezone": ("timezone is not a known time zone", _is_zone, str),
    "wallet_address": ("wallet_address is not an address", _ADDRESS.match, str),
    "usdc_address": ("usdc_address is not an address", _ADDRESS.match, str),
    "panel_url": (
        "panel_url is not an http(s) URL",
        lambda v: v.startswith(("http://", "https://")),
        str,
    ),
    "error_spike_errors": ("error_spike_errors is not a non-negative integer", _UINT.match, int),
    "error_spike_window_ms": ("error_spike_window_ms is not a positive integer", _positive, int),
    **{
        f"alert_{rule}": (f"alert_{rule} {_LEVEL_RULE}", lambda v: v in ALERT_LEVELS, str)
        for rule in ("low_usdc", "low_gas", "auto_pause", "error_spike", "backup_overdue")
    },
    "alert_repeat_ms": ("alert_repeat_ms is not a positive integer", _positive, int),
    "rpc_url": ("", lambda v: True, lambda v: v or None),
    **{key: ("", lambda v: True, lambda v: v or None) for key in ("alert_webhook_url", "alert_email_to")},
    "alert_smtp_url": ("", lambda v: True, lambda v: v or None),
}


def parse_settings(pairs: dict[str, str | None]) -> tuple[Settings, list[str]]:
    """Typed settings from the raw key/value pairs, and the rules invalid values broke.

    Unknown keys are ignored; a ``None`` value counts as absent.

    Examples
    --------
    >>> settings, issues = parse_settings({"chain_id": "84532", "timezone": "Mars/Base"})
    >>> settings.chain_id, settings.usdc_address, settings.timezone
    (84532, '0x036CbD53842c5426634e7929541eC2318f3dCF7e', 'UTC')
    >>> issues
    ['timezone is not a known time zone']
    """
    values: dict[str, Any] = {}  # each key's own type: the Settings field of that name
    issues: list[str] = []
    for key, (rule, valid, convert) in _PARSERS.items():
        raw = pairs.get(key)
        if raw is None:
            continue
        if valid(raw):
            values[key] = convert(raw)
        else:
            issues.append(rule)
    if "usdc_address" not in values:
        values["usdc_address"] = USDC_BY_CHAIN.get(values.get("chain_id", 8453))
    return Settings(**values), issues


# -- the environment ----------------------------------------------------------

REFRESH_DEFAULT_S = 30.0
REFRESH_MIN_S = 0.1


def refresh_interval_s(raw: str | None) -> float:
    """Seconds between page refreshes, from the text of ``CCANALYTICS_REFRESH_S`` (unset or empty: 30).

    Any finite positive number is valid; one below 0.1 s is raised to 0.1 s,
    so that a typo cannot spin the kernel.  ``serve`` refuses an invalid value;
    a page started some other way refreshes every 30 s.

    Raises
    ------
    UsageError
        The value is not a finite positive number.

    Examples
    --------
    >>> refresh_interval_s(None), refresh_interval_s(" 2.5 "), refresh_interval_s("0.001")
    (30.0, 2.5, 0.1)
    >>> refresh_interval_s("inf")
    Traceback (most recent call last):
    ...
    ccanalytics.errors.UsageError: CCANALYTICS_REFRESH_S must be a positive number of seconds, not 'inf'
    """
    return max(
        positive_env("CCANALYTICS_REFRESH_S", REFRESH_DEFAULT_S, environ={"CCANALYTICS_REFRESH_S": raw}), REFRESH_MIN_S
    )


_Number = TypeVar("_Number", int, float)


def positive_env(
    name: str,
    default: _Number,
    kind: Callable[[str], _Number] = float,  # type: ignore[assignment]
    what: str = "a positive number of seconds",
    environ: Mapping[str, str | None] | None = None,
) -> _Number:
    """A finite positive number from the environment variable ``name`` (unset or empty: ``default``).

    The one parser of ``serve``'s variables; anything else is a one-line ``UsageError``.

    Examples
    --------
    >>> positive_env("CCANALYTICS_DEMO_SPEED", 1.0, environ={"CCANALYTICS_DEMO_SPEED": "20"})
    20.0
    >>> positive_env("CCANALYTICS_CULL_IDLE_S", 120, int, environ={})
    120
    >>> positive_env("CCANALYTICS_DEMO_SPEED", 1.0, what="a positive number", environ={"CCANALYTICS_DEMO_SPEED": "nan"})
    Traceback (most recent call last):
    ...
    ccanalytics.errors.UsageError: CCANALYTICS_DEMO_SPEED must be a positive number, not 'nan'
    """
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
        valid = math.isfinite(value) and value > 0
    except (ValueError, OverflowError):
        valid = False
    if not valid:
        raise UsageError(f"{name} must be {what}, not {raw!r}")
    return value
