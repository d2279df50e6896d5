"""``net``: one rule for which hosts are this machine's own."""

from __future__ import annotations

import pytest

from ccanalytics.net import is_loopback


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.255.0.9", "::1"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.10", "example.org", "localhost.", "[::1]"])
def test_other_hosts(host: str) -> None:
    assert not is_loopback(host)
