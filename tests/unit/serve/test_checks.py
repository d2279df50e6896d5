"""ccanalytics.serve.checks: Host names, cross-site requests and the kernel cap, without a server."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ccanalytics.serve import checks
from ccanalytics.serve.checks import GUARD_ENV, Guard, cross_site, default_max_kernels, host_allowed

NAMES = frozenset({"localhost", "127.0.0.1", "::1", "dash.example.org"})


@pytest.mark.parametrize(
    ("host", "wildcard", "allowed"),
    [
        ("localhost:8866", False, True),
        ("LOCALHOST.:8866", False, True),
        ("[::1]:8866", False, True),
        ("127.0.0.2:8866", False, True),  # every loopback address
        ("dash.example.org", False, True),
        ("dash.example.org.evil.example", False, False),
        ("10.0.0.5:8866", False, False),
        ("10.0.0.5:8866", True, True),  # bound to a wildcard: an IP never rebinds
        ("[fe80::1]:8866", True, True),
        ("rebind.example:8866", True, False),
        ("", False, False),
        ("[::1", False, True),
    ],
)
def test_host_allowed(host: str, wildcard: bool, allowed: bool) -> None:
    assert host_allowed(host, NAMES, wildcard) is allowed


@pytest.mark.parametrize(
    ("headers", "cross"),
    [
        ({}, False),
        ({"Sec-Fetch-Site": "none"}, False),
        ({"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8866"}, False),
        ({"Sec-Fetch-Site": "same-site"}, True),
        ({"Origin": "null"}, True),
        ({"Origin": "http://127.0.0.1:9999"}, True),
        ({"Origin": "http://[::1"}, True),  # an Origin that does not parse
    ],
)
def test_cross_site(headers: dict[str, str], cross: bool) -> None:
    assert cross_site(headers, "127.0.0.1:8866") is cross


def test_the_default_cap_follows_memory_and_cores_within_2_to_32() -> None:
    assert default_max_kernels(8 * 2**30, 16) == 10  # 8 GiB / 4 / 200 MB
    assert default_max_kernels(64 * 2**30, 1) == 4
    assert default_max_kernels(0, 1) == 2
    assert 2 <= default_max_kernels() <= 32


def test_an_admitted_page_counts_until_its_kernel_registers() -> None:
    guard = Guard(NAMES, wildcard=False, max_kernels=3)
    manager = SimpleNamespace(_kernels={"warm": 1}, _pending_kernels={})
    guard.kernel_manager = manager
    assert guard.live_kernels() == 1
    guard.admit(1)
    guard.admit(2)
    assert guard.live_kernels() == 3  # a burst is never let past the cap
    manager._kernels["k1"] = 1
    assert guard.live_kernels() == 3  # the first page's kernel is there: it no longer counts twice
    manager._pending_kernels["k2"] = 1
    assert guard.live_kernels() == 3


def test_a_rendered_page_stops_counting_after_the_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(checks.time, "monotonic", lambda: clock[0])
    guard = Guard(NAMES, wildcard=False, max_kernels=3)
    guard.admit(7)
    guard.release(7)
    clock[0] += checks.HOLD_S - 1
    assert guard.live_kernels() == 1
    clock[0] += 2
    assert guard.live_kernels() == 0
    guard.admit(8)  # never rendered: counts for ADMISSION_S
    clock[0] += checks.ADMISSION_S + 1
    assert guard.live_kernels() == 0


def test_the_guard_reads_what_serve_tells_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GUARD_ENV, json.dumps({"hosts": ["Dash.Example.org:443"], "wildcard": True, "max_kernels": 5}))
    guard = Guard.from_env()
    assert "dash.example.org" in guard.hosts and {"localhost", "127.0.0.1", "::1"} <= guard.hosts
    assert guard.wildcard and guard.max_kernels == 5
    monkeypatch.delenv(GUARD_ENV)
    assert Guard.from_env().max_kernels == default_max_kernels()
