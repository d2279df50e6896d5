"""settings.py against data-contract.md's settings table and alerts.md's alert settings."""

from __future__ import annotations

import pytest

from ccanalytics.errors import UsageError
from ccanalytics.settings import ALERT_LEVELS, Settings, parse_settings, positive_env

BASE_USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
SEPOLIA_USDC = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"
WALLET = "0x" + "ab" * 20


def test_no_settings_are_the_spec_defaults() -> None:
    settings, issues = parse_settings({})
    assert issues == []
    assert settings == Settings()
    assert (settings.wallet_address, settings.rpc_url, settings.chain_id, settings.usdc_address) == (
        None,
        None,
        8453,
        BASE_USDC,
    )
    assert (settings.low_usdc_threshold_micro, settings.low_gas_threshold_wei) == (1_000_000, 500_000_000_000_000)
    assert (settings.auto_pause_enabled, settings.timezone, settings.panel_url) == (
        True,
        "UTC",
        "https://localhost:3002/panel",
    )
    assert (settings.error_spike_errors, settings.error_spike_window_ms, settings.alert_repeat_ms) == (
        5,
        300_000,
        3_600_000,
    )
    assert {
        settings.alert_level(r) for r in ("low_usdc", "low_gas", "auto_pause", "error_spike", "backup_overdue")
    } == {"panel"}


@pytest.mark.parametrize(("chain_id", "usdc"), [("8453", BASE_USDC), ("84532", SEPOLIA_USDC), ("31337", None)])
def test_the_usdc_address_defaults_by_chain(chain_id: str, usdc: str | None) -> None:
    settings, issues = parse_settings({"chain_id": chain_id})
    assert (settings.chain_id, settings.usdc_address, issues) == (int(chain_id), usdc, [])


def test_valid_values_are_typed() -> None:
    pairs = {
        "wallet_address": WALLET,
        "usdc_address": "0x" + "CD" * 20,
        "rpc_url": "http://127.0.0.1:8545",
        "low_usdc_threshold_micro": "0",
        "auto_pause_enabled": "0",
        "timezone": "Asia/Kathmandu",
        "panel_url": "http://node.local/panel",
        "error_spike_errors": "0",
        "alert_error_spike": "email+webhook",
        "some_future_key": "ignored",
    }
    settings, issues = parse_settings(pairs)
    assert issues == []
    assert (settings.wallet_address, settings.usdc_address, settings.rpc_url) == (
        WALLET,
        "0x" + "CD" * 20,
        pairs["rpc_url"],
    )
    assert (settings.low_usdc_threshold_micro, settings.auto_pause_enabled, settings.timezone) == (
        0,
        False,
        "Asia/Kathmandu",
    )
    assert (settings.error_spike_errors, settings.alert_level("error_spike")) == (0, "email+webhook")


@pytest.mark.parametrize(
    ("key", "value", "issue"),
    [
        ("chain_id", "base", "chain_id is not an integer"),
        ("chain_id", "0", "chain_id is not an integer"),
        ("low_usdc_threshold_micro", "-1", "low_usdc_threshold_micro is not a non-negative integer"),
        ("low_gas_threshold_wei", "1e18", "low_gas_threshold_wei is not a non-negative integer"),
        ("auto_pause_enabled", "yes", "auto_pause_enabled is not 0 or 1"),
        ("timezone", "Mars/Base", "timezone is not a known time zone"),
        ("timezone", " UTC", "timezone is not a known time zone"),
        ("wallet_address", "0x1234", "wallet_address is not an address"),
        ("usdc_address", WALLET + "00", "usdc_address is not an address"),
        ("panel_url", "javascript:alert(1)", "panel_url is not an http(s) URL"),
        ("error_spike_errors", "-3", "error_spike_errors is not a non-negative integer"),
        ("error_spike_window_ms", "0", "error_spike_window_ms is not a positive integer"),
        ("alert_repeat_ms", "0", "alert_repeat_ms is not a positive integer"),
        ("alert_low_gas", "Panel", "alert_low_gas is not off, panel, email, webhook or email+webhook"),
    ],
)
def test_an_invalid_value_keeps_the_default_and_names_its_rule(key: str, value: str, issue: str) -> None:
    settings, issues = parse_settings({key: value})
    assert issues == [issue]
    assert getattr(settings, key) == getattr(Settings(), key)


def test_every_alert_level_is_accepted_and_absent_values_count_as_absent() -> None:
    for level in ALERT_LEVELS:
        assert parse_settings({"alert_low_usdc": level}) == (Settings(alert_low_usdc=level), [])
    assert parse_settings({"timezone": None, "rpc_url": ""}) == (Settings(), [])


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "0", "-2", "two", "1e999"])
def test_an_environment_number_must_be_finite_and_positive(raw: str) -> None:
    with pytest.raises(UsageError, match=rf"^CCANALYTICS_X must be a positive number, not '{raw}'$"):
        positive_env("CCANALYTICS_X", 1.0, float, "a positive number", environ={"CCANALYTICS_X": raw})


def test_an_environment_number_unset_or_empty_is_the_default_and_a_whole_number_stays_whole() -> None:
    assert positive_env("CCANALYTICS_X", 7, int, environ={"CCANALYTICS_X": ""}) == 7
    assert positive_env("CCANALYTICS_X", 7, int, environ={}) == 7
    assert positive_env("CCANALYTICS_X", 7, int, environ={"CCANALYTICS_X": " 12 "}) == 12
    assert positive_env("CCANALYTICS_X", 1.0, environ={"CCANALYTICS_X": "0.5"}) == 0.5
